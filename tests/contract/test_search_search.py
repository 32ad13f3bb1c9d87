"""``_search`` / ``_count`` over REST (in-process): URI parameters, several indices, search pipeline
selection (?search_pipeline=, index.search.default_pipeline, _none), the query-time embedding cache
and its invalidation on undeploy, and neural_sparse's built-in analyzer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.contract.test_model_kinds import deployed
from tests.support import MINILM, SPARSE_TOKENIZER, assert_error

TEXTS = ["the quick brown fox", "a lazy dog sleeps", "quick thinking wins", "brown bears and brown dogs"]


def make(client: TestClient, name: str, texts: list[str], *, offset: int = 0) -> None:
    mappings = {"properties": {"text": {"type": "text"}, "n": {"type": "long"}}}
    assert client.put(f"/{name}", json={"mappings": mappings}).status_code == 200
    for i, text in enumerate(texts):
        assert client.put(f"/{name}/_doc/{i}", json={"text": text, "n": i + offset}).status_code == 201


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [h["_id"] for h in response.json()["hits"]["hits"]]


def test_uri_parameters(client: TestClient) -> None:
    make(client, "docs", TEXTS)
    assert set(ids(client.get("/docs/_search?q=text:brown"))) == {"0", "3"}
    assert set(ids(client.get("/docs/_search?q=quick"))) == {"0", "2"}
    assert len(ids(client.get("/docs/_search?size=2"))) == 2
    assert ids(client.get("/docs/_search?sort=n:desc&size=2")) == ["3", "2"]
    assert ids(client.get("/docs/_search?sort=n:asc&from=1&size=2")) == ["1", "2"]
    hit = client.get("/docs/_search?q=text:lazy&_source=n").json()["hits"]["hits"][0]
    assert hit["_source"] == {"n": 1}
    hit = client.get("/docs/_search?q=text:lazy&_source=false").json()["hits"]["hits"][0]
    assert "_source" not in hit
    assert client.get("/docs/_search?track_total_hits=false").json()["hits"].get("total") is None
    # body and URI together: the URI's size wins, as in OpenSearch
    r = client.post("/docs/_search?size=1", json={"query": {"match_all": {}}, "size": 3})
    assert len(ids(r)) == 1
    r = client.post("/docs/_search?q=quick", json={"query": {"match_all": {}}})
    assert_error(r, 400, "illegal_argument_exception")
    assert_error(client.get("/docs/_search?size=abc"), 400, "illegal_argument_exception")
    assert_error(client.get("/missing/_search"), 404, "index_not_found_exception")
    assert client.get("/docs/_count?q=text:brown").json()["count"] == 2


def test_several_indices(client: TestClient) -> None:
    make(client, "a-1", TEXTS[:2])
    make(client, "a-2", TEXTS[2:], offset=10)
    out = client.post("/a-*/_search", json={"query": {"match": {"text": "brown quick"}}}).json()
    hits = out["hits"]["hits"]
    assert out["_shards"]["total"] == 2 and out["hits"]["total"] == {"value": 3, "relation": "eq"}
    assert {(h["_index"], h["_id"]) for h in hits} == {("a-1", "0"), ("a-2", "0"), ("a-2", "1")}
    scores = [h["_score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and out["hits"]["max_score"] == scores[0]
    assert len(client.post("/a-1,a-2/_search", json={"size": 3}).json()["hits"]["hits"]) == 3
    assert client.get("/_search").json()["hits"]["total"]["value"] == 4
    assert client.get("/_count").json()["count"] == 4
    assert client.get("/nothing-*/_search").json()["hits"]["hits"] == []
    r = client.post("/a-*/_search", json={"sort": [{"n": "asc"}]})
    assert_error(r, 400, "illegal_argument_exception", "cannot merge a [sort] across several indices")


def test_search_pipeline_selection(client: TestClient) -> None:
    make(client, "docs", TEXTS)
    rerank = {"response_processors": [{"rerank": {"by_field": {"target_field": "n"}}}]}
    assert client.put("/_search/pipeline/by-n", json=rerank).status_code == 200
    plain = ids(client.post("/docs/_search", json={"query": {"match_all": {}}}))
    by_n = ids(client.post("/docs/_search?search_pipeline=by-n", json={"query": {"match_all": {}}}))
    assert by_n == ["3", "2", "1", "0"]
    client.put("/docs/_settings", json={"index.search.default_pipeline": "by-n"})
    assert ids(client.post("/docs/_search", json={"query": {"match_all": {}}})) == by_n
    assert ids(client.post("/docs/_search?search_pipeline=_none", json={"query": {"match_all": {}}})) == plain
    # a deleted default pipeline is reported, not ignored
    client.delete("/_search/pipeline/by-n")
    assert_error(client.post("/docs/_search", json={}), 400, "illegal_argument_exception", "Pipeline by-n is not")


def test_query_embeddings_are_cached_until_the_model_is_undeployed(client: TestClient) -> None:
    model_id = deployed(client, MINILM, "1.0.2")
    mappings = {"properties": {"vec": {"type": "knn_vector", "dimension": 384}, "text": {"type": "text"}}}
    pipeline = {"processors": [{"text_embedding": {"model_id": model_id, "field_map": {"text": "vec"}}}]}
    client.put("/_ingest/pipeline/emb", json=pipeline)
    client.put("/dense", json={"settings": {"index.knn": True, "default_pipeline": "emb"}, "mappings": mappings})
    for i, text in enumerate(TEXTS):
        client.put(f"/dense/_doc/{i}", json={"text": text})
    deployments = client.app.state.services.deployments  # type: ignore[attr-defined]
    query = {"query": {"neural": {"vec": {"query_text": TEXTS[2], "model_id": model_id, "k": 2}}}}
    before = deployments.request_count
    first = client.post("/dense/_search", json=query).json()
    assert first["hits"]["hits"][0]["_id"] == "2"
    assert first["hits"]["hits"][0]["_score"] == pytest.approx(1.0)
    assert deployments.request_count == before + 1
    again = client.post("/dense/_search", json=query).json()
    assert again["hits"] == first["hits"] and deployments.request_count == before + 1  # served from the cache
    assert client.post("/dense/_count", json={"query": query["query"]}).json()["count"] == 2
    client.post(f"/_plugins/_ml/models/{model_id}/_undeploy")
    r = client.post("/dense/_search", json=query)
    assert_error(r, 400, None, "Model not ready yet. Please deploy the model first.")


def test_neural_sparse_analyzers_and_tokenizer_model(client: TestClient) -> None:
    tokenizer_id = deployed(client, SPARSE_TOKENIZER, "1.0.1")
    pipeline = {"processors": [{"sparse_encoding": {"model_id": tokenizer_id, "field_map": {"text": "sv"}}}]}
    client.put("/_ingest/pipeline/sp", json=pipeline)
    client.put(
        "/sparse",
        json={"settings": {"default_pipeline": "sp"}, "mappings": {"properties": {"sv": {"type": "rank_features"}}}},
    )
    for i, text in enumerate(["hello world", "hello there", "nothing in common"]):
        client.put(f"/sparse/_doc/{i}", json={"text": text})
    by_model = client.post(
        "/sparse/_search",
        json={"query": {"neural_sparse": {"sv": {"query_text": "hello world", "model_id": tokenizer_id}}}},
    ).json()["hits"]["hits"]
    by_default = client.post(
        "/sparse/_search", json={"query": {"neural_sparse": {"sv": {"query_text": "hello world"}}}}
    ).json()["hits"]["hits"]
    # the bert-uncased analyzer is the same table as the tokenizer model: identical scores
    assert [(h["_id"], h["_score"]) for h in by_model] == [(h["_id"], h["_score"]) for h in by_default]
    assert by_model[0]["_id"] == "0"
    # hello: 6.9377565 (query) x 6.9377565 (doc) + world: 3.4208686 x 3.4208686
    assert by_model[0]["_score"] == pytest.approx(6.9377565**2 + 3.4208686**2, rel=1e-5)
    r = client.post(
        "/sparse/_search", json={"query": {"neural_sparse": {"sv": {"query_text": "x", "analyzer": "nope"}}}}
    )
    assert_error(r, 400, "illegal_argument_exception", "analyzer [nope]")
