"""Retrieval quality and speed of modelnode's search, through the REST API, on BEIR-format sets.

See benchmarks/README.md. Prints one table per dataset and writes every number to --out (JSON).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import ir_measures
import numpy as np
from ir_measures import R, nDCG

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MODELNODE_SHARED", ROOT.parent / "shared"))
DENSE = ("huggingface/sentence-transformers/all-MiniLM-L6-v2", "1.0.2", "ONNX")
SPARSE = ("amazon/neural-sparse/opensearch-neural-sparse-encoding-doc-v2-distill", "1.0.0", "TORCH_SCRIPT")
TOKENIZER = ("amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1", "1.0.1", "TORCH_SCRIPT")
ML = "/_plugins/_ml"
DEPTH = 100


# --- data ---------------------------------------------------------------------------------------


def load_beir(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {}
    for line in (folder / "corpus.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)
        corpus[doc["_id"]] = f"{doc.get('title') or ''} {doc['text']}".strip()
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open(encoding="utf-8"))}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").open(encoding="utf-8"):
        qid, did, grade = line.rstrip("\n").split("\t")[:3]
        if not grade.lstrip("-").isdigit():
            continue  # header line
        if qid in queries:
            qrels.setdefault(qid, {})[did] = int(grade)
    return corpus, {q: t for q, t in queries.items() if q in qrels}, qrels


def evaluate(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    scores = ir_measures.calc_aggregate([nDCG @ 10, R @ 100], qrels, run)
    return {"ndcg@10": scores[nDCG @ 10], "recall@100": scores[R @ 100]}


# --- an independent Lucene-formula BM25 (k1=1.2, b=0.75, Lucene's idf and norm quantisation) ---


def _long_to_int4(i: int) -> int:
    num_bits = i.bit_length()
    if num_bits < 4:
        return i  # subnormal
    shift = num_bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)  # 3 mantissa bits (the 4th is implicit) + shift


def _int4_to_long(i: int) -> int:
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_NUM_FREE_VALUES = 255 - _long_to_int4(2**31 - 1)


def lucene_length(n: int) -> int:
    """A document length after Lucene's one-byte norm (SmallFloat.intToByte4, then byte4ToInt)."""
    if n < _NUM_FREE_VALUES:
        return n
    return _NUM_FREE_VALUES + _int4_to_long(_long_to_int4(n - _NUM_FREE_VALUES))


TOKEN = re.compile(r"\w+", re.UNICODE)


def reference_bm25(corpus: dict[str, str], queries: dict[str, str]) -> dict[str, dict[str, float]]:
    docs = list(corpus)
    tfs = [Counter(t.lower() for t in TOKEN.findall(corpus[d])) for d in docs]
    lengths = np.array([sum(tf.values()) for tf in tfs], dtype=np.float64)
    quantised = np.array([lucene_length(int(n)) for n in lengths], dtype=np.float64)
    avgdl = lengths.mean()
    df = Counter(t for tf in tfs for t in tf)
    n_docs = len(docs)
    k1, b = 1.2, 0.75
    run: dict[str, dict[str, float]] = {}
    for qid, text in queries.items():
        scores = np.zeros(n_docs)
        for term in (t.lower() for t in TOKEN.findall(text)):
            if term not in df:
                continue
            idf = math.log(1 + (n_docs - df[term] + 0.5) / (df[term] + 0.5))
            tf = np.array([tf.get(term, 0) for tf in tfs], dtype=np.float64)
            scores += idf * tf / (tf + k1 * (1 - b + b * quantised / avgdl))
        top = np.argsort(-scores)[:DEPTH]
        run[qid] = {docs[i]: float(scores[i]) for i in top if scores[i] > 0}
    return run


# --- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(repository: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelnode",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir / "data"),
            "--model-repository",
            repository,
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return proc, url
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited; see {data_dir / 'server.log'}") from None
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def ok(r: httpx.Response) -> Any:
    if r.status_code >= 300:
        raise SystemExit(f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text[:500]}")
    return r.json()


def deploy(c: httpx.Client, name: str, version: str, fmt: str) -> str:
    task_id = ok(c.post(f"{ML}/models/_register", json={"name": name, "version": version, "model_format": fmt}))[
        "task_id"
    ]
    while (task := ok(c.get(f"{ML}/tasks/{task_id}")))["state"] in ("CREATED", "RUNNING"):
        time.sleep(0.5)
    if task["state"] != "COMPLETED":
        raise SystemExit(f"registering {name} failed: {task}")
    model_id = task["model_id"]
    task_id = ok(c.post(f"{ML}/models/{model_id}/_deploy"))["task_id"]
    while (task := ok(c.get(f"{ML}/tasks/{task_id}")))["state"] in ("CREATED", "RUNNING"):
        time.sleep(0.5)
    if task["state"] != "COMPLETED":
        raise SystemExit(f"deploying {name} failed: {task}")
    return model_id


