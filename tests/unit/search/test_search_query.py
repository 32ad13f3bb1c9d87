from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from modelnode.errors import IllegalArgument, ParsingError, QueryShardError
from modelnode.search.core import QUERY_TYPES, QueryContext, SearchIndex, StoredDoc
from modelnode.search.mapping import Mapping, parse_settings
from modelnode.search.query import (
    calculate_msm,
    count,
    evaluate,
    execute,
    json_score,
    matching,
    render,
    render_scores,
    search,
)

MAPPING = {
    "properties": {
        "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
        "body": {"type": "text"},
        "tags": {"type": "keyword"},
        "year": {"type": "integer"},
        "rating": {"type": "float"},
        "published": {"type": "date"},
        "available": {"type": "boolean"},
        "vec": {"type": "knn_vector", "dimension": 2},
        "comments": {"type": "nested", "properties": {"author": {"type": "keyword"}, "text": {"type": "text"}}},
        "meta": {"properties": {"lang": {"type": "keyword"}}},
    },
    "_source": {"excludes": ["vec"]},
}

DOCS: list[tuple[str, dict[str, Any]]] = [
    (
        "1",
        {
            "title": "The Quick Brown Fox",
            "body": "a quick brown fox jumps over the lazy dog",
            "tags": ["animal", "classic"],
            "year": 2001,
            "rating": 4.5,
            "published": "2001-05-01",
            "available": True,
            "vec": [1, 0],
            "comments": [{"author": "ann", "text": "lovely fox"}, {"author": "bob", "text": "meh"}],
            "meta": {"lang": "en"},
        },
    ),
    (
        "2",
        {
            "title": "Quick Brown Dogs",
            "body": "quick quick dogs and brown cats",
            "tags": "animal",
            "year": 1999,
            "rating": 3.0,
            "published": "1999-12-31T23:00:00Z",
            "available": False,
        },
    ),
    ("3", {"title": "Lazy Afternoon", "body": "the lazy dog sleeps all afternoon", "year": 2010, "rating": 2.5}),
    ("4", {"title": "Brown", "body": "brown", "tags": ["color"], "published": "2020-01-02", "meta": {"lang": "fr"}}),
    (
        "5",
        {
            "title": "Unrelated",
            "body": "nothing to see here",
            "year": 2001,
            "comments": [{"author": "cy", "text": "fox"}],
        },
    ),
]


def make_index(docs: list[tuple[str, dict[str, Any]]] = DOCS, mapping: dict[str, Any] = MAPPING) -> SearchIndex:
    settings = parse_settings({"index.knn": True})
    m = Mapping.parse(mapping, settings)
    index = SearchIndex("books", m, settings)
    for doc_id, source in docs:
        m.prepare_document(source, doc_id)
        index.put(StoredDoc(doc_id, source, seq_no=int(doc_id) - 1 if doc_id.isdigit() else 0))
    return index


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return make_index()


def ids(index: SearchIndex, query: dict[str, Any], **body: Any) -> list[str]:
    return [h["_id"] for h in search(index, {"query": query, **body})["hits"]["hits"]]


def scores(index: SearchIndex, query: dict[str, Any]) -> dict[str, float]:
    ctx = QueryContext(index)
    return {index.doc(n).id: s for n, s in evaluate(query, ctx).items()}


# -- full text -----------------------------------------------------------------------------------------


def test_match_or_and_minimum_should_match(index: SearchIndex) -> None:
    assert ids(index, {"match": {"body": "quick dog"}}) == ["1", "2", "3"]
    assert ids(index, {"match": {"body": {"query": "quick dog", "operator": "AND"}}}) == ["1"]
    assert set(ids(index, {"match": {"body": {"query": "quick lazy fox", "minimum_should_match": 2}}})) == {"1"}
    assert set(ids(index, {"match": {"body": {"query": "quick lazy fox", "minimum_should_match": "-2"}}})) == {
        "1",
        "2",
        "3",
    }
    # a single term is a term query: minimum_should_match does not apply
    assert ids(index, {"match": {"body": {"query": "fox", "minimum_should_match": 5}}}) == ["1"]
    assert ids(index, {"match": {"body": {"query": "!!", "zero_terms_query": "all"}}}) == ["1", "2", "3", "4", "5"]
    assert ids(index, {"match": {"body": "!!"}}) == []
    assert ids(index, {"match": {"nope": "fox"}}) == []


