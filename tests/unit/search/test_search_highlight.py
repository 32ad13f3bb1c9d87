from __future__ import annotations

from typing import Any

import pytest

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search.core import SearchIndex, StoredDoc
from modelnode.search.highlight import (
    HIGHLIGHTERS,
    TERM_EXTRACTORS,
    HighlightRequest,
    TermMatcher,
    apply_spans,
    deferred_fields,
    parse_spec,
)
from modelnode.search.mapping import Mapping
from modelnode.search.query import execute, search

LONG = (
    "Foxes are small omnivorous mammals. The red fox is the largest of the true foxes. "
    "A fox lives in a den. Many people think a fox is clever, and some stories say the fox tricks the crow. "
    "Nothing about dogs here."
)


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    m = Mapping.parse(
        {
            "properties": {
                "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "body": {"type": "text"},
                "notes": {"type": "text"},
                "tag": {"type": "keyword"},
                "n": {"type": "long"},
            }
        }
    )
    idx = SearchIndex("h", m, {})
    docs = [
        (
            "1",
            {"title": "The Quick Brown Fox", "body": LONG, "notes": ["quick note", "a fox note"], "tag": "Fox", "n": 1},
        ),
        ("2", {"title": "quick brown dogs and the quick <b> cat", "body": "brown & quick / fast", "tag": "dog"}),
    ]
    for doc_id, src in docs:
        idx.put(StoredDoc(doc_id, src))
    return idx


def hl(
    index: SearchIndex, query: dict[str, Any], highlight: dict[str, Any], doc: str = "1"
) -> dict[str, list[str]] | None:
    response = search(index, {"query": query, "highlight": highlight})
    for hit in response["hits"]["hits"]:
        if hit["_id"] == doc:
            return hit.get("highlight")
    raise AssertionError(f"doc {doc} not found")


def test_basic_match_highlight(index: SearchIndex) -> None:
    got = hl(index, {"match": {"title": "quick fox"}}, {"fields": {"title": {}}})
    assert got == {"title": ["The <em>Quick</em> Brown <em>Fox</em>"]}
    custom = hl(index, {"match": {"title": "fox"}}, {"pre_tags": ["["], "post_tags": ["]"], "fields": {"title": {}}})
    assert custom == {"title": ["The Quick Brown [Fox]"]}


def test_fragments(index: SearchIndex) -> None:
    q = {"match": {"body": "fox"}}
    whole = hl(index, q, {"fields": {"body": {"number_of_fragments": 0}}})
    assert whole == {"body": [LONG.replace(" fox ", " <em>fox</em> ")]}
    frags = hl(index, q, {"fields": {"body": {"fragment_size": 40}}})
    assert frags is not None
    assert all("<em>fox</em>" in f for f in frags["body"])
    assert len(frags["body"]) == 4 and all(len(f.replace("<em>", "").replace("</em>", "")) <= 60 for f in frags["body"])
    # text order by default; "score": the most distinct matched terms first
    two = {"match": {"body": "fox crow"}}
    ordered = hl(index, two, {"fields": {"body": {"fragment_size": 40, "number_of_fragments": 2}}})
    by_score = hl(index, two, {"order": "score", "fields": {"body": {"fragment_size": 40, "number_of_fragments": 2}}})
    assert ordered is not None and by_score is not None
    assert "<em>crow</em>" in by_score["body"][0]
    assert LONG.index(_plain(ordered["body"][0])) < LONG.index(_plain(ordered["body"][1]))


def _plain(fragment: str) -> str:
    return fragment.replace("<em>", "").replace("</em>", "")


def test_phrases_highlight_only_the_phrase(index: SearchIndex) -> None:
    got = hl(index, {"match_phrase": {"title": "quick brown"}}, {"fields": {"title": {}}}, doc="2")
    assert got == {"title": ["<em>quick</em> <em>brown</em> dogs and the quick <b> cat"]}


def test_term_level_and_keyword_fields(index: SearchIndex) -> None:
    assert hl(index, {"term": {"tag": "Fox"}}, {"fields": {"tag": {}}}) == {"tag": ["<em>Fox</em>"]}
    assert hl(index, {"term": {"title.keyword": "The Quick Brown Fox"}}, {"fields": {"title.keyword": {}}}) == {
        "title.keyword": ["<em>The Quick Brown Fox</em>"]
    }
    assert hl(index, {"prefix": {"title": "qui"}}, {"fields": {"title": {}}}) == {
        "title": ["The <em>Quick</em> Brown Fox"]
    }
    assert hl(index, {"wildcard": {"title": "*ow*"}}, {"fields": {"title": {}}}) == {
        "title": ["The Quick <em>Brown</em> Fox"]
    }
    assert hl(index, {"match": {"n": 1}}, {"fields": {"n": {}}}) is None  # numbers are not highlighted


