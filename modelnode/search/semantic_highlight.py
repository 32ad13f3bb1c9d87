"""The semantic highlighter: ``highlight.fields.F.type: "semantic"`` (spec §4.2).

Per hit and semantic field: the *question* comes from the original (not yet rewritten) query, as
neural-search's ``QueryTextExtractorRegistry`` reads the Lucene query tree:

- ``neural`` -> its ``query_text`` (whatever the field);
- ``term`` -> the term, only when it is on the highlighted field;
- ``match`` -> on the highlighted field, the analyzed terms joined by a space (a keyword field keeps
  the raw value, as its TermQuery does); other fields give nothing;
- ``bool`` -> the texts of its non-prohibited clauses (must, should, filter) joined by a space;
- ``nested`` -> its inner query's text; ``hybrid`` -> the distinct sub-query texts joined by a space;
- anything else (``knn``, ``neural_sparse``, ``match_phrase``, ``range``, ...) -> nothing.

No question, or a field whose ``_source`` value is not a non-empty string -> no highlight for that
hit. The model (``encoder.highlight(model_id, question, context)``) returns sentence spans; each is
wrapped in the first pre/post tag (default ``<em>``/``</em>``) and the whole field text comes back as
one fragment. The spans must be sorted, non-overlapping and inside the text, else it is an error.
``encoder: "html"`` escapes the text (Lucene's SimpleHTMLEncoder) but not the tags. A model result
with no span gives no entry, or the first ``no_match_size`` characters when that option is > 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.search.dsl import analyze as dsl_analyze
from modelnode.search.encoder import Encoder

SEMANTIC = "semantic"
DEFAULT_PRE_TAG = "<em>"
DEFAULT_POST_TAG = "</em>"
_HTML = {"&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;", "'": "&#x27;", "/": "&#x2F;"}

# (field, text) -> the analyzed terms a match query on that field searches for
Analyze = Callable[[str, str], list[str]]


def simple_analyze(field: str, text: str) -> list[str]:
    """Fallback when no analyzer is injected: standard-analyzer-like lower-cased word tokens."""
    return dsl_analyze(text)


def html_escape(text: str) -> str:
    return "".join(_HTML.get(ch, ch) for ch in text)


# --- question extraction -------------------------------------------------------------------------


def _term_value(body: Any, field: str) -> str | None:
    if not isinstance(body, dict) or field not in body:
        return None
    value = body[field]
    if isinstance(value, dict):
        value = value.get("value")
    return None if value is None else str(value)


def extract_question(
    query: Any, field: str, analyze: Analyze = simple_analyze, keyword_fields: frozenset[str] = frozenset()
) -> str | None:
    """The text the semantic highlighter asks about, or None (-> no highlight)."""
    if not isinstance(query, dict) or len(query) != 1:
        return None
    ((name, body),) = query.items()
    if name == "neural":
        if isinstance(body, dict) and len(body) == 1:
            opts = next(iter(body.values()))
            if isinstance(opts, dict) and isinstance(opts.get("query_text"), str):
                return opts["query_text"]
        return None
    if name == "term":
        return _term_value(body, field) or ""
    if name == "match":
        if not isinstance(body, dict) or field not in body:
            return ""
        value = body[field]
        if isinstance(value, dict):
            value = value.get("query")
        if value is None:
            return ""
        if field in keyword_fields:
            return str(value)
        return " ".join(analyze(field, str(value)))
    if name == "bool":
        if not isinstance(body, dict):
            return None
        parts: list[str] = []
        for occur in ("must", "should", "filter"):  # BoolQueryBuilder adds must, must_not, should, filter
            clauses = body.get(occur)
            if clauses is None:
                continue
            for clause in clauses if isinstance(clauses, list) else [clauses]:
                text = extract_question(clause, field, analyze, keyword_fields)
                if text:
                    parts.append(text)
        return " ".join(parts)
    if name == "nested":
        return extract_question(body.get("query"), field, analyze, keyword_fields) if isinstance(body, dict) else None
    if name == "hybrid":
        if not isinstance(body, dict) or not isinstance(body.get("queries"), list):
            return None
        texts: dict[str, None] = {}
        for sub in body["queries"]:
            text = extract_question(sub, field, analyze, keyword_fields)
            if text:
                texts[text] = None
        return " ".join(texts).strip()
    return None


# --- tag placement -------------------------------------------------------------------------------


def apply_tags(text: str, spans: list[Mapping[str, Any]], pre_tag: str, post_tag: str, *, html: bool = False) -> str:
    """Wrap each ``[start, end)`` span of ``text``; spans must be sorted, distinct and disjoint."""
    parsed: list[tuple[int, int]] = []
    for span in spans:
        start, end = span.get("start"), span.get("end")
        if (
            isinstance(start, bool)
            or isinstance(end, bool)
            or not isinstance(start, int | float)
            or not isinstance(end, int | float)
        ):
            raise ModelNodeError(
                f"Invalid highlight positions: start and end must be numeric, but got start={start}, end={end}"
            )
        s, e = int(start), int(end)
        if s < 0 or e > len(text) or s >= e:
            raise ModelNodeError(
                f"Invalid highlight positions: start={s}, end={e}, textLength={len(text)}. "
                "Positions must satisfy: 0 <= start < end <= textLength"
            )
        if parsed:
            prev_s, prev_e = parsed[-1]
            if s < prev_s:
                raise ModelNodeError("Invalid highlight positions: highlights are not sorted by start position")
            if s == prev_s:
                raise ModelNodeError(f"Invalid highlight positions: duplicate start position {s}")
            if s < prev_e:
                raise ModelNodeError(
                    f"Invalid highlight positions: overlapping spans [{prev_s},{prev_e}) and [{s},{e})"
                )
        parsed.append((s, e))
    enc = html_escape if html else (lambda piece: piece)
    out: list[str] = []
    pos = 0
    for s, e in parsed:
        if s > pos:
            out.append(enc(text[pos:s]))
        out.append(pre_tag + enc(text[s:e]) + post_tag)
        pos = e
    if pos < len(text):
        out.append(enc(text[pos:]))
    return "".join(out)


# --- request parsing -----------------------------------------------------------------------------


def _fields(highlight: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    fields = highlight.get("fields") or {}
    if isinstance(fields, dict):
        return [(name, dict(opts or {})) for name, opts in fields.items()]
    if isinstance(fields, list):
        out = []
        for item in fields:
            if not isinstance(item, dict) or len(item) != 1:
                raise IllegalArgument("[highlight] fields given as an array must hold single-field objects")
            ((name, opts),) = item.items()
            out.append((name, dict(opts or {})))
        return out
    raise IllegalArgument("[highlight] [fields] must be an object or an array")


def split_highlight(highlight: Any) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    """Separate the semantic fields from a request's ``highlight``.

    Returns (the ``highlight`` for the plain highlighter with the semantic fields removed, or None
    when none is left; [(field, effective options)] for the semantic ones). Effective options merge
    the top level (``pre_tags``, ``post_tags``, ``encoder``, ``options``, ``no_match_size``) under
    the field's own."""
    if not isinstance(highlight, dict):
        return highlight, []
    top_type = highlight.get("type")
    semantic: list[tuple[str, dict[str, Any]]] = []
    plain: list[tuple[str, dict[str, Any]]] = []
    for name, opts in _fields(highlight):
        if opts.get("type", top_type) == SEMANTIC:
            merged = {
                key: highlight[key] for key in ("pre_tags", "post_tags", "encoder", "no_match_size") if key in highlight
            }
            merged.update({key: value for key, value in opts.items() if key != "options"})
            merged["options"] = {**(highlight.get("options") or {}), **(opts.get("options") or {})}
            semantic.append((name, merged))
        else:
            plain.append((name, opts))
    if not semantic:
        return highlight, []
    if not plain:
        return None, semantic
    rest = {key: value for key, value in highlight.items() if key != "fields"}
    if rest.get("type") == SEMANTIC:
        rest.pop("type")
    rest["fields"] = dict(plain)
    return rest, semantic