def test_match_scores_are_bm25_sums(index: SearchIndex) -> None:
    both = scores(index, {"match": {"body": "quick dog"}})
    quick = scores(index, {"match": {"body": "quick"}})
    dog = scores(index, {"match": {"body": "dog"}})
    assert both["1"] == pytest.approx(quick["1"] + dog["1"], rel=1e-6)
    assert both["2"] == quick["2"]
    boosted = scores(index, {"match": {"body": {"query": "quick dog", "boost": 2}}})
    assert boosted["1"] == pytest.approx(2 * both["1"], rel=1e-6)


def test_calculate_msm() -> None:
    assert calculate_msm(3, 2) == 2
    assert calculate_msm(3, "-1") == 2
    assert calculate_msm(4, "75%") == 3
    assert calculate_msm(4, "-25%") == 3
    assert calculate_msm(10, "3<90%") == 9
    assert calculate_msm(3, "3<90%") == 3
    assert calculate_msm(10, "2<-25% 9<-3") == 7
    assert calculate_msm(3, "100%") == 3
    assert calculate_msm(0, 1) == 1  # no should clause but msm 1: nothing matches
    with pytest.raises(IllegalArgument):
        calculate_msm(3, "lots")


def test_match_on_other_field_types(index: SearchIndex) -> None:
    assert ids(index, {"match": {"tags": "animal"}}) == ["1", "2"]  # keyword: the whole value; ties in index order
    assert ids(index, {"match": {"title.keyword": "Brown"}}) == ["4"]
    assert set(ids(index, {"match": {"year": "2001"}})) == {"1", "5"}
    assert ids(index, {"match": {"published": "2001-05-01"}}) == ["1"]
    assert ids(index, {"match": {"available": "false"}}) == ["2"]
    with pytest.raises(QueryShardError, match='For input string: "soon"'):
        ids(index, {"match": {"year": "soon"}})
    assert ids(index, {"match": {"year": {"query": "soon", "lenient": True}}}) == []
    with pytest.raises(QueryShardError, match="KNN vector do not support exact searching"):
        ids(index, {"match": {"vec": "1"}})


def test_match_parse_errors(index: SearchIndex) -> None:
    with pytest.raises(ParsingError, match=r"\[match\] query doesn't support multiple fields, found \[a\] and \[b\]"):
        ids(index, {"match": {"a": "x", "b": "y"}})
    with pytest.raises(ParsingError, match=r"\[match\] query does not support \[foo\]"):
        ids(index, {"match": {"body": {"query": "x", "foo": 1}}})
    with pytest.raises(IllegalArgument, match=r"\[fuzziness\] is not supported"):
        ids(index, {"match": {"body": {"query": "x", "fuzziness": "AUTO"}}})
    with pytest.raises(IllegalArgument, match=r"analyzer \[english\] is not supported"):
        ids(index, {"match": {"body": {"query": "x", "analyzer": "english"}}})
    with pytest.raises(ParsingError, match=r"unknown query \[fuzzy_match\]"):
        ids(index, {"fuzzy_match": {"body": "x"}})
    with pytest.raises(ParsingError, match=r"\[match\] malformed query, expected \[END_OBJECT\]"):
        ids(index, {"match": {"body": "x"}, "term": {"tags": "x"}})


def test_match_phrase_and_prefix(index: SearchIndex) -> None:
    assert ids(index, {"match_phrase": {"body": "quick brown"}}) == ["1"]
    assert ids(index, {"match_phrase": {"body": {"query": "quick fox", "slop": 1}}}) == ["1"]
    assert ids(index, {"match_phrase": {"body": "quick fox"}}) == []
    assert ids(index, {"match_phrase": {"tags": "classic"}}) == ["1"]
    assert ids(index, {"match_phrase_prefix": {"body": "lazy d"}}) == ["3", "1"]
    assert ids(index, {"match_phrase_prefix": {"title": "unrel"}}) == ["5"]


