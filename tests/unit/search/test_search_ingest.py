"""Ingest pipelines: parsing and validation, the neural-search processors (field_map shapes, batching,
skip_existing, pruning, chunking) and the core processors, against a fake Encoder."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from modelnode.errors import IllegalArgument, ModelNodeError, ParseError
from modelnode.search import ingest
from modelnode.search.ingest import IngestDocument, RunContext, ScriptError, parse_pipeline, prune

DOC_EXAMPLE = (
    "This is an example document to be chunked. The document contains a single paragraph, two sentences and 24 "
    "tokens by standard tokenizer in OpenSearch."
)


class FakeEncoder:
    """Dense: [len(text), number of words]; sparse: {word: len(word)}; records every call."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []
        self.fail_on = fail_on

    async def text_embedding(self, model_id: str, texts: list[str]) -> list[list[float]]:
        self.calls.append(("dense", model_id, list(texts)))
        if self.fail_on is not None and self.fail_on in texts:
            raise IllegalArgument("Model not ready yet. Please deploy the model first.")
        return [[float(len(t)), float(len(t.split()))] for t in texts]

    async def sparse_encoding(self, model_id: str, texts: list[str]) -> list[dict[str, float]]:
        self.calls.append(("sparse", model_id, list(texts)))
        return [{w: float(len(w)) for w in t.split()} for t in texts]

    async def similarity(self, model_id: str, query_text: str, texts: list[str]) -> list[float]:
        raise NotImplementedError

    async def highlight(self, model_id: str, question: str, context: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def function_name(self, model_id: str) -> str:
        return "TEXT_EMBEDDING"


def run(
    body: dict[str, Any],
    *sources: dict[str, Any],
    encoder: Any = None,
    existing: list[Any] | None = None,
    verbose: bool = False,
) -> list[IngestDocument]:
    pipeline = parse_pipeline("p", body)
    docs = [IngestDocument("idx", str(i), src, (existing or [None] * len(sources))[i]) for i, src in enumerate(sources)]
    asyncio.run(ingest.execute(pipeline, docs, RunContext(encoder, verbose=verbose)))
    return docs


def embed(field_map: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"processors": [{"text_embedding": {"model_id": "m", "field_map": field_map, **extra}}]}


def as_lists(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: as_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_lists(v) for v in value]
    if isinstance(value, np.floating):
        return float(value)
    return value


# -- text_chunking -------------------------------------------------------------------------------
def chunking(algorithm: dict[str, Any], field_map: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "processors": [
            {"text_chunking": {"algorithm": algorithm, "field_map": field_map or {"text": "chunks"}, **extra}}
        ]
    }


def test_fixed_token_length_gives_the_documented_three_chunks() -> None:
    (doc,) = run(
        chunking({"fixed_token_length": {"token_limit": 10, "overlap_rate": 0.2, "tokenizer": "standard"}}),
        {"text": DOC_EXAMPLE},
    )
    assert doc.error is None
    assert doc.source["chunks"] == [
        "This is an example document to be chunked. The document ",
        "The document contains a single paragraph, two sentences and 24 ",
        "and 24 tokens by standard tokenizer in OpenSearch.",
    ]


def test_fixed_token_length_defaults_and_limits() -> None:
    (doc,) = run(chunking({"fixed_token_length": {}}), {"text": DOC_EXAMPLE})
    assert doc.source["chunks"] == [DOC_EXAMPLE]  # 384 tokens per chunk by default
    # max_chunk_limit: the remaining text becomes the last chunk
    (doc,) = run(chunking({"fixed_token_length": {"token_limit": 5, "max_chunk_limit": 2}}), {"text": DOC_EXAMPLE})
    assert doc.source["chunks"] == ["This is an example document ", DOC_EXAMPLE[len("This is an example document ") :]]
    # only punctuation: no tokens, no chunk
    (doc,) = run(chunking({"fixed_token_length": {"token_limit": 5}}), {"text": "... !!!"})
    assert doc.source["chunks"] == []


def test_max_chunk_limit_counts_across_fields() -> None:
    body = chunking({"delimiter": {"delimiter": ".", "max_chunk_limit": 3}}, {"a": "a_chunks", "b": "b_chunks"})
    (doc,) = run(body, {"a": "1.2.3.", "b": "4.5."})
    # 2 strings to chunk, limit 3: a gets 1 + the rest... as neural-search's runtime counter does
    assert doc.source["a_chunks"] == ["1.", "2.3."]
    assert doc.source["b_chunks"] == ["4.5."]


def test_delimiter_and_fixed_char_length() -> None:
    (doc,) = run(chunking({"delimiter": {}}), {"text": "one\n\ntwo\n\nthree"})
    assert doc.source["chunks"] == ["one\n\n", "two\n\n", "three"]
    (doc,) = run(chunking({"delimiter": {"delimiter": "."}}), {"text": "a. b. "})
    assert doc.source["chunks"] == ["a.", " b.", " "]
    (doc,) = run(chunking({"fixed_char_length": {"char_limit": 4, "overlap_rate": 0.5}}), {"text": "abcdefghij"})
    assert doc.source["chunks"] == ["abcd", "cdef", "efgh", "ghij"]
    (doc,) = run(chunking({"fixed_char_length": {"char_limit": 20}}), {"text": "short"})
    assert doc.source["chunks"] == ["short"]


def test_chunking_lists_nested_maps_and_missing_fields() -> None:
    body = chunking({"delimiter": {"delimiter": " "}}, {"body": {"text": "chunks"}, "title": "title_chunks"})
    (doc,) = run(body, {"body": [{"text": "a b"}, {"text": "c"}], "title": ["x y", "z"]})
    assert doc.source["body"] == [{"text": "a b", "chunks": ["a ", "b"]}, {"text": "c", "chunks": ["c"]}]
    assert doc.source["title_chunks"] == ["x ", "y", "z"]
    # a missing field gives [] unless ignore_missing
    (doc,) = run(chunking({"delimiter": {}}), {"other": 1})
    assert doc.source == {"other": 1, "chunks": []}
    (doc,) = run(chunking({"delimiter": {}}, ignore_missing=True), {"other": 1})
    assert doc.source == {"other": 1}
    (doc,) = run(chunking({"delimiter": {}}), {"text": ""})
    assert doc.source["chunks"] == []
    (doc,) = run(chunking({"delimiter": {}}), {"text": 42})
    assert isinstance(doc.error, ModelNodeError) and "neither string nor nested type" in doc.error.reason


@pytest.mark.parametrize(
    ("algorithm", "message"),
    [
        ({"fixed_token_length": {"overlap_rate": 0.6}}, "Parameter [overlap_rate] must be between 0.0 and 0.5"),
        ({"fixed_token_length": {"token_limit": 0}}, "Parameter [token_limit] must be positive."),
        ({"fixed_token_length": {"token_limit": "x"}}, "Parameter [token_limit] must be of java.lang.Integer type"),
        ({"fixed_token_length": {"tokenizer": "ngram"}}, "Tokenizer [ngram] is not supported"),
        ({"fixed_token_length": {"max_chunk_limit": 0}}, "Parameter [max_chunk_limit] must be positive or -1"),
        ({"delimiter": {"delimiter": ""}}, "Parameter [delimiter] should not be empty."),
        ({"semantic": {}}, "Chunking algorithm [semantic] is not supported."),
        ({"delimiter": {}, "fixed_token_length": {}}, "contains multiple algorithms"),
        ({"delimiter": "x"}, "parameters for [delimiter] algorithm must be an object"),
    ],
)
def test_chunking_configuration_errors(algorithm: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelNodeError) as e:
        parse_pipeline("p", chunking(algorithm))
    assert message in e.value.reason


def test_chunking_token_count_limit_fails_the_document() -> None:
    pipeline = parse_pipeline("p", chunking({"fixed_token_length": {"token_limit": 2}}))
    doc = IngestDocument("idx", "1", {"text": "a b c d"})
    asyncio.run(ingest.execute(pipeline, [doc], RunContext(None, max_token_count=3)))
    assert doc.error is not None and doc.error.status == 500
    assert "exceeded the allowed maximum of [3]" in doc.error.reason


# -- text_embedding field_map shapes ----------------------------------------------------------------
def test_string_list_dot_path_and_nested_map_shapes() -> None:
    enc = FakeEncoder()
    (doc,) = run(embed({"text": "vec"}), {"text": "hello world"}, encoder=enc)
    assert as_lists(doc.source["vec"]) == [11.0, 2.0]
    assert doc.source["vec"].dtype == np.float32  # Java Float: _source prints float32's shortest form

    (doc,) = run(embed({"chunks": "vec"}), {"chunks": ["a", "bb"]}, encoder=enc)
    assert as_lists(doc.source["vec"]) == [{"knn": [1.0, 1.0]}, {"knn": [2.0, 1.0]}]

    (doc,) = run(embed({"obj.text": "vec"}), {"obj": {"text": "abc"}}, encoder=enc)
    assert as_lists(doc.source) == {"obj": {"text": "abc", "vec": [3.0, 1.0]}}

    # the documented quirk: a full output path repeats the parent
    (doc,) = run(embed({"obj.text": "obj.vec"}), {"obj": {"text": "abc"}}, encoder=enc)
    assert as_lists(doc.source) == {"obj": {"text": "abc", "obj": {"vec": [3.0, 1.0]}}}

    (doc,) = run(embed({"obj": {"text": "vec"}}), {"obj": {"text": "abc"}}, encoder=enc)
    assert as_lists(doc.source) == {"obj": {"text": "abc", "vec": [3.0, 1.0]}}

    # a list of objects: each object gets its own vector
    (doc,) = run(embed({"items": {"text": "vec"}}), {"items": [{"text": "a"}, {"text": "bcd"}]}, encoder=enc)
    assert as_lists(doc.source["items"]) == [{"text": "a", "vec": [1.0, 1.0]}, {"text": "bcd", "vec": [3.0, 1.0]}]

    # top-level input, nested output path
    (doc,) = run(embed({"text": "out.vec"}), {"text": "ab"}, encoder=enc)
    assert as_lists(doc.source) == {"text": "ab", "out": {"vec": [2.0, 1.0]}}


def test_missing_or_null_input_writes_nothing_and_calls_no_model() -> None:
    enc = FakeEncoder()
    docs = run(embed({"text": "vec"}), {"other": "x"}, {"text": None}, encoder=enc)
    assert [d.source for d in docs] == [{"other": "x"}, {"text": None}]
    assert all(d.error is None for d in docs)
    assert enc.calls == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"text": ""}, "map type field [text] has empty string value, cannot process it"),
        ({"text": 5}, "map type field [text] is neither string nor nested type, cannot process it"),
        ({"text": ["a", None]}, "list type field [text] has null, cannot process it"),
        ({"text": ["a", 1]}, "list type field [text] has non string value, cannot process it"),
        ({"text": [" "]}, "list type field [text] has empty string, cannot process it"),
        ({"text": [["a"]]}, "list type field [text] is nested list type, cannot process it"),
        ({"text": {"a": "b"}}, "[text] configuration doesn't match actual value type"),
    ],
)
def test_bad_input_values_fail_that_document_only(source: dict[str, Any], message: str) -> None:
    enc = FakeEncoder()
    bad, good = run(embed({"text": "vec"}), source, {"text": "fine"}, encoder=enc)
    assert bad.error is not None and message in bad.error.reason and bad.error.status == 400
    assert good.error is None and as_lists(good.source["vec"]) == [4.0, 1.0]