def bulk_index(c: httpx.Client, index: str, corpus: dict[str, str], batch: int = 250) -> float:
    """Returns documents per second (ingest pipeline included)."""
    items = list(corpus.items())
    start = time.perf_counter()
    for i in range(0, len(items), batch):
        lines = []
        for doc_id, text in items[i : i + batch]:
            lines.append(json.dumps({"index": {"_index": index, "_id": doc_id}}))
            lines.append(json.dumps({"content": text}))
        body = ok(c.post("/_bulk", content="\n".join(lines) + "\n", headers={"Content-Type": "application/x-ndjson"}))
        if body.get("errors"):
            bad = next(it for it in body["items"] if next(iter(it.values())).get("error"))
            raise SystemExit(f"bulk errors in {index}: {bad}")
    ok(c.post(f"/{index}/_refresh"))
    return len(items) / (time.perf_counter() - start)


def run_queries(
    c: httpx.Client, index: str, queries: dict[str, str], make_body: Any, params: dict[str, str] | None = None
) -> tuple[dict[str, dict[str, float]], list[float]]:
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for qid, text in queries.items():
        start = time.perf_counter()
        body = ok(c.post(f"/{index}/_search", json=make_body(text), params=params or {}))
        latencies.append((time.perf_counter() - start) * 1000)
        run[qid] = {h["_id"]: float(h["_score"]) for h in body["hits"]["hits"]}
    return run, latencies


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


# --- one dataset ----------------------------------------------------------------------------------


