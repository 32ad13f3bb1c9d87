"""search.snapshot: a SearchIndex's derived structures saved and loaded instead of re-analysed;
identical results after a round trip, and a stale or corrupt snapshot refused (the caller rebuilds)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelnode.search import snapshot
from modelnode.search.core import SearchIndex, StoredDoc
from modelnode.search.mapping import Mapping, parse_settings
from modelnode.search.query import search
from modelnode.search.snapshot import SnapshotError
from modelnode.search.sparse import SparseField
from modelnode.search.text import KeywordFieldIndex, NumericFieldIndex, TextFieldIndex
from modelnode.search.vector import VectorField

DIM = 6
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
MAPPING = {
    "properties": {
        "title": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
        "body": {"type": "text", "analyzer": "whitespace", "index_options": "freqs"},
        "tags": {"type": "keyword", "normalizer": "lowercase"},
        "flag": {"type": "boolean"},
        "n": {"type": "long"},
        "big": {"type": "unsigned_long"},
        "rating": {"type": "float"},
        "when": {"type": "date"},
        "vec": {"type": "knn_vector", "dimension": DIM, "space_type": "l2"},
        "cos": {"type": "knn_vector", "dimension": DIM, "method": {"name": "hnsw", "space_type": "cosinesimil"}},
        "flat": {"type": "knn_vector", "dimension": DIM, "space_type": "l1"},
        "sparse": {"type": "rank_features"},
        "chunks": {
            "type": "nested",
            "properties": {"emb": {"type": "knn_vector", "dimension": DIM}, "sp": {"type": "rank_features"}},
        },
    }
}


def make_doc(rng: random.Random, i: int) -> dict[str, Any]:
    words = rng.choices(WORDS, k=rng.randint(2, 30))
    return {
        "title": [" ".join(words[:3]), " ".join(words[3:6])] if i % 3 == 0 else " ".join(words[:4]),
        "body": " ".join(words) + " running runs ran",
        "tags": [w.upper() for w in words[:2]],
        "flag": i % 2 == 0,
        "n": i,
        "big": 2**64 - 1 - i if i % 5 == 0 else i,
        "rating": rng.uniform(0, 5),
        "when": f"2024-01-{1 + i % 28:02d}",
        "vec": [rng.uniform(-1, 1) for _ in range(DIM)],
        "cos": [rng.uniform(0.1, 1) for _ in range(DIM)],
        "flat": [rng.uniform(-1, 1) for _ in range(DIM)],
        "sparse": {w: rng.uniform(0.1, 3) for w in set(words[:4])},
        "chunks": [
            {"emb": [rng.uniform(-1, 1) for _ in range(DIM)], "sp": {w: rng.uniform(0.1, 2)}} for w in words[:2]
        ],
    }


def build(n: int = 300, seed: int = 3) -> SearchIndex:
    settings = parse_settings({"index.knn": True})
    mapping = Mapping.parse(MAPPING, settings)
    index = SearchIndex("snap", mapping, settings)
    rng = random.Random(seed)
    seq = 0
    for i in range(n):
        source = make_doc(rng, i)
        mapping.prepare_document(source, str(i))
        index.put(StoredDoc(str(i), source, seq_no=seq))
        seq += 1
    for i in range(0, n, 7):  # updates: a new internal number, a retired slot
        source = make_doc(rng, 10_000 + i)
        index.put(StoredDoc(str(i), source, seq_no=seq, version=2))
        seq += 1
    for i in range(1, n, 11):  # deletes: tombstones in the vector/sparse rows
        index.delete(str(i))
    for f in index.fields.values():
        refresh = getattr(f, "refresh", None)
        if refresh is not None:
            refresh()  # faiss graphs built: serialized in the snapshot
    return index


def rows(index: SearchIndex) -> list[tuple[str, int, int, dict[str, Any]]]:
    docs = sorted((index.doc(n) for n in index.live()), key=lambda d: d.seq_no)
    return [(d.id, d.seq_no, d.version, d.source) for d in docs]


def empty_like(index: SearchIndex) -> SearchIndex:
    settings = parse_settings({"index.knn": True})
    return SearchIndex(index.name, Mapping.parse(MAPPING, settings), settings)


WATERMARK = {"seq_no": 342, "count": 272, "fingerprint": "f"}
rng_q = random.Random(99)
QUERIES: list[dict[str, Any]] = [
    {"query": {"match": {"title": "alpha gamma"}}, "size": 50},
    {"query": {"match": {"body": "run beta"}}, "size": 50},
    {"query": {"match_phrase": {"title": {"query": "beta gamma", "slop": 2}}}, "size": 50},
    {"query": {"match": {"body": "alpha mu"}}, "size": 50, "min_score": 0.5},
    {"query": {"term": {"tags": "alpha"}}, "size": 50},
    {"query": {"term": {"title.raw": "alpha beta gamma"}}},
    {"query": {"prefix": {"tags": "ka"}}, "size": 50},
    {"query": {"term": {"flag": True}}, "size": 10, "sort": [{"n": "desc"}]},
    {"query": {"range": {"n": {"gte": 10, "lt": 60}}}, "size": 100, "sort": [{"rating": "asc"}]},
    {"query": {"range": {"big": {"gte": 2**64 - 200}}}, "size": 100, "sort": [{"big": "desc"}]},
    {"query": {"range": {"when": {"gte": "2024-01-10", "lte": "2024-01-12"}}}, "size": 100},
    {"query": {"exists": {"field": "title"}}, "size": 0},
    {"query": {"knn": {"vec": {"vector": [0.1] * DIM, "k": 20}}}, "size": 20},
    {"query": {"knn": {"cos": {"vector": [0.5, 0.2, 0.1, 0.9, 0.3, 0.3], "k": 15}}}, "size": 15},
    {"query": {"knn": {"flat": {"vector": [0.0] * DIM, "k": 10}}}, "size": 10},
    {"query": {"knn": {"vec": {"vector": [0.3] * DIM, "k": 5, "filter": {"term": {"flag": False}}}}}},
    {"query": {"neural_sparse": {"sparse": {"query_tokens": {"alpha": 1.0, "mu": 2.5}}}}, "size": 50},
    {
        "query": {"nested": {"path": "chunks", "query": {"knn": {"chunks.emb": {"vector": [0.2] * DIM, "k": 10}}}}},
        "size": 10,
    },
    {
        "query": {
            "nested": {"path": "chunks", "query": {"neural_sparse": {"chunks.sp": {"query_tokens": {"beta": 1.0}}}}}
        },
        "size": 30,
    },
    {"query": {"match_all": {}}, "size": 400},
]


def results(index: SearchIndex) -> list[Any]:
    out = [search(index, json.loads(json.dumps(q))) for q in QUERIES]
    for r in out:
        r.pop("took", None)
    return out


@pytest.fixture(scope="module")
def original() -> SearchIndex:
    return build()


@pytest.fixture
def saved(original: SearchIndex, tmp_path: Path) -> Path:
    path = tmp_path / "snap"
    snapshot.save(original, path, WATERMARK)
    return path


def test_round_trip_gives_identical_results_and_scores(original: SearchIndex, saved: Path) -> None:
    kinds = {type(f) for f in original.fields.values()}
    assert {TextFieldIndex, KeywordFieldIndex, NumericFieldIndex, VectorField, SparseField} <= kinds
    assert not list(saved.parent.glob(".tmp-*"))  # the temporary directory was renamed into place
    loaded = empty_like(original)
    snapshot.load(loaded, saved, WATERMARK, rows(original))
    assert len(loaded) == len(original)
    assert results(loaded) == results(original)
    for doc_id in ("0", "5", "14"):
        assert loaded.get(doc_id) == original.get(doc_id)
    # the faiss graph came back rather than being rebuilt
    assert loaded.fields["vec"]._ann is not None  # type: ignore[attr-defined]
    assert loaded.fields["vec"]._ann_rows == original.fields["vec"]._ann_rows  # type: ignore[attr-defined]


def test_loaded_index_keeps_taking_writes_like_the_original(saved: Path) -> None:
    a = build()
    b = empty_like(a)
    snapshot.load(b, saved, WATERMARK, rows(a))
    rng = random.Random(5)
    for i in range(60):
        source = make_doc(rng, 500 + i)
        for index in (a, b):
            s = json.loads(json.dumps(source))
            index.mapping.prepare_document(s, str(i))
            index.put(StoredDoc(str(i * 3), s, seq_no=1000 + i, version=3))
            index.delete(str(i * 5 + 2))
    assert results(b) == results(a)
    # and a second round trip of the changed index
    snapshot.save(b, saved, WATERMARK)
    c = empty_like(a)
    snapshot.load(c, saved, WATERMARK, rows(b))
    assert results(c) == results(a)


def test_overwrite_replaces_atomically(original: SearchIndex, saved: Path) -> None:
    mark = dict(WATERMARK, seq_no=999)
    snapshot.save(original, saved, mark)
    assert snapshot.read_watermark(saved) == mark
    assert sorted(p.name for p in saved.parent.iterdir()) == ["snap"]


@pytest.mark.parametrize(
    "change",
    ["watermark", "seq_no", "version", "missing_doc", "extra_doc"],
)
def test_stale_snapshot_is_refused(original: SearchIndex, saved: Path, change: str) -> None:
    current = rows(original)
    mark = dict(WATERMARK)
    if change == "watermark":
        mark["seq_no"] += 1
    elif change == "seq_no":
        doc_id, seq, ver, src = current[-1]
        current[-1] = (doc_id, seq + 1, ver, src)
    elif change == "version":
        doc_id, seq, ver, src = current[0]
        current[0] = (doc_id, seq, ver + 1, src)
    elif change == "missing_doc":
        current.pop(3)
    else:
        current.append(("new", 10_000, 1, {"title": "x"}))
    with pytest.raises(SnapshotError, match="stale"):
        snapshot.load(empty_like(original), saved, mark, current)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage", ["meta_garbage", "meta_format", "missing_meta", "flip_docs", "flip_field", "truncate", "missing_file"]
)
def test_corrupt_snapshot_is_refused(original: SearchIndex, saved: Path, damage: str) -> None:
    meta = saved / "meta.json"
    fields = sorted(saved.glob("f*.npz"))
    if damage == "meta_garbage":
        meta.write_bytes(b"{not json")
    elif damage == "meta_format":
        body = json.loads(meta.read_bytes())
        body["format"] = 0
        meta.write_text(json.dumps(body))
    elif damage == "missing_meta":
        meta.unlink()
    elif damage == "flip_docs":
        _flip_byte(saved / "docs.npz")
    elif damage == "flip_field":
        _flip_byte(fields[len(fields) // 2])
    elif damage == "truncate":
        f = fields[0]
        f.write_bytes(f.read_bytes()[:100])
    else:
        fields[-1].unlink()
    with pytest.raises(SnapshotError):
        snapshot.load(empty_like(original), saved, WATERMARK, rows(original))


def test_a_field_state_inconsistent_with_its_checksum_still_cannot_load(original: SearchIndex, saved: Path) -> None:
    """Belt and braces: a well-formed file with wrong content (re-checksummed) fails field validation."""
    meta = json.loads((saved / "meta.json").read_bytes())
    path_of = {v["file"]: k for k, v in meta["fields"].items()}
    file = next(f for f, p in path_of.items() if p == "vec")
    with np.load(saved / f"{file}.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["vecs"] = arrays["vecs"][:, :3].copy()  # wrong dimension
    np.savez(saved / f"{file}.npz", **arrays)
    meta["files"][f"{file}.npz"] = snapshot._sha256(saved / f"{file}.npz")
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(SnapshotError, match="vec"):
        snapshot.load(empty_like(original), saved, WATERMARK, rows(original))


def test_unsupported_field_index_is_not_snapshotted(original: SearchIndex, tmp_path: Path) -> None:
    class Plain:
        def add(self, doc: int, values: list[Any]) -> None: ...

        def remove(self, doc: int) -> None: ...

    index = empty_like(original)
    index.fields["x"] = Plain()  # type: ignore[assignment]
    assert not snapshot.supported(index)
    with pytest.raises(SnapshotError, match="Plain"):
        snapshot.save(index, tmp_path / "s", WATERMARK)
    assert not (tmp_path / "s").exists()


def test_strings_survive_exactly() -> None:
    strings = ["", "a", "trailing\x00", "\ud800lone", "ünï", "x" * 1000]
    assert snapshot.unpack_strings(*snapshot.pack_strings(strings)) == strings
