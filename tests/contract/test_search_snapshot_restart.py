"""Search snapshots across in-process restarts: a clean shutdown writes them and the next start loads
them (same answers); a stale, corrupt or missing snapshot is rebuilt from SQLite (same answers)."""

from __future__ import annotations

import json
import random
from typing import Any

from fastapi.testclient import TestClient

from modelnode.api import build_app
from modelnode.config import Settings
from modelnode.services import Services

DIM = 4
MAPPINGS = {
    "properties": {
        "text": {"type": "text"},
        "tag": {"type": "keyword"},
        "n": {"type": "long"},
        "vec": {"type": "knn_vector", "dimension": DIM},
        "sparse": {"type": "rank_features"},
    }
}
QUERIES: list[dict[str, Any]] = [
    {"query": {"match": {"text": "alpha gamma"}}, "size": 20},
    {"query": {"term": {"tag": "beta"}}, "size": 20},
    {"query": {"range": {"n": {"gte": 5, "lt": 30}}}, "sort": [{"n": "desc"}], "size": 50},
    {"query": {"knn": {"vec": {"vector": [0.1] * DIM, "k": 10}}}, "size": 10},
    {"query": {"neural_sparse": {"sparse": {"query_tokens": {"alpha": 1.0, "delta": 2.0}}}}, "size": 20},
]
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def answers(c: TestClient, index: str = "docs") -> list[Any]:
    out = []
    for q in QUERIES:
        hits = c.post(f"/{index}/_search", json=q).json()["hits"]
        out.append((hits["total"], [(h["_id"], h["_score"], h["_source"]) for h in hits["hits"]]))
    return out


def fill(c: TestClient, start: int, n: int) -> None:
    rng = random.Random(start)
    lines = []
    for i in range(start, start + n):
        words = rng.choices(WORDS, k=5)
        lines.append({"index": {"_index": "docs", "_id": str(i)}})
        lines.append(
            {
                "text": " ".join(words),
                "tag": words[0],
                "n": i,
                "vec": [rng.uniform(-1, 1) for _ in range(DIM)],
                "sparse": {w: rng.uniform(0.1, 2) for w in words[:2]},
            }
        )
    body = "\n".join(json.dumps(x) for x in lines) + "\n"
    r = c.post("/_bulk", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and not r.json()["errors"]


def app(settings: Settings) -> tuple[TestClient, Services]:
    svc = Services.open(settings)
    return TestClient(build_app(settings, services=svc)), svc


def test_snapshot_written_on_shutdown_and_loaded_on_start(settings: Settings) -> None:
    client, svc = app(settings)
    with client as c:
        assert c.put("/docs", json={"settings": {"index.knn": True}, "mappings": MAPPINGS}).status_code == 200
        fill(c, 0, 60)
        c.delete("/docs/_doc/3")
        before = answers(c)
    snap = settings.data_dir / "indices" / "docs"
    assert (snap / "meta.json").exists()

    client, svc = app(settings)
    with client as c:
        assert svc.indices.load_report == {"docs": "snapshot"}
        assert answers(c) == before
        # writes after the load, a _flush, then more writes and a crash (no shutdown: stop() never runs)
        fill(c, 100, 10)
        assert c.post("/docs/_flush").json()["_shards"]["failed"] == 0
        fill(c, 200, 10)
        after = answers(c)
        svc.indices.live.clear()  # simulate the crash: nothing left for stop() to write

    client, svc = app(settings)
    with client as c:
        assert svc.indices.load_report["docs"].startswith("rebuilt (stale")
        assert answers(c) == after

    # a corrupt snapshot is rebuilt, never trusted
    for f in snap.glob("f*.npz"):
        f.write_bytes(b"garbage")
    client, svc = app(settings)
    with client as c:
        assert svc.indices.load_report["docs"].startswith("rebuilt (")
        assert "corrupt" in svc.indices.load_report["docs"]
        assert answers(c) == after

    # deleting the index removes its snapshot
    client, svc = app(settings)
    with client as c:
        assert svc.indices.load_report["docs"] == "snapshot"
        assert c.delete("/docs").status_code == 200
        assert not snap.exists()