def test_multi_match(index: SearchIndex) -> None:
    title = scores(index, {"match": {"title": {"query": "brown", "boost": 2}}})
    body = scores(index, {"match": {"body": "brown"}})
    best = scores(index, {"multi_match": {"query": "brown", "fields": ["title^2", "body"]}})
    assert best["4"] == pytest.approx(max(title["4"], body["4"]), rel=1e-6)
    tie = scores(index, {"multi_match": {"query": "brown", "fields": ["title^2", "body"], "tie_breaker": 0.3}})
    assert tie["4"] == pytest.approx(max(title["4"], body["4"]) + 0.3 * min(title["4"], body["4"]), rel=1e-6)
    most = scores(index, {"multi_match": {"query": "brown", "type": "most_fields", "fields": ["title^2", "body"]}})
    assert most["4"] == pytest.approx(title["4"] + body["4"], rel=1e-6)
    assert set(ids(index, {"multi_match": {"query": "lazy", "fields": ["ti*"]}})) == {"3"}
    assert set(ids(index, {"multi_match": {"query": "animal"}})) == {"1", "2"}  # all fields, leniently
    assert ids(index, {"multi_match": {"query": "quick brown", "type": "phrase", "fields": ["body"]}}) == ["1"]
    with pytest.raises(IllegalArgument, match=r"multi_match type \[cross_fields\] is not supported"):
        ids(index, {"multi_match": {"query": "x", "type": "cross_fields", "fields": ["body"]}})


# -- term level ------------------------------------------------------------------------------------------


def test_term_and_terms(index: SearchIndex) -> None:
    assert ids(index, {"term": {"body": "quick"}}) == ["2", "1"]
    assert ids(index, {"term": {"title": "Quick"}}) == []  # not analysed: tokens are lower case
    assert ids(index, {"term": {"title": {"value": "Quick", "case_insensitive": True}}}) == ["1", "2"]
    assert ids(index, {"term": {"tags": "classic"}}) == ["1"]
    assert ids(index, {"term": {"year": 1999}}) == ["2"]
    assert ids(index, {"term": {"year": 1999.5}}) == []
    assert ids(index, {"term": {"available": True}}) == ["1"]
    assert ids(index, {"term": {"published": "2020-01-02"}}) == ["4"]
    assert ids(index, {"term": {"meta.lang": "fr"}}) == ["4"]
    assert set(ids(index, {"terms": {"tags": ["color", "classic"]}})) == {"1", "4"}
    assert set(ids(index, {"terms": {"year": [1999, "2010"], "boost": 3}})) == {"2", "3"}
    assert scores(index, {"terms": {"year": [1999], "boost": 3}}) == {"2": 3.0}
    assert scores(index, {"term": {"year": {"value": 2010, "boost": 2}}}) == {"3": 2.0}
    with pytest.raises(IllegalArgument, match="terms lookup is not supported"):
        ids(index, {"terms": {"tags": {"index": "x", "id": "1", "path": "t"}}})
    with pytest.raises(ParsingError, match=r"\[term\] query does not support \[analyzer\]"):
        ids(index, {"term": {"tags": {"value": "x", "analyzer": "standard"}}})