# -- batching ----------------------------------------------------------------------------------------
def test_documents_are_encoded_in_batches_sorted_by_length() -> None:
    enc = FakeEncoder()
    texts = ["ccc", "a", "bbbbb", "dd", "e"]
    docs = run(embed({"text": "vec"}, batch_size=2), *({"text": t} for t in texts), encoder=enc)
    assert [c[2] for c in enc.calls] == [["a", "ccc"], ["dd", "bbbbb"], ["e"]]
    assert [as_lists(d.source["vec"])[0] for d in docs] == [3.0, 1.0, 5.0, 2.0, 1.0]  # order restored


def test_a_batch_failure_fails_its_documents_only() -> None:
    enc = FakeEncoder(fail_on="boom")
    docs = run(embed({"text": "vec"}, batch_size=2), {"text": "ok"}, {"text": "boom"}, {"text": "fine"}, encoder=enc)
    assert [d.error is not None for d in docs] == [True, True, False]
    assert docs[0].error is not None and docs[0].error.reason == "Model not ready yet. Please deploy the model first."
    assert as_lists(docs[2].source["vec"]) == [4.0, 1.0]


def test_skip_existing_copies_unchanged_embeddings() -> None:
    enc = FakeEncoder()
    stored = {"text": "same", "vec": [9.0, 9.0], "title": "old", "tvec": [1.0, 1.0]}
    body = embed({"text": "vec", "title": "tvec"}, skip_existing=True)
    (doc,) = run(body, {"text": "same", "title": "new title"}, encoder=enc, existing=[stored])
    assert enc.calls == [("dense", "m", ["new title"])]
    assert as_lists(doc.source) == {"text": "same", "title": "new title", "vec": [9.0, 9.0], "tvec": [9.0, 2.0]}
    # without the flag everything is encoded again
    enc2 = FakeEncoder()
    run(embed({"text": "vec"}), {"text": "same"}, encoder=enc2, existing=[stored])
    assert enc2.calls == [("dense", "m", ["same"])]