def test_bool_clauses_and_field_matching(index: SearchIndex) -> None:
    should = {"bool": {"should": [{"match": {"title": "fox"}}], "must_not": [{"term": {"tag": "x"}}]}}
    assert hl(index, should, {"fields": {"title": {}}}) == {"title": ["The Quick Brown <em>Fox</em>"]}
    filtered = hl(index, {"bool": {"filter": {"match": {"title": "brown"}}}}, {"fields": {"title": {}}})
    assert filtered == {"title": ["The Quick <em>Brown</em> Fox"]}  # filter clauses highlight too
    excluded = hl(
        index,
        {"bool": {"must": {"match": {"title": "fox"}}, "must_not": {"match": {"tag": "quick"}}}},
        {"require_field_match": False, "fields": {"notes": {}}},
    )
    assert excluded == {"notes": ["a <em>fox</em> note"]}  # must_not terms are not highlighted
    # require_field_match: false applies the query's terms to every highlighted field
    loose = hl(
        index,
        {"match": {"title": "fox"}},
        {"require_field_match": False, "fields": {"body": {"number_of_fragments": 1, "fragment_size": 20}}},
    )
    assert loose is not None and "<em>" in loose["body"][0]
    strict = hl(index, {"match": {"title": "fox"}}, {"fields": {"body": {}}})
    assert strict is None
    wildcard = hl(index, {"match": {"title": "fox"}}, {"require_field_match": False, "fields": {"ti*": {}}})
    assert wildcard == {"title": ["The Quick Brown <em>Fox</em>"]}  # title.keyword's whole value did not match
    override = hl(
        index, {"match": {"title": "fox"}}, {"fields": {"title": {"highlight_query": {"match": {"title": "brown"}}}}}
    )
    assert override == {"title": ["The Quick <em>Brown</em> Fox"]}


def test_options(index: SearchIndex) -> None:
    nothing = hl(index, {"match": {"title": "fox"}}, {"fields": {"body": {"no_match_size": 20}}})
    assert nothing == {"body": ["Foxes are small"]}  # no match: the first tokens up to no_match_size
    encoded = hl(index, {"match": {"title": "cat"}}, {"encoder": "html", "fields": {"title": {}}}, doc="2")
    assert encoded == {"title": ["quick brown dogs and the quick &lt;b&gt; <em>cat</em>"]}
    styled = hl(index, {"match": {"title": "fox"}}, {"tags_schema": "styled", "fields": [{"title": {}}]})
    assert styled == {"title": ['The Quick Brown <em class="hlt1">Fox</em>']}


def test_spec_validation() -> None:
    with pytest.raises(ParsingError, match=r"\[highlight\] unknown field \[colour\]"):
        parse_spec({"colour": "red", "fields": {}})
    with pytest.raises(ParsingError, match=r"\[highlight_field\] unknown field \[nope\]"):
        parse_spec({"fields": {"body": {"nope": 1}}})
    with pytest.raises(IllegalArgument, match=r"unknown highlighter type \[magic\] for the field \[body\]"):
        parse_spec({"fields": {"body": {"type": "magic"}}})
    with pytest.raises(IllegalArgument, match=r"\[fragment_size\] must be >= 0"):
        parse_spec({"fields": {"body": {"fragment_size": -1}}})
    spec = parse_spec({"pre_tags": ["<b>"], "options": {"model_id": "m"}, "fields": {"body": {"type": "semantic"}}})
    ((name, options),) = spec.fields
    assert name == "body" and options.type == "semantic" and options.options == {"model_id": "m"}
    assert options.pre_tags == ["<b>"]


def test_semantic_fields_are_deferred(index: SearchIndex) -> None:
    body = {"query": {"match": {"title": "fox"}}, "highlight": {"fields": {"title": {}, "body": {"type": "semantic"}}}}
    result = execute(index, body)
    assert result.request.highlight is not None
    assert [f for f, _ in deferred_fields(index, result.request.highlight)] == ["body"]
    result.hits[0].highlight["body"] = ["filled by the semantic highlighter"]
    from modelnode.search.query import render

    hit = render("h", result)["hits"]["hits"][0]
    assert hit["highlight"] == {
        "title": ["The Quick Brown <em>Fox</em>"],
        "body": ["filled by the semantic highlighter"],
    }


def test_extension_points(index: SearchIndex) -> None:
    def shout(req: HighlightRequest) -> list[str] | None:
        return [v.upper() for v in req.values] if req.matcher else None

    def extract_custom(body: Any, idx: SearchIndex, add: Any, walk: Any) -> None:
        add(body["field"], TermMatcher(terms={body["term"]}))

    HIGHLIGHTERS["shout"] = shout
    TERM_EXTRACTORS["custom_q"] = extract_custom
    try:
        spec = {"fields": {"title": {"type": "shout"}}}
        assert hl(index, {"bool": {"must": {"match": {"title": "fox"}}, "should": {"match_none": {}}}}, spec) == {
            "title": ["THE QUICK BROWN FOX"]
        }
        from modelnode.search.highlight import Highlighter

        highlighter = Highlighter(
            index, parse_spec({"fields": {"title": {}}}), {"custom_q": {"field": "title", "term": "brown"}}
        )
        assert dict(highlighter.highlight(index.doc(0))) == {"title": ["The Quick <em>Brown</em> Fox"]}
    finally:
        del HIGHLIGHTERS["shout"]
        del TERM_EXTRACTORS["custom_q"]


def test_apply_spans() -> None:
    assert apply_spans("Hello brave world", [(0, 5), (12, 17)]) == "<em>Hello</em> brave <em>world</em>"
    assert apply_spans("a<b", [(0, 3)], "<mark>", "</mark>", encoder="html") == "<mark>a&lt;b</mark>"
    for bad in ([(3, 5), (0, 2)], [(0, 4), (2, 6)], [(0, 99)], [(4, 2)]):
        with pytest.raises(IllegalArgument, match="Invalid highlight positions"):
            apply_spans("Hello brave world"[:10], bad)