def test_range(index: SearchIndex) -> None:
    assert set(ids(index, {"range": {"year": {"gte": 2001}}})) == {"1", "3", "5"}
    assert set(ids(index, {"range": {"year": {"gt": 2001, "lte": 2010}}})) == {"3"}
    assert set(ids(index, {"range": {"year": {"from": 1999, "to": 2001, "include_upper": False}}})) == {"2"}
    assert set(ids(index, {"range": {"rating": {"gt": 2.5, "lt": 4.5}}})) == {"2"}
    assert set(ids(index, {"range": {"published": {"gte": "2000-01-01"}}})) == {"1", "4"}
    assert set(ids(index, {"range": {"published": {"lte": "1999-12-31"}}})) == {"2"}  # rounds up to the day's end
    assert set(ids(index, {"range": {"published": {"lt": "1999-12-31"}}})) == set()
    assert set(ids(index, {"range": {"published": {"gt": "1999-12-31||/d"}}})) == {"1", "4"}
    assert set(ids(index, {"range": {"published": {"gte": "01/05/2001", "format": "dd/MM/yyyy"}}})) == {"1", "4"}
    assert set(ids(index, {"range": {"published": {"gte": "2000-01-01T00:30:00", "time_zone": "+01:00"}}})) == {
        "1",
        "4",
    }
    assert set(ids(index, {"range": {"tags": {"gte": "b", "lt": "color"}}})) == {"1"}
    assert scores(index, {"range": {"year": {"gte": 2010, "boost": 2}}}) == {"3": 2.0}
    with pytest.raises(ParsingError, match=r"\[range\] query does not support \[gte_\]"):
        ids(index, {"range": {"year": {"gte_": 1}}})
    with pytest.raises(QueryShardError):
        ids(index, {"range": {"published": {"gte": "not a date"}}})


def test_exists_ids_prefix_wildcard_regexp(index: SearchIndex) -> None:
    assert set(ids(index, {"exists": {"field": "tags"}})) == {"1", "2", "4"}
    assert set(ids(index, {"exists": {"field": "meta"}})) == {"1", "4"}
    assert set(ids(index, {"exists": {"field": "com*"}})) == {"1", "5"}
    assert set(ids(index, {"exists": {"field": "vec"}})) == {"1"}
    assert ids(index, {"exists": {"field": "missing"}}) == []
    assert ids(index, {"ids": {"values": ["3", "1", "zz"]}}) == ["1", "3"]
    assert set(ids(index, {"prefix": {"tags": "cl"}})) == {"1"}
    assert set(ids(index, {"prefix": {"body": {"value": "sle"}}})) == {"3"}
    assert set(ids(index, {"wildcard": {"tags": {"value": "*or"}}})) == {"4"}
    assert set(ids(index, {"wildcard": {"body": "D?g*"}})) == {"1", "2", "3"}  # lower-cased for text
    assert set(ids(index, {"regexp": {"tags": "an.*l"}})) == {"1", "2"}
    with pytest.raises(QueryShardError, match=r"Field \[year\] of type \[integer\] does not support \[prefix\]"):
        ids(index, {"prefix": {"year": "20"}})


# -- compound ----------------------------------------------------------------------------------------------


def test_bool_semantics(index: SearchIndex) -> None:
    must = scores(index, {"match": {"body": "dog"}})
    should = scores(index, {"match": {"body": "quick"}})
    both = scores(index, {"bool": {"must": [{"match": {"body": "dog"}}], "should": [{"match": {"body": "quick"}}]}})
    assert set(both) == set(must)  # should is optional next to must ...
    assert both["1"] == pytest.approx(must["1"] + should["1"], rel=1e-6)  # ... but adds to the score
    assert both["3"] == must["3"]
    only_should = scores(index, {"bool": {"should": [{"match": {"body": "dog"}}, {"match": {"body": "quick"}}]}})
    assert set(only_should) == {"1", "2", "3"}
    two = {"bool": {"should": [{"match": {"body": "dog"}}, {"match": {"body": "quick"}}], "minimum_should_match": 2}}
    assert set(scores(index, two)) == {"1"}
    filtered = scores(index, {"bool": {"filter": [{"term": {"tags": "animal"}}]}})
    assert filtered == {"1": 0.0, "2": 0.0}  # filter only: score 0
    mixed = scores(index, {"bool": {"must": {"match": {"body": "dog"}}, "filter": {"range": {"year": {"gte": 2005}}}}})
    assert mixed == {"3": must["3"]}  # filters don't add to the score
    negative = scores(index, {"bool": {"must_not": [{"term": {"tags": "animal"}}]}})
    assert negative == {"3": 0.0, "4": 0.0, "5": 0.0}
    assert scores(index, {"bool": {}}) == {k: 1.0 for k in ["1", "2", "3", "4", "5"]}
    # in filter context, should clauses next to must become required (minimum_should_match 1)
    inner = {"bool": {"must": [{"match": {"body": "dog"}}], "should": [{"term": {"tags": "classic"}}]}}
    assert set(scores(index, {"bool": {"filter": [inner]}})) == {"1"}
    assert set(scores(index, inner)) == {"1", "3"}
    boosted = scores(index, {"bool": {"must": [{"match": {"body": "dog"}}], "boost": 2}})
    assert boosted["1"] == pytest.approx(2 * must["1"], rel=1e-6)
    assert scores(index, {"bool": {"must": [{"match": {"body": "dog"}}], "minimum_should_match": 1}}) == {}
    with pytest.raises(ParsingError, match=r"\[bool\] query does not support \[mustnt\]"):
        scores(index, {"bool": {"mustnt": []}})