def _source_text(source: Any, path: str) -> str | None:
    node = source
    if isinstance(node, dict) and path in node:
        node = node[path]
    else:
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
    return node if isinstance(node, str) and node else None


async def highlight_hits(
    hits: list[dict[str, Any]],
    sources: list[Any],
    semantic_fields: list[tuple[str, dict[str, Any]]],
    original_query: Any,
    encoder: Encoder,
    *,
    analyze: Analyze = simple_analyze,
    keyword_fields: frozenset[str] = frozenset(),
) -> None:
    """Add ``highlight.<field>`` to each hit in place. ``sources[i]`` is hit i's full ``_source``
    (before ``_source`` filtering: the highlighter reads the stored document)."""

    async def one(hit: dict[str, Any], source: Any, name: str, opts: dict[str, Any]) -> None:
        model_id = opts["options"].get("model_id")
        if not isinstance(model_id, str) or not model_id:
            raise IllegalArgument(
                f"model_id must be a non-null string, but was {'null' if model_id is None else type(model_id).__name__}"
            )
        context = _source_text(source, name)
        if context is None:
            return
        question = extract_question(original_query, name, analyze, keyword_fields)
        if not question:
            return
        pre_tags = opts.get("pre_tags") or [DEFAULT_PRE_TAG]
        post_tags = opts.get("post_tags") or [DEFAULT_POST_TAG]
        html = opts.get("encoder") == "html"
        spans = list(await encoder.highlight(model_id, question, context) or [])
        if spans:
            fragment = apply_tags(context, spans, str(pre_tags[0]), str(post_tags[0]), html=html)
        else:
            no_match = int(opts.get("no_match_size") or 0)
            if no_match <= 0:
                return
            fragment = html_escape(context[:no_match]) if html else context[:no_match]
        hit.setdefault("highlight", {})[name] = [fragment]

    jobs = [
        one(hit, source, name, opts)
        for hit, source in zip(hits, sources, strict=True)
        for name, opts in semantic_fields
    ]
    if jobs:
        await asyncio.gather(*jobs)