# -- sparse_encoding and pruning ------------------------------------------------------------------------
def test_sparse_encoding_shapes_and_pruning() -> None:
    enc = FakeEncoder()
    body = {
        "processors": [
            {
                "sparse_encoding": {
                    "model_id": "s",
                    "prune_type": "max_ratio",
                    "prune_ratio": 0.5,
                    "field_map": {"text": "sv", "parts": "pv"},
                }
            }
        ]
    }
    (doc,) = run(body, {"text": "a bbbb cc", "parts": ["x yy"]}, encoder=enc)
    assert as_lists(doc.source["sv"]) == {"bbbb": 4.0, "cc": 2.0}
    assert as_lists(doc.source["pv"]) == [{"sparse_encoding": {"x": 1.0, "yy": 2.0}}]
    assert all(isinstance(w, np.float32) for w in doc.source["sv"].values())


W = {k: np.float32(v) for k, v in {"a": 4.0, "b": 1.0, "c": 3.0, "d": 3.0, "e": 0.5}.items()}


@pytest.mark.parametrize(
    ("prune_type", "ratio", "kept"),
    [
        ("none", 0, ["a", "b", "c", "d", "e"]),
        ("max_ratio", 0.75, ["a", "c", "d"]),  # w >= 0.75 * 4
        ("max_ratio", 0.0, ["a", "b", "c", "d", "e"]),
        ("abs_value", 1.0, ["a", "b", "c", "d"]),  # w >= 1
        ("top_k", 2, ["a", "c"]),  # tie between c and d: the first inserted stays
        ("top_k", 10, ["a", "b", "c", "d", "e"]),
        # alpha_mass: total 11.5; 0.6 * 11.5 = 6.9: a (4) kept, a+c (7) crosses -> dropped, then stop growing
        ("alpha_mass", 0.6, ["a"]),
        ("alpha_mass", 0.61, ["a", "c"]),  # bound 7.015: a+c = 7 kept, +d = 10 dropped
    ],
)
def test_prune_rules(prune_type: str, ratio: float, kept: list[str]) -> None:
    assert list(prune(prune_type, np.float32(ratio), dict(W))) == kept