def test_constant_score_dis_max_boosting(index: SearchIndex) -> None:
    assert scores(index, {"constant_score": {"filter": {"term": {"tags": "animal"}}, "boost": 1.5}}) == {
        "1": 1.5,
        "2": 1.5,
    }
    dog = scores(index, {"match": {"body": "dog"}})
    quick = scores(index, {"match": {"body": "quick"}})
    dm = scores(
        index, {"dis_max": {"queries": [{"match": {"body": "dog"}}, {"match": {"body": "quick"}}], "tie_breaker": 0.5}}
    )
    assert dm["1"] == pytest.approx(max(dog["1"], quick["1"]) + 0.5 * min(dog["1"], quick["1"]), rel=1e-6)
    boosting = scores(
        index,
        {
            "boosting": {
                "positive": {"match": {"body": "dog"}},
                "negative": {"term": {"tags": "classic"}},
                "negative_boost": 0.5,
            }
        },
    )
    assert boosting["1"] == pytest.approx(dog["1"] * 0.5, rel=1e-6) and boosting["3"] == dog["3"]


def test_nested(index: SearchIndex) -> None:
    q = {"nested": {"path": "comments", "query": {"match": {"comments.text": "fox"}}, "score_mode": "max"}}
    assert set(ids(index, q)) == {"1", "5"}
    none = scores(
        index, {"nested": {"path": "comments", "query": {"term": {"comments.author": "bob"}}, "score_mode": "none"}}
    )
    assert none == {"1": 0.0}
    seen: list[Any] = []

    def probe(body: Any, ctx: QueryContext) -> dict[int, float]:
        seen.append(ctx.extra.get("nested"))
        return {}

    QUERY_TYPES["probe"] = probe
    try:
        scores(index, {"nested": {"path": "comments", "query": {"probe": {}}, "score_mode": "max"}})
    finally:
        del QUERY_TYPES["probe"]
    assert seen == [{"path": "comments", "score_mode": "max"}]
    with pytest.raises(QueryShardError, match=r"\[nested\] nested object under path \[meta\] is not of nested type"):
        scores(index, {"nested": {"path": "meta", "query": {"match_all": {}}}})
    with pytest.raises(QueryShardError, match=r"failed to find nested object under path \[nope\]"):
        scores(index, {"nested": {"path": "nope", "query": {"match_all": {}}}})
    assert scores(index, {"nested": {"path": "nope", "query": {"match_all": {}}, "ignore_unmapped": True}}) == {}
    with pytest.raises(IllegalArgument, match="inner_hits"):
        scores(index, {"nested": {"path": "comments", "query": {"match_all": {}}, "inner_hits": {}}})


def test_matching_helper_for_filters(index: SearchIndex) -> None:
    ctx = QueryContext(index)
    assert {index.doc(n).id for n in matching({"term": {"tags": "animal"}}, ctx)} == {"1", "2"}


# -- the search request and response -------------------------------------------------------------------------


