"""opensearch-py, unchanged, against the embedded search engine of a real ``modelnode serve``:
index management, documents, ``helpers.bulk``, search, count, pipelines and its exception types."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(module_server: ServerProcess) -> Iterator[OpenSearch]:
    c = OpenSearch(hosts=[{"host": "127.0.0.1", "port": module_server.port}], use_ssl=False, timeout=30)
    try:
        yield c
    finally:
        c.close()


def test_opensearch_py_index_lifecycle(client: OpenSearch) -> None:
    body = {
        "settings": {"index": {"number_of_shards": 1, "knn": True}},
        "mappings": {"properties": {"title": {"type": "text"}, "v": {"type": "knn_vector", "dimension": 2}}},
    }
    assert client.indices.create(index="py-books", body=body)["acknowledged"] is True
    assert client.indices.exists(index="py-books") is True
    assert client.indices.exists(index="py-nope") is False
    with pytest.raises(RequestError) as e:
        client.indices.create(index="py-books", body=body)
    assert e.value.error == "resource_already_exists_exception"

    r = client.index(index="py-books", body={"title": "dune", "v": [1.0, 0.0]}, id="1", refresh=True)
    assert r["result"] == "created"
    with pytest.raises(ConflictError):
        client.create(index="py-books", id="1", body={"title": "again"})
    ok, errors = helpers.bulk(
        client,
        [
            {"_index": "py-books", "_id": str(i), "_source": {"title": f"book {i}", "v": [0.0, float(i)]}}
            for i in range(2, 12)
        ],
        refresh=True,
    )
    assert ok == 10 and errors == []
    assert client.count(index="py-books")["count"] == 11
    assert client.get(index="py-books", id="1")["_source"]["title"] == "dune"
    with pytest.raises(NotFoundError):
        client.get(index="py-books", id="missing")
    assert client.exists(index="py-books", id="1") is True
    hits = client.search(index="py-books", body={"query": {"match": {"title": "dune"}}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["1"]
    knn = client.search(index="py-books", body={"query": {"knn": {"v": {"vector": [1.0, 0.0], "k": 1}}}, "size": 1})
    assert knn["hits"]["hits"][0]["_id"] == "1" and knn["hits"]["hits"][0]["_score"] == pytest.approx(1.0)
    client.update(index="py-books", id="1", body={"doc": {"title": "dune messiah"}})
    assert client.get(index="py-books", id="1")["_source"]["title"] == "dune messiah"
    assert client.indices.get_mapping(index="py-books")["py-books"]["mappings"]["properties"]["title"]["type"] == "text"
    docs = client.mget(body={"ids": ["1", "2", "x"]}, index="py-books")["docs"]
    assert [d["found"] for d in docs] == [True, True, False]

    client.ingest.put_pipeline(id="py-pipe", body={"processors": [{"uppercase": {"field": "title"}}]})
    assert "py-pipe" in client.ingest.get_pipeline(id="py-pipe")
    client.index(index="py-books", body={"title": "loud"}, id="loud", pipeline="py-pipe", refresh=True)
    assert client.get(index="py-books", id="loud")["_source"]["title"] == "LOUD"
    client.ingest.delete_pipeline(id="py-pipe")
    with pytest.raises(NotFoundError):
        client.ingest.get_pipeline(id="py-pipe")

    client.delete(index="py-books", id="loud")
    assert client.indices.delete(index="py-books")["acknowledged"] is True
    with pytest.raises(NotFoundError):
        client.indices.get(index="py-books")