def test_prune_rejects_non_positive_weights() -> None:
    with pytest.raises(ModelNodeError, match="Pruned values must be positive"):
        prune("none", np.float32(0), {"a": np.float32(1), "b": np.float32(0)})


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        (
            {"prune_type": "max_ratio", "prune_ratio": 1.0},
            IllegalArgument,
            "Illegal prune_ratio 1.000000 for prune_type: max_ratio. prune_ratio should be in the range [0, 1).",
        ),
        (
            {"prune_type": "alpha_mass", "prune_ratio": -0.1},
            IllegalArgument,
            "Illegal prune_ratio -0.100000 for prune_type: alpha_mass. prune_ratio should be in the range [0, 1).",
        ),
        (
            {"prune_type": "top_k", "prune_ratio": 1.5},
            IllegalArgument,
            "Illegal prune_ratio 1.500000 for prune_type: top_k. prune_ratio should be positive integer.",
        ),
        ({"prune_type": "top_k", "prune_ratio": 0}, IllegalArgument, "prune_ratio should be positive integer."),
        ({"prune_type": "abs_value", "prune_ratio": -1}, IllegalArgument, "prune_ratio should be non-negative."),
        ({"prune_ratio": 0.1}, IllegalArgument, "prune_ratio field is not supported when prune_type is not provided"),
        ({"prune_type": "max_ratio"}, ParseError, "[prune_ratio] required property is missing"),
        ({"prune_type": "bogus", "prune_ratio": 0.1}, IllegalArgument, "Unknown prune type: bogus"),
    ],
)
def test_prune_configuration_errors(config: dict[str, Any], error: type[Exception], message: str) -> None:
    body = {"processors": [{"sparse_encoding": {"model_id": "s", "field_map": {"a": "b"}, **config}}]}
    with pytest.raises(error) as e:
        parse_pipeline("p", body)
    assert message in str(e.value)


