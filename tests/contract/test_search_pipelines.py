"""Ingest and search pipelines over REST (in-process, fake networks): CRUD, _simulate, the inference
processors on deployed models (batched, per-document failures), and the pipeline selection rules of
_doc / _bulk (?pipeline=, index.default_pipeline, _none, bulk update)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.contract.test_model_kinds import deployed
from tests.support import MINILM, SPARSE, SPARSE_TOKENIZER, assert_error

NDJSON = {"content-type": "application/x-ndjson"}
CHUNK_TEXT = (
    "This is an example document to be chunked. The document contains a single paragraph, two sentences and 24 "
    "tokens by standard tokenizer in OpenSearch."
)


def put_pipeline(client: TestClient, pid: str, processors: list[dict[str, Any]], **extra: Any) -> None:
    r = client.put(f"/_ingest/pipeline/{pid}", json={"description": "test", "processors": processors, **extra})
    assert r.status_code == 200 and r.json() == {"acknowledged": True}, r.text


def bulk(client: TestClient, lines: list[dict[str, Any]], query: str = "") -> dict[str, Any]:
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    r = client.post(f"/_bulk{query}", content=body, headers=NDJSON)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def minilm(client: TestClient) -> str:
    return deployed(client, MINILM, "1.0.2")


def test_ingest_pipeline_crud(client: TestClient) -> None:
    assert client.get("/_ingest/pipeline").json() == {}
    put_pipeline(client, "p1", [{"set": {"field": "a", "value": 1}}])
    put_pipeline(client, "p2", [{"lowercase": {"field": "a"}}], version=3)
    assert client.get("/_ingest/pipeline/p1").json() == {
        "p1": {"description": "test", "processors": [{"set": {"field": "a", "value": 1}}]}
    }
    assert sorted(client.get("/_ingest/pipeline").json()) == ["p1", "p2"]
    assert sorted(client.get("/_ingest/pipeline/p*").json()) == ["p1", "p2"]
    missing = client.get("/_ingest/pipeline/none")
    assert missing.status_code == 404 and missing.json() == {}
    assert client.delete("/_ingest/pipeline/p2").json() == {"acknowledged": True}
    assert_error(client.delete("/_ingest/pipeline/p2"), 404, "resource_not_found_exception", "pipeline [p2] is missing")
    # invalid definitions are refused and nothing is stored
    r = client.put("/_ingest/pipeline/bad", json={"processors": [{"nope": {}}]})
    assert_error(r, 400, "parse_exception", "No processor type exists with name [nope]")
    r = client.put("/_ingest/pipeline/bad", json={"processors": [{"text_embedding": {"model_id": "m"}}]})
    assert_error(r, 400, "parse_exception", "[field_map] required property is missing")
    assert client.get("/_ingest/pipeline/bad").status_code == 404
    # model ids are checked at ingest time, not when the pipeline is put
    put_pipeline(client, "later", [{"text_embedding": {"model_id": "does-not-exist", "field_map": {"a": "b"}}}])


def test_simulate_named_inline_and_verbose(client: TestClient) -> None:
    chunking = {
        "text_chunking": {
            "algorithm": {"fixed_token_length": {"token_limit": 10, "overlap_rate": 0.2, "tokenizer": "standard"}},
            "field_map": {"passage_text": "passage_chunk"},
        }
    }
    put_pipeline(client, "chunker", [chunking])
    docs = {"docs": [{"_index": "idx", "_id": "1", "_source": {"passage_text": CHUNK_TEXT}}, {"_source": {"x": 1}}]}
    out = client.post("/_ingest/pipeline/chunker/_simulate", json=docs).json()
    first, second = out["docs"]
    assert first["doc"]["_index"] == "idx" and first["doc"]["_id"] == "1"
    assert first["doc"]["_source"]["passage_chunk"] == [
        "This is an example document to be chunked. The document ",
        "The document contains a single paragraph, two sentences and 24 ",
        "and 24 tokens by standard tokenizer in OpenSearch.",
    ]
    assert "timestamp" in first["doc"]["_ingest"]
    assert second["doc"]["_index"] == "_index" and second["doc"]["_source"] == {"x": 1, "passage_chunk": []}

    inline = {"pipeline": {"processors": [{"fail": {"message": "stop {{x}}"}}]}, "docs": [{"_source": {"x": 2}}]}
    out = client.post("/_ingest/pipeline/_simulate", json=inline).json()
    assert out["docs"][0]["error"]["type"] == "fail_processor_exception"
    assert out["docs"][0]["error"]["reason"] == "stop 2"

    verbose = {
        "pipeline": {"processors": [{"set": {"field": "a", "value": 1, "tag": "s"}}, {"lowercase": {"field": "b"}}]},
        "docs": [{"_source": {"b": "X"}}],
    }
    out = client.post("/_ingest/pipeline/_simulate?verbose=true", json=verbose).json()
    results = out["docs"][0]["processor_results"]
    assert [r["processor_type"] for r in results] == ["set", "lowercase"]
    assert results[0]["tag"] == "s" and results[0]["status"] == "success"
    assert results[1]["doc"]["_source"] == {"b": "x", "a": 1}

    assert_error(
        client.post("/_ingest/pipeline/nope/_simulate", json=docs),
        400,
        "illegal_argument_exception",
        "pipeline [nope] does not exist",
    )
    assert_error(
        client.post("/_ingest/pipeline/chunker/_simulate", json={}),
        400,
        "parse_exception",
        "[docs] required property is missing",
    )
    assert_error(
        client.post("/_ingest/pipeline/chunker/_simulate", json={"docs": []}),
        400,
        "illegal_argument_exception",
        "must specify at least one document in [docs]",
    )
    assert_error(
        client.post("/_ingest/pipeline/_simulate", json={"docs": [{"_source": {}}]}),
        400,
        "parse_exception",
        "[pipeline] required property is missing",
    )


def test_text_embedding_on_a_deployed_model(client: TestClient, minilm: str) -> None:
    put_pipeline(
        client,
        "nlp",
        [
            {
                "text_embedding": {
                    "model_id": minilm,
                    "field_map": {"text": "vec", "chunks": "chunk_vecs"},
                    "batch_size": 4,
                }
            }
        ],
    )
    out = client.post(
        "/_ingest/pipeline/nlp/_simulate", json={"docs": [{"_source": {"text": "hello", "chunks": ["a", "b"]}}]}
    ).json()
    source = out["docs"][0]["doc"]["_source"]
    assert len(source["vec"]) == 384 and all(isinstance(x, float) for x in source["vec"])
    assert [list(c) for c in source["chunk_vecs"]] == [["knn"], ["knn"]]
    predicted = client.post(f"/_plugins/_ml/models/{minilm}/_predict", json={"text_docs": ["hello"]}).json()
    expected = next(t for t in predicted["inference_results"][0]["output"] if t["name"] == "sentence_embedding")["data"]
    assert source["vec"] == pytest.approx(expected, rel=1e-6)


def test_default_pipeline_bulk_batching_and_failures(client: TestClient, minilm: str) -> None:
    put_pipeline(
        client, "nlp", [{"text_embedding": {"model_id": minilm, "field_map": {"text": "vec"}, "batch_size": 3}}]
    )
    mappings = {"properties": {"text": {"type": "text"}, "vec": {"type": "knn_vector", "dimension": 384}}}
    settings = {"index.knn": True, "default_pipeline": "nlp"}
    assert client.put("/emb", json={"settings": settings, "mappings": mappings}).status_code == 200
    deployments = client.app.state.services.deployments  # type: ignore[attr-defined]
    calls = deployments.request_count
    lines: list[dict[str, Any]] = []
    for i in range(6):
        lines += [{"index": {"_index": "emb", "_id": str(i)}}, {"text": f"passage number {i}"}]
    lines += [{"index": {"_index": "emb", "_id": "bad"}}, {"text": 42}]
    lines += [{"index": {"_index": "emb", "_id": "raw", "pipeline": "_none"}}, {"text": "no vector"}]
    out = bulk(client, lines)
    statuses = [i["index"]["status"] for i in out["items"]]
    assert statuses == [201] * 6 + [400, 201], out
    assert "neither string nor nested type" in out["items"][6]["index"]["error"]["reason"]
    assert "ingest_took" in out
    assert deployments.request_count - calls == 2  # 6 documents, batch_size 3: two predict calls
    assert len(client.get("/emb/_doc/0").json()["_source"]["vec"]) == 384
    assert "vec" not in client.get("/emb/_doc/raw").json()["_source"]

    # ?pipeline=_none on _doc skips the default pipeline; an update does not run it
    client.put("/emb/_doc/plain?pipeline=_none", json={"text": "kept as is"})
    assert "vec" not in client.get("/emb/_doc/plain").json()["_source"]
    bulk(client, [{"update": {"_index": "emb", "_id": "plain"}}, {"doc": {"text": "changed"}}])
    assert "vec" not in client.get("/emb/_doc/plain").json()["_source"]
    # an upsert that creates the document does run it
    r = client.post("/emb/_update/up", json={"doc": {"text": "upserted"}, "doc_as_upsert": True})
    assert r.status_code == 201, r.text
    assert len(client.get("/emb/_doc/up").json()["_source"]["vec"]) == 384
    # an unknown pipeline fails the items that name it
    out = bulk(client, [{"index": {"_index": "emb", "_id": "x", "pipeline": "ghost"}}, {"text": "t"}])
    assert out["items"][0]["index"]["error"]["reason"] == "pipeline with id [ghost] does not exist"
    assert_error(client.put("/emb/_doc/y?pipeline=ghost", json={"text": "t"}), 400, "illegal_argument_exception")


def test_model_state_and_function_errors_at_ingest(client: TestClient, minilm: str) -> None:
    sparse_id = deployed(client, SPARSE, "1.0.0")
    put_pipeline(client, "wrong", [{"text_embedding": {"model_id": sparse_id, "field_map": {"text": "vec"}}}])
    put_pipeline(client, "ghost", [{"text_embedding": {"model_id": "no-such-model", "field_map": {"text": "vec"}}}])
    put_pipeline(client, "dense", [{"text_embedding": {"model_id": minilm, "field_map": {"text": "vec"}}}])
    r = client.put("/e/_doc/1?pipeline=wrong", json={"text": "x"})
    assert_error(r, 400, "illegal_argument_exception", "is a SPARSE_ENCODING model")
    assert_error(client.put("/e/_doc/1?pipeline=ghost", json={"text": "x"}), 404, None, "Failed to find model")
    client.post(f"/_plugins/_ml/models/{minilm}/_undeploy")
    r = client.put("/e/_doc/1?pipeline=dense", json={"text": "x"})
    assert_error(r, 400, None, "Model not ready yet. Please deploy the model first.")
    assert client.head("/e").status_code == 404  # nothing was created by the failed writes


def test_sparse_encoding_with_the_real_tokenizer_and_pruning(client: TestClient) -> None:
    tokenizer_id = deployed(client, SPARSE_TOKENIZER, "1.0.1")
    put_pipeline(
        client,
        "sparse",
        [
            {
                "sparse_encoding": {
                    "model_id": tokenizer_id,
                    "prune_type": "top_k",
                    "prune_ratio": 1,
                    "field_map": {"text": "tokens", "parts": "part_tokens"},
                }
            }
        ],
    )
    out = client.post(
        "/_ingest/pipeline/sparse/_simulate", json={"docs": [{"_source": {"text": "hello world", "parts": ["hello"]}}]}
    ).json()
    source = out["docs"][0]["doc"]["_source"]
    assert source["tokens"] == {"hello": 6.9377565}  # the idf table's larger weight survives top_k 1
    assert source["part_tokens"] == [{"sparse_encoding": {"hello": 6.9377565}}]


def test_chunking_then_embedding_into_nested_vectors(client: TestClient, minilm: str) -> None:
    put_pipeline(
        client,
        "chunks",
        [
            {
                "text_chunking": {
                    "algorithm": {"delimiter": {"delimiter": "."}},
                    "field_map": {"passage_text": "passage_chunk"},
                }
            },
            {"text_embedding": {"model_id": minilm, "field_map": {"passage_chunk": "passage_chunk_embedding"}}},
        ],
    )
    mappings = {
        "properties": {
            "passage_chunk_embedding": {
                "type": "nested",
                "properties": {"knn": {"type": "knn_vector", "dimension": 384}},
            }
        }
    }
    settings = {"index.knn": True, "default_pipeline": "chunks"}
    assert client.put("/chunked", json={"settings": settings, "mappings": mappings}).status_code == 200
    r = client.put("/chunked/_doc/1", json={"passage_text": "One. Two. Three"})
    assert r.status_code == 201, r.text
    source = client.get("/chunked/_doc/1").json()["_source"]
    assert source["passage_chunk"] == ["One.", " Two.", " Three"]
    assert [len(c["knn"]) for c in source["passage_chunk_embedding"]] == [384, 384, 384]


def test_search_pipeline_crud(client: TestClient) -> None:
    body = {
        "description": "hybrid",
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [0.3, 0.7]}},
                }
            }
        ],
    }
    assert client.put("/_search/pipeline/nlp-search", json=body).json() == {"acknowledged": True}
    assert client.get("/_search/pipeline/nlp-search").json() == {"nlp-search": body}
    assert list(client.get("/_search/pipeline").json()) == ["nlp-search"]
    missing = client.get("/_search/pipeline/none")
    assert missing.status_code == 404 and missing.json() == {}
    r = client.put("/_search/pipeline/bad", json={"response_processors": [{"nope": {}}]})
    assert r.status_code == 400, r.text
    assert client.get("/_search/pipeline/bad").status_code == 404
    assert client.delete("/_search/pipeline/nlp-search").json() == {"acknowledged": True}
    assert client.delete("/_search/pipeline/nlp-search").status_code == 404
    client.put("/s", json={})
    r = client.post("/s/_search?search_pipeline=missing", json={})
    assert_error(r, 400, "illegal_argument_exception", "Pipeline missing is not defined")


def test_final_pipeline_runs_after_the_default_one(client: TestClient) -> None:
    put_pipeline(client, "first", [{"set": {"field": "steps", "value": ["default"]}}])
    put_pipeline(client, "last", [{"append": {"field": "steps", "value": "final"}}])
    settings = {"index.default_pipeline": "first", "index.final_pipeline": "last"}
    assert client.put("/staged", json={"settings": settings}).status_code == 200
    client.put("/staged/_doc/1", json={"a": 1})
    assert client.get("/staged/_doc/1").json()["_source"]["steps"] == ["default", "final"]
    client.put("/staged/_doc/2?pipeline=_none", json={"a": 1})  # _none skips the default, never the final
    assert client.get("/staged/_doc/2").json()["_source"]["steps"] == ["final"]
