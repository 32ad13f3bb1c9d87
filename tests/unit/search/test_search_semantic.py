"""The semantic highlighter: question extraction, tag placement, request splitting, per-hit calls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.search.semantic_highlight import (
    apply_tags,
    extract_question,
    highlight_hits,
    html_escape,
    split_highlight,
)

TEXT = "Alzheimer's is common. Treatments slow it down. Diet matters too."


# --- question extraction -------------------------------------------------------------------------


def test_neural_gives_its_query_text_for_any_field() -> None:
    query = {"neural": {"embedding": {"query_text": "treatments for neurodegenerative diseases", "model_id": "m"}}}
    assert extract_question(query, "text") == "treatments for neurodegenerative diseases"


def test_term_only_on_the_highlighted_field() -> None:
    assert extract_question({"term": {"text": "Treatments"}}, "text") == "Treatments"
    assert extract_question({"term": {"text": {"value": "x"}}}, "text") == "x"
    assert extract_question({"term": {"other": "x"}}, "text") == ""


def test_match_gives_the_analyzed_terms() -> None:
    assert extract_question({"match": {"text": "How do Treatments WORK?"}}, "text") == "how do treatments work"
    assert extract_question({"match": {"text": {"query": "Slow-down"}}}, "text") == "slow down"
    assert extract_question({"match": {"other": "x"}}, "text") == ""
    stem = extract_question({"match": {"text": "running"}}, "text", analyze=lambda f, t: ["run"])
    assert stem == "run"
    assert extract_question({"match": {"tag": "Mixed Case"}}, "tag", keyword_fields=frozenset({"tag"})) == "Mixed Case"


def test_bool_joins_non_prohibited_clauses() -> None:
    query = {
        "bool": {
            "must": [{"match": {"text": "alpha"}}],
            "should": {"term": {"text": "beta"}},
            "filter": [{"term": {"text": "gamma"}}, {"range": {"n": {"gte": 1}}}],
            "must_not": [{"term": {"text": "delta"}}],
        }
    }
    assert extract_question(query, "text") == "alpha beta gamma"  # Lucene clause order: must, should, filter


def test_nested_and_hybrid() -> None:
    nested = {"nested": {"path": "c", "query": {"neural": {"c.knn": {"query_text": "q"}}}}}
    assert extract_question(nested, "text") == "q"
    hybrid = {
        "hybrid": {
            "queries": [
                {"match": {"text": "wild west"}},
                {"neural": {"emb": {"query_text": "wild west"}}},
                {"neural": {"emb": {"query_text": "cowboys"}}},
            ]
        }
    }
    assert extract_question(hybrid, "text") == "wild west cowboys"  # distinct texts


@pytest.mark.parametrize(
    "query",
    [{"match_all": {}}, {"knn": {"v": {"vector": [1], "k": 1}}}, {"match_phrase": {"text": "a b"}}, None],
)
def test_queries_without_text(query: Any) -> None:
    assert not extract_question(query, "text")


# --- tag placement -------------------------------------------------------------------------------


def test_spans_are_wrapped_and_the_rest_kept() -> None:
    spans = [{"start": 23, "end": 47}]
    assert apply_tags(TEXT, spans, "<em>", "</em>") == (
        "Alzheimer's is common. <em>Treatments slow it down.</em> Diet matters too."
    )
    two = [{"start": 0, "end": 22}, {"start": 48, "end": 65}]
    assert apply_tags(TEXT, two, "<b>", "</b>") == (
        "<b>Alzheimer's is common.</b> Treatments slow it down. <b>Diet matters too.</b>"
    )


def test_html_encoder_escapes_text_not_tags() -> None:
    text = "a<b & 'c'/d"
    assert apply_tags(text, [{"start": 0, "end": 3}], "<em>", "</em>", html=True) == (
        "<em>a&lt;b</em> &amp; &#x27;c&#x27;&#x2F;d"
    )
    assert html_escape('"') == "&quot;"


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([{"start": "a", "end": 3}], "must be numeric"),
        ([{"start": 5, "end": 3}], "Positions must satisfy"),
        ([{"start": 0, "end": 999}], "Positions must satisfy"),
        ([{"start": 10, "end": 12}, {"start": 2, "end": 4}], "not sorted"),
        ([{"start": 2, "end": 4}, {"start": 2, "end": 6}], "duplicate start position 2"),
        ([{"start": 2, "end": 8}, {"start": 5, "end": 9}], "overlapping spans"),
    ],
)
def test_invalid_spans_are_errors(spans: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ModelNodeError, match=message):
        apply_tags(TEXT, spans, "<em>", "</em>")


# --- request splitting and per-hit highlighting --------------------------------------------------


def test_split_highlight_separates_semantic_fields() -> None:
    highlight = {
        "pre_tags": ["<x>"],
        "options": {"model_id": "global"},
        "fields": {
            "text": {"type": "semantic"},
            "title": {},
            "body": {"type": "semantic", "options": {"model_id": "f"}},
        },
    }
    plain, semantic = split_highlight(highlight)
    assert plain == {"pre_tags": ["<x>"], "options": {"model_id": "global"}, "fields": {"title": {}}}
    assert semantic == [
        ("text", {"pre_tags": ["<x>"], "type": "semantic", "options": {"model_id": "global"}}),
        ("body", {"pre_tags": ["<x>"], "type": "semantic", "options": {"model_id": "f"}}),
    ]
    only, sem = split_highlight({"type": "semantic", "fields": [{"text": {}}], "options": {"model_id": "m"}})
    assert only is None and sem[0][0] == "text"
    untouched = {"fields": {"title": {}}}
    assert split_highlight(untouched) == (untouched, [])


class FakeEncoder:
    def __init__(self, spans: list[dict[str, Any]]) -> None:
        self.spans = spans
        self.calls: list[tuple[str, str, str]] = []

    async def highlight(self, model_id: str, question: str, context: str) -> list[dict[str, Any]]:
        self.calls.append((model_id, question, context))
        return self.spans


def run_highlight(encoder: FakeEncoder, sources: list[Any], opts: dict[str, Any], query: Any) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = [{"_id": str(i)} for i in range(len(sources))]
    asyncio.run(highlight_hits(hits, sources, [("text", opts)], query, encoder))  # type: ignore[arg-type]
    return hits


QUERY = {"neural": {"emb": {"query_text": "treatments", "model_id": "emb-model"}}}


def test_each_hit_gets_one_fragment_with_the_first_tags() -> None:
    encoder = FakeEncoder([{"start": 23, "end": 47, "text": "Treatments slow it down.", "position": 1}])
    opts = {"options": {"model_id": "hl"}, "pre_tags": ["<mark>", "<other>"], "post_tags": ["</mark>", "</other>"]}
    hits = run_highlight(encoder, [{"text": TEXT}, {"text": None}, {"nested": {}}], opts, QUERY)
    assert hits[0]["highlight"] == {
        "text": ["Alzheimer's is common. <mark>Treatments slow it down.</mark> Diet matters too."]
    }
    assert "highlight" not in hits[1] and "highlight" not in hits[2]  # no text: no call, no entry
    assert encoder.calls == [("hl", "treatments", TEXT)]


def test_no_span_means_no_entry_unless_no_match_size() -> None:
    encoder = FakeEncoder([])
    assert "highlight" not in run_highlight(encoder, [{"text": TEXT}], {"options": {"model_id": "hl"}}, QUERY)[0]
    hits = run_highlight(encoder, [{"text": TEXT}], {"options": {"model_id": "hl"}, "no_match_size": 11}, QUERY)
    assert hits[0]["highlight"] == {"text": ["Alzheimer's"]}


def test_no_question_means_no_call() -> None:
    encoder = FakeEncoder([{"start": 0, "end": 3}])
    hits = run_highlight(encoder, [{"text": TEXT}], {"options": {"model_id": "hl"}}, {"match_all": {}})
    assert "highlight" not in hits[0] and encoder.calls == []


def test_model_id_is_required() -> None:
    with pytest.raises(IllegalArgument, match="model_id must be a non-null string"):
        run_highlight(FakeEncoder([]), [{"text": TEXT}], {"options": {}}, QUERY)