# -- pipeline parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"processors": [{"foo": {}}]}, "No processor type exists with name [foo]"),
        ({}, "[processors] required property is missing"),
        ({"processors": {}}, "[processors] property isn't a list, but of type [java.util.LinkedHashMap]"),
        ({"processors": [], "extra": 1}, "pipeline [p] doesn't support one or more provided configuration parameters"),
        ({"processors": [{"text_embedding": {"field_map": {"a": "b"}}}]}, "[model_id] required property is missing"),
        ({"processors": [{"text_embedding": {"model_id": "m"}}]}, "[field_map] required property is missing"),
        (
            {"processors": [{"text_embedding": {"model_id": 3, "field_map": {"a": "b"}}}]},
            "[model_id] property isn't a string, but of type [java.lang.Integer]",
        ),
        (
            {"processors": [{"text_embedding": {"model_id": "m", "field_map": {"a": ""}}}]},
            "Unable to create the processor as field_map has invalid key or value",
        ),
        (
            {"processors": [{"text_embedding": {"model_id": "m", "field_map": {"a": "b"}, "batch_size": 0}}]},
            "[batch_size] batch_size should >= 1",
        ),
        (
            {"processors": [{"text_embedding": {"model_id": "m", "field_map": {"a": "b"}, "nope": 1}}]},
            "processor [text_embedding] doesn't support one or more provided configuration parameters [nope]",
        ),
        ({"processors": [{"set": {"field": "a"}}]}, "[value] required property is missing"),
        (
            {"processors": [{"set": {"field": "a", "value": 1, "on_failure": []}}]},
            "[on_failure] processors list cannot be empty",
        ),
        ({"processors": [], "on_failure": []}, "pipeline [p] cannot have an empty on-failure option defined"),
    ],
)
def test_pipeline_parse_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelNodeError) as e:
        parse_pipeline("p", body)
    assert message in e.value.reason
    assert e.value.status == 400


def test_model_ids_are_not_checked_at_parse_time() -> None:
    pipeline = parse_pipeline("p", embed({"a": "b"}))
    assert pipeline.model_ids() == {"m"}


