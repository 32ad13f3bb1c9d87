"""Durability of the embedded search engine: kill -9 a real server while a stream of bulk requests is
in flight, restart it on the same data directory, and check that every acknowledged document is
there, that each bulk request is all-or-nothing, and that searches answer exactly as before."""

from __future__ import annotations

import random
import re
import threading
import time
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.slow

NDJSON = {"content-type": "application/x-ndjson"}
DIM = 8
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
]
MAPPINGS = {
    "properties": {
        "text": {"type": "text"},
        "tag": {"type": "keyword"},
        "n": {"type": "long"},
        "vec": {"type": "knn_vector", "dimension": DIM, "space_type": "l2"},
        "cos": {"type": "knn_vector", "dimension": DIM, "space_type": "cosinesimil"},
        "sparse": {"type": "rank_features"},
    }
}


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def make_doc(rng: random.Random, i: int) -> dict[str, Any]:
    words = rng.choices(WORDS, k=rng.randint(3, 12))
    return {
        "text": " ".join(words),
        "tag": words[0],
        "n": i,
        "vec": [round(rng.uniform(-1, 1), 4) for _ in range(DIM)],
        "cos": [round(rng.uniform(0.1, 1), 4) for _ in range(DIM)],
        "sparse": {w: round(rng.uniform(0.1, 3), 3) for w in set(words[:4])},
    }


def bulk_body(index: str, batch: int, docs: list[dict[str, Any]]) -> bytes:
    lines = []
    for i, doc in enumerate(docs):
        lines.append(orjson.dumps({"index": {"_index": index, "_id": f"b{batch}-{i}"}}))
        lines.append(orjson.dumps(doc))
    return b"\n".join(lines) + b"\n"


QUERIES: list[dict[str, Any]] = [
    {"query": {"match": {"text": "alpha gamma"}}, "size": 20},
    {"query": {"match": {"text": {"query": "beta delta epsilon", "operator": "or"}}}, "size": 15, "from": 3},
    {"query": {"bool": {"must": [{"match": {"text": "pi"}}], "filter": [{"term": {"tag": "rho"}}]}}},
    {"query": {"knn": {"vec": {"vector": [0.1] * DIM, "k": 10}}}, "size": 10},
    {"query": {"knn": {"cos": {"vector": [0.5] * DIM, "k": 5}}}},
    {"query": {"neural_sparse": {"sparse": {"query_tokens": {"alpha": 1.0, "tau": 2.5}}}}, "size": 25},
    {"query": {"range": {"n": {"gte": 10, "lt": 40}}}, "sort": [{"n": "desc"}], "size": 50},
    {"query": {"match_all": {}}, "size": 5, "sort": [{"n": "asc"}]},
]


def run_queries(http: httpx.Client, index: str) -> list[Any]:
    out = []
    for q in QUERIES:
        hits = ok(http.post(f"/{index}/_search", json=q))["hits"]
        out.append(
            (hits["total"], hits["max_score"], [(h["_id"], h["_score"], h.get("_source")) for h in hits["hits"]])
        )
    return out


def test_kill_mid_bulk_loses_no_acknowledged_document(server: ServerProcess) -> None:
    http = server.http
    rng = random.Random(7)
    for index in ("stable", "stream"):
        ok(http.put(f"/{index}", json={"settings": {"index.knn": True}, "mappings": MAPPINGS}))

    # an index that only sees acknowledged writes before the crash (with an update and a delete)
    stable_docs = [make_doc(rng, i) for i in range(120)]
    for batch in range(3):
        out = ok(
            http.post(
                "/_bulk", content=bulk_body("stable", batch, stable_docs[batch * 40 : batch * 40 + 40]), headers=NDJSON
            )
        )
        assert out["errors"] is False
    ok(http.post("/stable/_update/b0-1", json={"doc": {"text": "alpha alpha alpha"}}))
    assert http.delete("/stable/_doc/b1-2").status_code == 200
    stable_before = run_queries(http, "stable")
    mapping_before = ok(http.get("/stable/_mapping"))
    # snapshot of the derived search structures: current for "stable" at the crash, stale for "stream"
    assert ok(http.post("/stable/_flush"))["_shards"]["failed"] == 0

    # a stream of bulk requests, killed while one is in flight
    acked: list[tuple[int, int]] = []  # (batch, number of docs)
    sent: list[tuple[int, int]] = []
    stop = threading.Event()
    url = server.url

    def stream() -> None:
        local = random.Random(11)
        with httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
            batch = 0
            while not stop.is_set():
                docs = [make_doc(local, batch * 1000 + i) for i in range(local.randint(50, 150))]
                sent.append((batch, len(docs)))
                try:
                    r = client.post("/_bulk", content=bulk_body("stream", batch, docs), headers=NDJSON)
                except httpx.TransportError:
                    return
                if r.status_code == 200 and not r.json()["errors"]:
                    acked.append((batch, len(docs)))
                batch += 1

    writer = threading.Thread(target=stream, daemon=True)
    writer.start()
    deadline = time.monotonic() + 60
    while len(acked) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ok(http.post("/stream/_flush"))["_shards"]["failed"] == 0
    flushed = len(acked)
    while len(acked) < flushed + 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 8, "the bulk stream did not get going"
    time.sleep(rng.uniform(0.0, 0.05))
    server.kill()  # SIGKILL: no shutdown hook runs
    stop.set()
    writer.join(timeout=30)
    assert not writer.is_alive()

    server.start()
    http = server.http
    log = server.log_text()
    assert "index [stable]: 119 documents loaded from its snapshot" in log, server.log_tail()
    assert "index [stream]:" in log and "rebuilt" in log and "stale" in log, server.log_tail()
    present = {}
    for batch, n in sent:
        ids = [f"b{batch}-{i}" for i in range(n)]
        docs = ok(http.post("/stream/_mget", json={"ids": ids}))["docs"]
        present[batch] = sum(d["found"] for d in docs)
    for batch, n in acked:
        assert present[batch] == n, f"acknowledged bulk {batch} lost documents: {present[batch]}/{n}"
    for batch, n in sent:
        assert present[batch] in (0, n), f"bulk {batch} is half there: {present[batch]}/{n}"
    expected = sum(present.values())
    assert ok(http.get("/stream/_count"))["count"] == expected
    assert expected >= sum(n for _, n in acked)

    # the untouched index answers exactly as before the crash; the stream index answers the same
    # after one more crash and restart
    assert ok(http.get("/stable/_mapping")) == mapping_before
    assert run_queries(http, "stable") == stable_before
    stream_before = run_queries(http, "stream")
    server.restart()
    assert run_queries(server.http, "stream") == stream_before
    assert run_queries(server.http, "stable") == stable_before
    # and it keeps accepting writes, with sequence numbers that continue
    r = server.http.put("/stream/_doc/after", json=make_doc(rng, 10**6))
    assert r.status_code == 201, r.text
    stream_after = run_queries(server.http, "stream")

    # a clean shutdown writes both snapshots; the next start loads them and answers the same
    code, _ = server.terminate(timeout=30)
    assert code == 0
    seen = len(server.log_text())
    server.start()
    log = server.log_text()[seen:]
    assert "index [stable]: 119 documents loaded from its snapshot" in log, server.log_tail()
    assert re.search(r"index \[stream\]: \d+ documents loaded from its snapshot", log), server.log_tail()
    assert run_queries(server.http, "stable") == stable_before
    assert run_queries(server.http, "stream") == stream_after
