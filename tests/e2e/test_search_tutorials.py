"""OpenSearch's search tutorials, run with curl, unchanged, against a real ``modelnode serve`` process
(fake networks: the wiring and the response shapes are checked here; result quality with real
weights lives in benchmarks/).

- semantic search: model -> text_embedding ingest pipeline -> index with default_pipeline and a
  knn_vector -> documents -> neural query;
- hybrid search: a normalization-processor search pipeline, per request and as the index default;
- neural sparse search: sparse_encoding pipeline -> rank_features -> neural_sparse (model, analyzer,
  raw tokens), with _bulk;
- reranking: a rerank response processor with a cross-encoder.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.server import ServerProcess
from tests.support import CROSS_ENCODER, MINILM, SPARSE, SPARSE_TOKENIZER

pytestmark = pytest.mark.slow

DOCS = [
    {
        "text": "A West Virginia university women 's basketball team , officials , and a small gathering of fans are "
        "in a West Virginia arena .",
        "id": "4319130149.jpg",
    },
    {"text": "A wild animal races across an uncut field with a minimal amount of trees .", "id": "1775029934.jpg"},
    {
        "text": "People line the stands which advertise Freemont 's orthopedics , a cowboy rides a light brown bucking "
        "bronco .",
        "id": "2664027527.jpg",
    },
    {"text": "A man who is riding a wild horse in the rodeo is very near to falling off .", "id": "4427058951.jpg"},
    {
        "text": "A rodeo cowboy , wearing a cowboy hat , is being thrown off of a wild white horse .",
        "id": "2691147709.jpg",
    },
]


class Curl:
    """``curl -s -X METHOD http://host:port/path -H 'Content-Type: ...' --data-binary @-``"""

    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(
        self, method: str, path: str, body: Any = None, *, ndjson: bool = False, expect: int = 200
    ) -> dict[str, Any]:
        cmd = ["curl", "-s", "--noproxy", "*", "-X", method, self.base + path, "-w", "\n%{http_code}"]
        data: bytes | None = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            content_type = "application/x-ndjson" if ndjson else "application/json"
            cmd += ["-H", f"Content-Type: {content_type}", "--data-binary", "@-"]
        out = subprocess.run(cmd, input=data, capture_output=True, check=True, timeout=60).stdout.decode()
        text, _, status = out.rpartition("\n")
        assert int(status) == expect, f"{method} {path} -> {status}: {text}"
        return json.loads(text) if text else {}

    def wait_task(self, task_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            task = self("GET", f"/_plugins/_ml/tasks/{task_id}")
            if task["state"] not in ("CREATED", "RUNNING"):
                assert task["state"] == "COMPLETED", task
                return task
            assert time.monotonic() < deadline, task
            time.sleep(0.05)

    def model(self, name: str, version: str, group_id: str) -> str:
        body = {"name": name, "version": version, "model_group_id": group_id, "model_format": "TORCH_SCRIPT"}
        model_id = self.wait_task(self("POST", "/_plugins/_ml/models/_register", body)["task_id"])["model_id"]
        self.wait_task(self("POST", f"/_plugins/_ml/models/{model_id}/_deploy")["task_id"])
        return model_id


@pytest.fixture(scope="module")
def curl(module_server: ServerProcess) -> Iterator[Curl]:
    c = Curl(module_server.url)
    c(
        "PUT",
        "/_cluster/settings",
        {
            "persistent": {
                "plugins.ml_commons.only_run_on_ml_node": "false",
                "plugins.ml_commons.native_memory_threshold": "99",
            }
        },
    )
    yield c


@pytest.fixture(scope="module")
def group(curl: Curl) -> str:
    body = {"name": "NLP_model_group", "description": "A model group for NLP models"}
    return curl("POST", "/_plugins/_ml/model_groups/_register", body)["model_group_id"]


@pytest.fixture(scope="module")
def semantic_index(curl: Curl, group: str) -> str:
    model_id = curl.model(MINILM, "1.0.1", group)
    curl(
        "PUT",
        "/_ingest/pipeline/nlp-ingest-pipeline",
        {
            "description": "An NLP ingest pipeline",
            "processors": [{"text_embedding": {"model_id": model_id, "field_map": {"text": "passage_embedding"}}}],
        },
    )
    curl(
        "PUT",
        "/my-nlp-index",
        {
            "settings": {"index.knn": True, "default_pipeline": "nlp-ingest-pipeline"},
            "mappings": {
                "properties": {
                    "id": {"type": "text"},
                    "passage_embedding": {
                        "type": "knn_vector",
                        "dimension": 384,
                        "method": {"engine": "lucene", "space_type": "l2", "name": "hnsw", "parameters": {}},
                    },
                    "text": {"type": "text"},
                }
            },
        },
    )
    for i, doc in enumerate(DOCS, 1):
        assert curl("PUT", f"/my-nlp-index/_doc/{i}", doc, expect=201)["result"] == "created"
    return model_id


def test_semantic_search(curl: Curl, semantic_index: str) -> None:
    model_id = semantic_index
    stored = curl("GET", "/my-nlp-index/_doc/1")["_source"]
    assert len(stored["passage_embedding"]) == 384 and stored["text"] == DOCS[0]["text"]
    out = curl(
        "GET",
        "/my-nlp-index/_search",
        {
            "_source": {"excludes": ["passage_embedding"]},
            "query": {"neural": {"passage_embedding": {"query_text": DOCS[3]["text"], "model_id": model_id, "k": 5}}},
        },
    )
    assert set(out) >= {"took", "timed_out", "_shards", "hits"}
    hits = out["hits"]
    assert hits["total"] == {"value": 5, "relation": "eq"}
    top = hits["hits"][0]
    # the same text gives the same vector: l2 distance 0, score 1 / (1 + 0)
    assert top["_id"] == "4" and top["_score"] == pytest.approx(1.0) and hits["max_score"] == top["_score"]
    assert top["_source"] == DOCS[3] and top["_index"] == "my-nlp-index"
    scores = [h["_score"] for h in hits["hits"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    count = curl("GET", "/my-nlp-index/_count")
    assert count["count"] == 5


def test_hybrid_search_with_a_normalization_pipeline(curl: Curl, semantic_index: str) -> None:
    model_id = semantic_index
    curl(
        "PUT",
        "/_search/pipeline/nlp-search-pipeline",
        {
            "description": "Post processor for hybrid search",
            "phase_results_processors": [
                {
                    "normalization-processor": {
                        "normalization": {"technique": "min_max"},
                        "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.3, 0.7]}},
                    }
                }
            ],
        },
    )
    query = {
        "_source": {"exclude": ["passage_embedding"]},
        "query": {
            "hybrid": {
                "queries": [
                    {"match": {"text": {"query": "cowboy hat thrown white"}}},
                    {"neural": {"passage_embedding": {"query_text": DOCS[4]["text"], "model_id": model_id, "k": 5}}},
                ]
            }
        },
    }
    out = curl("GET", "/my-nlp-index/_search?search_pipeline=nlp-search-pipeline", query)
    hits = out["hits"]["hits"]
    assert hits and all(0 <= h["_score"] <= 1 for h in hits)
    assert hits[0]["_id"] == "5"  # best in both sub-queries: 0.3 * 1 + 0.7 * 1
    assert hits[0]["_score"] == pytest.approx(1.0)
    assert "passage_embedding" not in hits[0]["_source"]
    # the same pipeline as the index default
    curl("PUT", "/my-nlp-index/_settings", {"index.search.default_pipeline": "nlp-search-pipeline"})
    assert curl("GET", "/my-nlp-index/_search", query)["hits"]["hits"] == hits
    # _none turns it off: a bare hybrid query is refused with a message that names the fix
    curl("GET", "/my-nlp-index/_search?search_pipeline=_none", query, expect=400)


def test_neural_sparse_search(curl: Curl, group: str) -> None:
    sparse_id = curl.model(SPARSE, "1.0.0", group)
    tokenizer_id = curl.model(SPARSE_TOKENIZER, "1.0.1", group)
    curl(
        "PUT",
        "/_ingest/pipeline/nlp-ingest-pipeline-sparse",
        {
            "description": "An sparse encoding ingest pipeline",
            "processors": [
                {"sparse_encoding": {"model_id": sparse_id, "field_map": {"passage_text": "passage_embedding"}}}
            ],
        },
    )
    curl(
        "PUT",
        "/my-nlp-index-sparse",
        {
            "settings": {"default_pipeline": "nlp-ingest-pipeline-sparse"},
            "mappings": {
                "properties": {
                    "id": {"type": "text"},
                    "passage_embedding": {"type": "rank_features"},
                    "passage_text": {"type": "text"},
                }
            },
        },
    )
    lines = []
    for i, doc in enumerate(DOCS, 1):
        lines.append(json.dumps({"index": {"_index": "my-nlp-index-sparse", "_id": str(i)}}))
        lines.append(json.dumps({"passage_text": doc["text"], "id": doc["id"]}))
    out = curl("POST", "/_bulk", "\n".join(lines) + "\n", ndjson=True)
    assert out["errors"] is False and len(out["items"]) == 5
    weights = curl("GET", "/my-nlp-index-sparse/_doc/2")["_source"]["passage_embedding"]
    assert weights and all(isinstance(w, float) and w > 0 for w in weights.values())

    for clause in (
        {"query_text": "Hi world", "model_id": sparse_id},
        {"query_text": "wild horse rodeo", "model_id": tokenizer_id},
        {"query_text": "wild horse rodeo", "analyzer": "bert-uncased"},
        {"query_text": "wild horse rodeo"},  # bert-uncased by default
    ):
        out = curl(
            "GET",
            "/my-nlp-index-sparse/_search",
            {"query": {"neural_sparse": {"passage_embedding": clause}}},
        )
        scores = [h["_score"] for h in out["hits"]["hits"]]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores), clause

    # raw tokens: the exact inner product of the query and document weights
    token, weight = next(iter(weights.items()))
    out = curl(
        "GET",
        "/my-nlp-index-sparse/_search",
        {"query": {"neural_sparse": {"passage_embedding": {"query_tokens": {token: 2.0}}}}, "size": 10},
    )
    by_id = {h["_id"]: h["_score"] for h in out["hits"]["hits"]}
    assert by_id["2"] == pytest.approx(2.0 * weight, rel=1e-6)


def test_reranking(curl: Curl, group: str, semantic_index: str) -> None:
    reranker = curl.model(CROSS_ENCODER, "1.0.2", group)
    curl(
        "PUT",
        "/_search/pipeline/my_pipeline",
        {
            "description": "Pipeline for reranking with a cross-encoder",
            "response_processors": [
                {"rerank": {"ml_opensearch": {"model_id": reranker}, "context": {"document_fields": ["text"]}}}
            ],
        },
    )
    out = curl(
        "POST",
        "/my-nlp-index/_search?search_pipeline=my_pipeline",
        {
            "_source": {"excludes": ["passage_embedding"]},
            "query": {"match": {"text": "wild horse"}},
            "ext": {"rerank": {"query_context": {"query_text": "wild horse"}}},
        },
    )
    hits = out["hits"]["hits"]
    assert hits
    scores = [h["_score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and out["hits"]["max_score"] == scores[0]
    # the score is the cross-encoder's raw output for (query, document text)
    predicted = curl(
        "POST",
        f"/_plugins/_ml/models/{reranker}/_predict",
        {"query_text": "wild horse", "text_docs": [hits[0]["_source"]["text"]]},
    )
    assert scores[0] == pytest.approx(predicted["inference_results"][0]["output"][0]["data"][0], rel=1e-5)