def test_response_shape(index: SearchIndex) -> None:
    response = search(index, {"query": {"match": {"body": "fox"}}})
    assert list(response) == ["took", "timed_out", "_shards", "hits"]
    assert isinstance(response["took"], int) and response["timed_out"] is False
    assert response["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    hits = response["hits"]
    assert list(hits) == ["total", "max_score", "hits"]
    assert hits["total"] == {"value": 1, "relation": "eq"}
    (hit,) = hits["hits"]
    assert list(hit) == ["_index", "_id", "_score", "_source"]
    assert hit["_index"] == "books" and hit["_id"] == "1"
    assert hit["_score"] == hits["max_score"]
    assert "vec" not in hit["_source"]  # the mapping's _source.excludes
    assert hit["_source"]["title"] == "The Quick Brown Fox"


def test_scores_render_like_java_floats() -> None:
    assert json_score(0.28768208622932434) == 0.2876821
    assert json_score(float(np.float32(1.1))) == 1.1
    assert json_score(None) is None and json_score(math.nan) is None


def test_paging_and_defaults() -> None:
    many = make_index([(str(i), {"body": f"word {i}", "year": i}) for i in range(1, 26)])
    assert len(search(many, {})["hits"]["hits"]) == 10  # default size; default query match_all
    page = search(many, {"sort": ["year"], "from": 20, "size": 10})["hits"]["hits"]
    assert [h["_id"] for h in page] == ["21", "22", "23", "24", "25"]
    assert search(many, {"size": 0})["hits"] == {
        "total": {"value": 25, "relation": "eq"},
        "max_score": None,
        "hits": [],
    }
    assert search(many, {"track_total_hits": 5})["hits"]["total"] == {"value": 5, "relation": "gte"}
    assert search(many, {"track_total_hits": True})["hits"]["total"] == {"value": 25, "relation": "eq"}
    assert "total" not in search(many, {"track_total_hits": False})["hits"]
    result = execute(many, {"size": 2})
    assert render("alias", result, total_hits_as_int=True)["hits"]["total"] == 25
    assert render("alias", result)["hits"]["hits"][0]["_index"] == "alias"


def test_default_total_hits_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelnode.search.query import request

    many = make_index([(str(i), {"n": i}) for i in range(30)])
    with monkeypatch.context() as m:
        m.setattr(request, "DEFAULT_TRACK_TOTAL_HITS", 20)
        assert search(many, {"size": 1})["hits"]["total"] == {"value": 20, "relation": "gte"}
    assert search(many, {})["hits"]["total"] == {"value": 30, "relation": "eq"}


def test_sort(index: SearchIndex) -> None:
    resp = search(index, {"query": {"match_all": {}}, "sort": [{"year": "desc"}, {"title.keyword": "asc"}]})
    assert [h["_id"] for h in resp["hits"]["hits"]] == ["3", "1", "5", "2", "4"]
    assert [h["sort"] for h in resp["hits"]["hits"]] == [
        [2010, "Lazy Afternoon"],
        [2001, "The Quick Brown Fox"],
        [2001, "Unrelated"],
        [1999, "Quick Brown Dogs"],
        [None, "Brown"],  # missing values sort last in both directions
    ]
    assert resp["hits"]["max_score"] is None and resp["hits"]["hits"][0]["_score"] is None
    first = ids(index, {"match_all": {}}, sort=[{"year": {"order": "asc", "missing": "_first"}}])
    assert first == ["4", "2", "1", "5", "3"]
    assert ids(index, {"match_all": {}}, sort=[{"tags": {"order": "desc"}}])[:2] == ["4", "1"]  # max of a multi-value
    assert ids(index, {"match_all": {}}, sort=["_doc"]) == ["1", "2", "3", "4", "5"]
    assert ids(index, {"match_all": {}}, sort=[{"_id": "desc"}]) == ["5", "4", "3", "2", "1"]
    assert ids(index, {"match_all": {}}, sort=[{"published": "asc"}])[:2] == ["2", "1"]
    scored = search(index, {"query": {"match": {"body": "quick dog"}}, "sort": ["_score", {"year": "asc"}]})
    assert [h["_id"] for h in scored["hits"]["hits"]] == ["1", "2", "3"]
    assert scored["hits"]["max_score"] == scored["hits"]["hits"][0]["_score"] == scored["hits"]["hits"][0]["sort"][0]
    tracked = search(index, {"query": {"match": {"body": "dog"}}, "sort": ["year"], "track_scores": True})
    assert tracked["hits"]["hits"][0]["_score"] is not None and tracked["hits"]["max_score"] is not None
    with pytest.raises(IllegalArgument, match="Text fields are not optimised for operations"):
        search(index, {"sort": ["title"]})
    with pytest.raises(QueryShardError, match=r"No mapping found for \[nope\] in order to sort on"):
        search(index, {"sort": ["nope"]})
    assert len(ids(index, {"match_all": {}}, sort=[{"nope": {"unmapped_type": "long"}}])) == 5


def test_search_after(index: SearchIndex) -> None:
    sort = [{"year": "desc"}, {"title.keyword": "asc"}]
    first = search(index, {"sort": sort, "size": 2})["hits"]["hits"]
    rest = search(index, {"sort": sort, "size": 10, "search_after": first[-1]["sort"]})["hits"]["hits"]
    assert [h["_id"] for h in first + rest] == ["3", "1", "5", "2", "4"]
    with pytest.raises(IllegalArgument, match="search_after has 1 value"):
        search(index, {"sort": sort, "search_after": [2001]})


def test_source_filtering(index: SearchIndex) -> None:
    def source(spec: Any) -> Any:
        hit = search(index, {"query": {"ids": {"values": ["1"]}}, "_source": spec})["hits"]["hits"][0]
        return hit.get("_source")

    assert source(False) is None
    assert source("title") == {"title": "The Quick Brown Fox"}
    assert source(["title", "meta.*"]) == {"title": "The Quick Brown Fox", "meta": {"lang": "en"}}
    assert source({"includes": ["comments.author"]}) == {"comments": [{"author": "ann"}, {"author": "bob"}]}
    assert set(source({"excludes": ["comments", "body", "t*"]})) == {"year", "rating", "published", "available", "meta"}
    hit = search(index, {"query": {"ids": {"values": ["1"]}}, "stored_fields": "_none_"})["hits"]["hits"][0]
    assert "_source" not in hit


def test_flags_fields_min_score_post_filter(index: SearchIndex) -> None:
    hit = search(index, {"query": {"ids": {"values": ["2"]}}, "version": True, "seq_no_primary_term": True})["hits"][
        "hits"
    ][0]
    assert list(hit)[:6] == ["_index", "_id", "_version", "_seq_no", "_primary_term", "_score"]
    assert (hit["_version"], hit["_seq_no"], hit["_primary_term"]) == (1, 1, 1)
    fields = search(
        index,
        {"query": {"ids": {"values": ["1"]}}, "fields": ["tags", "title.keyword"], "docvalue_fields": ["published"]},
    )
    assert fields["hits"]["hits"][0]["fields"] == {
        "tags": ["animal", "classic"],
        "title.keyword": ["The Quick Brown Fox"],
        "published": ["2001-05-01T00:00:00.000Z"],
    }
    all_scores = scores(index, {"match": {"body": "quick dog"}})
    cut = sorted(all_scores.values())[1]
    kept = search(index, {"query": {"match": {"body": "quick dog"}}, "min_score": cut})
    assert kept["hits"]["total"]["value"] == 2
    post = search(index, {"query": {"match": {"body": "dog"}}, "post_filter": {"term": {"tags": "classic"}}})
    assert [h["_id"] for h in post["hits"]["hits"]] == ["1"] and post["hits"]["total"]["value"] == 1
    early = search(index, {"terminate_after": 2})
    assert early["terminated_early"] is True and early["hits"]["total"]["value"] == 2


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"aggs": {"x": {}}}, IllegalArgument, "aggregations are not supported"),
        ({"aggregations": {}}, IllegalArgument, "aggregations are not supported"),
        ({"foo": {}}, ParsingError, "Unknown key for a START_OBJECT in [foo]."),
        ({"foo": 1}, ParsingError, "Unknown key for a VALUE_NUMBER in [foo]."),
        ({"foo": [1]}, ParsingError, "Unknown key for a START_ARRAY in [foo]."),
        ({"size": -1}, IllegalArgument, "[size] parameter cannot be negative, found [-1]"),
        ({"from": -2}, IllegalArgument, "[from] parameter cannot be negative, found [-2]"),
        ({"size": "ten"}, ParsingError, "[size] must be an integer"),
        (
            {"from": 9995, "size": 10},
            IllegalArgument,
            "Result window is too large, from + size must be less than or equal to: [10000] but was [10005]",
        ),
        ({"sort": [{"year": "up"}]}, IllegalArgument, "Unknown SortOrder [up]"),
        ({"_source": 3}, ParsingError, "[_source] must be a boolean"),
        ({"collapse": {"field": "tags"}}, IllegalArgument, "[collapse] is not supported"),
        (
            {"query": {"match": {"body": "x"}}, "highlight": {"fields": {"body": {"type": "magic"}}}},
            IllegalArgument,
            "unknown highlighter type [magic] for the field [body]",
        ),
    ],
)
def test_request_errors(index: SearchIndex, body: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        search(index, body)
    assert message in str(info.value)


def test_passthrough_keys_are_accepted(index: SearchIndex) -> None:
    assert (
        search(index, {"ext": {"rerank": {}}, "timeout": "1s", "explain": True, "profile": False})["hits"]["total"][
            "value"
        ]
        == 5
    )


def test_count(index: SearchIndex) -> None:
    assert count(index) == 5
    assert count(index, {"query": {"match": {"body": "dog"}}}) == 2
    with pytest.raises(ParsingError, match=r"request does not support \[size\]"):
        count(index, {"size": 1})


def test_phase_results_and_precomputed_scores(index: SearchIndex) -> None:
    def halve(found: dict[int, float], ctx: QueryContext) -> dict[int, float]:
        assert ctx.size == 10
        return {d: s / 2 for d, s in found.items() if index.doc(d).id != "2"}

    plain = scores(index, {"match": {"body": "dog"}})
    result = execute(index, {"query": {"match": {"body": "dog"}}}, phase_results=halve)
    assert {h.stored.id: h.score for h in result.hits} == {k: v / 2 for k, v in plain.items() if k != "2"}
    n1, n3 = index.by_id["1"], index.by_id["3"]
    response = render_scores(
        index,
        {"size": 1, "query": {"match": {"body": "fox"}}, "highlight": {"fields": {"body": {}}}},
        {n1: 0.9, n3: 0.5},
        7,
    )
    assert response["hits"]["total"] == {"value": 7, "relation": "eq"}
    assert [h["_id"] for h in response["hits"]["hits"]] == ["1"]
    assert response["hits"]["max_score"] == 0.9
    assert response["hits"]["hits"][0]["highlight"] == {"body": ["a quick brown <em>fox</em> jumps over the lazy dog"]}


def test_efficient_enough_for_ten_thousand_docs() -> None:
    import time

    rng = np.random.default_rng(0)
    words = rng.integers(0, 500, size=(10_000, 40))
    docs = [(str(i), {"body": " ".join(f"w{w}" for w in row), "n": i}) for i, row in enumerate(words.tolist())]
    idx = make_index(docs, {"properties": {"body": {"type": "text"}, "n": {"type": "long"}}})
    started = time.perf_counter()
    body = {"query": {"bool": {"must": {"match": {"body": "w1 w2 w3"}}, "filter": {"range": {"n": {"lt": 5000}}}}}}
    response = search(idx, body)
    assert response["hits"]["total"]["value"] > 0
    search(idx, {"query": {"match_phrase": {"body": "w1 w2"}}, "sort": [{"n": "desc"}]})
    assert time.perf_counter() - started < 0.5