# -- common options and core processors ----------------------------------------------------------------
def test_if_condition_subset() -> None:
    body = {
        "processors": [
            {"set": {"field": "flag", "value": "yes", "if": "ctx.kind == 'a' && ctx?.n != null && ctx.n > 1"}},
            {"set": {"field": "tag", "value": "long", "if": "ctx.text.length() > 3"}},
            {"set": {"field": "has", "value": True, "if": "ctx.containsKey('text') && !(ctx.text.startsWith('x'))"}},
        ]
    }
    a, b = run(body, {"kind": "a", "n": 2, "text": "hello"}, {"kind": "b", "text": "xy"})
    assert a.source == {"kind": "a", "n": 2, "text": "hello", "flag": "yes", "tag": "long", "has": True}
    assert b.source == {"kind": "b", "text": "xy"}
    with pytest.raises(ScriptError, match="compile error"):
        parse_pipeline("p", {"processors": [{"set": {"field": "a", "value": 1, "if": "ctx.a = 1"}}]})
    with pytest.raises(ScriptError, match="method"):
        parse_pipeline("p", {"processors": [{"set": {"field": "a", "value": 1, "if": "ctx.a.matches('x')"}}]})


def test_core_processors() -> None:
    body = {
        "processors": [
            {"set": {"field": "copy", "value": "{{title}}-{{_ingest.timestamp}}"}},
            {"set": {"field": "title", "value": "other", "override": False}},
            {"set": {"field": "nested.x", "value": 1}},
            {"rename": {"field": "old", "target_field": "new"}},
            {"lowercase": {"field": "title"}},
            {"uppercase": {"field": "tags"}},
            {"append": {"field": "tags", "value": ["c", "A"], "allow_duplicates": False}},
            {"remove": {"field": ["drop_me", "missing"], "ignore_missing": True}},
        ]
    }
    (doc,) = run(body, {"title": "Hello", "old": 1, "tags": ["a", "b"], "drop_me": True})
    assert doc.error is None
    assert doc.source["copy"].startswith("Hello-") and doc.source["copy"].endswith("Z")
    assert {k: v for k, v in doc.source.items() if k != "copy"} == {
        "title": "hello",
        "nested": {"x": 1},
        "new": 1,
        "tags": ["A", "B", "c"],
    }


def test_failures_ignore_failure_and_on_failure() -> None:
    body = {
        "processors": [
            {"rename": {"field": "missing", "target_field": "x", "ignore_failure": True}},
            {
                "lowercase": {
                    "field": "n",
                    "tag": "low",
                    "on_failure": [{"set": {"field": "why", "value": "{{ _ingest.on_failure_message }}"}}],
                }
            },
            {"set": {"field": "after", "value": 1}},
        ]
    }
    (doc,) = run(body, {"n": 5})
    assert doc.error is None
    assert doc.source == {
        "n": 5,
        "why": "field [n] of type [java.lang.Integer] cannot be cast to [java.lang.String]",
        "after": 1,
    }

    failing = {"processors": [{"fail": {"message": "bad {{n}}"}}, {"set": {"field": "after", "value": 1}}]}
    (doc,) = run(failing, {"n": 1})
    assert doc.error is not None and doc.error.reason == "bad 1" and doc.error.error_type == "fail_processor_exception"

    handled = {
        **failing,
        "on_failure": [{"set": {"field": "failed_in", "value": "{{_ingest.on_failure_processor_type}}"}}],
    }
    (doc,) = run(handled, {"n": 1})
    assert doc.error is None and doc.source == {"n": 1, "failed_in": "fail"}  # the rest of the pipeline is skipped

    (doc,) = run({"processors": [{"drop": {"if": "ctx.n == 1"}}]}, {"n": 1})
    assert doc.dropped


def test_verbose_trace() -> None:
    body = {
        "processors": [
            {"set": {"field": "a", "value": 1, "tag": "t1"}},
            {"fail": {"message": "no", "if": "ctx.a == 2"}},
        ]
    }
    (doc,) = run(body, {"x": 0}, verbose=True)
    assert doc.trace is not None
    assert [e["status"] for e in doc.trace] == ["success", "skipped"]
    assert doc.trace[0]["tag"] == "t1" and doc.trace[0]["doc"]["_source"] == {"x": 0, "a": 1}
    assert doc.trace[1]["if"] == {"condition": "ctx.a == 2", "result": False}