def bench(c: httpx.Client, name: str, folder: Path, models: dict[str, str], skip_sparse: bool) -> dict[str, Any]:
    corpus, queries, qrels = load_beir(folder)
    print(f"\n== {name}: {len(corpus)} passages, {len(queries)} judged queries", flush=True)
    dense_index, sparse_index = f"bench-{name}-dense", f"bench-{name}-sparse"
    for index in (dense_index, sparse_index):
        c.delete(f"/{index}")
    ok(
        c.put(
            "/_ingest/pipeline/bench-dense",
            json={
                "processors": [
                    {
                        "text_embedding": {
                            "model_id": models["dense"],
                            "field_map": {"content": "embedding"},
                            "batch_size": 64,
                        }
                    }
                ]
            },
        )
    )
    ok(
        c.put(
            f"/{dense_index}",
            json={
                "settings": {"index.knn": True, "default_pipeline": "bench-dense"},
                "mappings": {
                    "properties": {
                        "content": {"type": "text"},
                        "embedding": {
                            "type": "knn_vector",
                            "dimension": 384,
                            "space_type": "l2",
                            "method": {"name": "hnsw", "engine": "faiss"},
                        },
                    }
                },
            },
        )
    )
    out: dict[str, Any] = {"passages": len(corpus), "queries": len(queries)}
    out["index_docs_per_s"] = {"dense": bulk_index(c, dense_index, corpus)}

    results: dict[str, dict[str, Any]] = {}
    runs = {}
    runs["bm25"], lat = run_queries(
        c, dense_index, queries, lambda q: {"size": DEPTH, "_source": False, "query": {"match": {"content": q}}}
    )
    results["bm25"] = {"latency": lat}
    runs["dense"], lat = run_queries(
        c,
        dense_index,
        queries,
        lambda q: {
            "size": DEPTH,
            "_source": False,
            "query": {"neural": {"embedding": {"query_text": q, "model_id": models["dense"], "k": DEPTH}}},
        },
    )
    results["dense"] = {"latency": lat}
    ok(
        c.put(
            "/_search/pipeline/bench-hybrid",
            json={
                "phase_results_processors": [
                    {
                        "normalization-processor": {
                            "normalization": {"technique": "min_max"},
                            "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.3, 0.7]}},
                        }
                    }
                ]
            },
        )
    )
    runs["hybrid"], lat = run_queries(
        c,
        dense_index,
        queries,
        lambda q: {
            "size": DEPTH,
            "_source": False,
            "query": {
                "hybrid": {
                    "queries": [
                        {"match": {"content": q}},
                        {"neural": {"embedding": {"query_text": q, "model_id": models["dense"], "k": DEPTH}}},
                    ]
                }
            },
        },
        params={"search_pipeline": "bench-hybrid"},
    )
    results["hybrid"] = {"latency": lat}

    if not skip_sparse:
        ok(
            c.put(
                "/_ingest/pipeline/bench-sparse",
                json={
                    "processors": [
                        {
                            "sparse_encoding": {
                                "model_id": models["sparse"],
                                "field_map": {"content": "sparse"},
                                "batch_size": 32,
                            }
                        }
                    ]
                },
            )
        )
        ok(
            c.put(
                f"/{sparse_index}",
                json={
                    "settings": {"default_pipeline": "bench-sparse"},
                    "mappings": {"properties": {"content": {"type": "text"}, "sparse": {"type": "rank_features"}}},
                },
            )
        )
        out["index_docs_per_s"]["sparse"] = bulk_index(c, sparse_index, corpus, batch=100)
        runs["sparse"], lat = run_queries(
            c,
            sparse_index,
            queries,
            lambda q: {
                "size": DEPTH,
                "_source": False,
                "query": {"neural_sparse": {"sparse": {"query_text": q, "model_id": models["tokenizer"]}}},
            },
        )
        results["sparse"] = {"latency": lat}

    for method, run in runs.items():
        results[method].update(evaluate(qrels, run))
        lat = results[method].pop("latency")
        results[method]["latency_ms_p50"] = percentile(lat, 50)
        results[method]["latency_ms_p99"] = percentile(lat, 99)
    base = results["bm25"]["ndcg@10"]
    for method in results:
        results[method]["ndcg@10_vs_bm25"] = results[method]["ndcg@10"] / base if base else float("nan")

    # -- invariants, each against an independent computation on the same data
    checks: dict[str, Any] = {}
    exact_run, ann_recall = exact_dense(c, dense_index, queries, models["dense"], runs["dense"])
    exact = evaluate(qrels, exact_run)["ndcg@10"]
    checks["dense_vs_exact_ndcg@10_diff"] = abs(results["dense"]["ndcg@10"] - exact)
    checks["dense_vs_exact_ok"] = checks["dense_vs_exact_ndcg@10_diff"] <= 0.005
    checks["ann_recall@10"] = ann_recall
    checks["ann_recall_ok"] = ann_recall >= 0.98
    ref = evaluate(qrels, reference_bm25(corpus, queries))["ndcg@10"]
    checks["bm25_vs_lucene_formula_ndcg@10_diff"] = abs(results["bm25"]["ndcg@10"] - ref)
    checks["bm25_vs_lucene_formula_ok"] = checks["bm25_vs_lucene_formula_ndcg@10_diff"] <= 0.01
    out["results"], out["checks"] = results, checks

    print(f"{'method':8} {'NDCG@10':>8} {'vs BM25':>8} {'R@100':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for method, r in results.items():
        print(
            f"{method:8} {r['ndcg@10']:8.4f} {r['ndcg@10_vs_bm25']:8.3f} {r['recall@100']:7.4f} "
            f"{r['latency_ms_p50']:7.1f} {r['latency_ms_p99']:7.1f}"
        )
    for key, value in out["index_docs_per_s"].items():
        print(f"indexing ({key} pipeline): {value:.1f} docs/s")
    for key, value in checks.items():
        print(f"check {key}: {value}")
    return out


def exact_dense(
    c: httpx.Client, index: str, queries: dict[str, str], model_id: str, ann_run: dict[str, dict[str, float]]
) -> tuple[dict[str, dict[str, float]], float]:
    """Brute force over the stored vectors (l2, the index's space) with query vectors from _predict."""
    hits = ok(c.post(f"/{index}/_search", json={"size": 10000, "_source": ["embedding"], "query": {"match_all": {}}}))[
        "hits"
    ]["hits"]
    ids = [h["_id"] for h in hits]
    matrix = np.asarray([h["_source"]["embedding"] for h in hits], dtype=np.float32)  # (n, 384)
    qids = list(queries)
    out = ok(c.post(f"{ML}/_predict/text_embedding/{model_id}", json={"text_docs": [queries[q] for q in qids]}))
    qvecs = np.asarray([r["output"][0]["data"] for r in out["inference_results"]], dtype=np.float32)
    d2 = ((qvecs[:, None, :] - matrix[None, :, :]) ** 2).sum(-1)  # (queries, n) squared l2
    scores = 1 / (1 + d2)
    run, overlap = {}, []
    for qi, qid in enumerate(qids):
        top = np.argsort(-scores[qi])[:DEPTH]
        run[qid] = {ids[i]: float(scores[qi, i]) for i in top}
        exact10 = {ids[i] for i in top[:10]}
        ann10 = set(sorted(ann_run[qid], key=lambda d: -ann_run[qid][d])[:10])
        overlap.append(len(exact10 & ann10) / 10)
    return run, float(np.mean(overlap))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", action="append", help="a BEIR folder (repeatable); default: both in ../shared/data")
    p.add_argument("--url", help="an already running modelnode (or OpenSearch) to use instead of starting one")
    p.add_argument("--model-repository", default=str(Path.home() / ".local/share/modelnode/model-repository"))
    p.add_argument("--skip-sparse", action="store_true", help="skip neural sparse (its ingest is the slow part)")
    p.add_argument("--out", default="benchmark-results.json")
    args = p.parse_args()
    folders = [Path(d) for d in args.data] if args.data else [SHARED / "data" / "msmarco", SHARED / "data" / "dbpedia"]
    proc = None
    tmp = tempfile.TemporaryDirectory(prefix="modelnode-bench-")
    try:
        url = args.url
        if url is None:
            proc, url = start_server(args.model_repository, Path(tmp.name))
        with httpx.Client(base_url=url, timeout=1800) as c:
            models = {"dense": deploy(c, *DENSE)}
            if not args.skip_sparse:
                models["sparse"] = deploy(c, *SPARSE)
                models["tokenizer"] = deploy(c, *TOKENIZER)
            report = {f.name: bench(c, f.name, f, models, args.skip_sparse) for f in folders}
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.out}")
        return 0
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
