"""The query DSL over a ``SearchIndex``, and the ``_search`` / ``_count`` request and response.

Queries (registered in ``core.QUERY_TYPES``; each is ``fn(body, ctx) -> Scores``): ``match_all``,
``match_none``, ``match``, ``match_phrase``, ``match_phrase_prefix``, ``multi_match`` (best_fields,
most_fields, phrase, phrase_prefix), ``term``, ``terms``, ``range``, ``exists``, ``ids``, ``prefix``,
``wildcard``, ``regexp``, ``bool``, ``constant_score``, ``dis_max``, ``boosting``, ``nested``.
Other modules add theirs (``knn``, ``neural``, ``neural_sparse``, ``hybrid``) to the same registry and
use ``evaluate`` / ``matching`` for their sub-queries and filters.

Scores follow Lucene: BM25 (``text``: see ``search.text``) for full-text and term queries on text,
keyword and boolean fields; constant ``boost`` for ``terms``, ``range``, ``exists``, ``ids``,
``prefix``, ``wildcard``, ``regexp``, ``match_all`` and terms on numbers/dates; ``bool`` sums its
``must`` and matching ``should`` clauses (``filter``/``must_not`` don't score; a bool with only
filters scores 0); clause sums are done in double and rounded to float as Lucene does.

``execute(index, body)`` runs a search body and gives a ``SearchResult``; ``render(...)`` turns it
into OpenSearch's response (``took``, ``timed_out``, ``_shards``, ``hits.total``, ``max_score``,
``hits[]`` with ``_index``, ``_id``, ``_score``, ``_source``, ``sort``, ``highlight``).
``count(index, body)`` serves ``_count``.

Not supported, refused with a clear 400: aggregations, ``fuzziness``, ``cross_fields``/``bool_prefix``
multi_match, terms lookup, ``inner_hits``, ``collapse``, ``rescore``, ``suggest``, scripts.
``nested`` evaluates its query on the flattened sub-fields of each document (a document matches
when its nested objects together match, not necessarily one object); ``score_mode`` ``none`` gives 0,
and the other modes are handed to field indexes that keep one value per object in
``ctx.extra["nested"]`` (the vector index takes the best chunk).
"""

from __future__ import annotations

import heapq
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, ParsingError, QueryShardError
from modelnode.search import highlight as _highlight
from modelnode.search.analysis import get_analyzer
from modelnode.search.core import QUERY_TYPES, QueryContext, Scores, SearchIndex, StoredDoc, values_at
from modelnode.search.mapping import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    NUMERIC_TYPES,
    DateFormat,
    ValueProblem,
    filter_source,
    java_string,
    keyword_value,
    millis_to_iso,
    parse_boolean,
    parse_date_math,
    parse_time_zone,
    setting,
)
from modelnode.search.text import (
    BooleanFieldIndex,
    DateFieldIndex,
    KeywordFieldIndex,
    NumericFieldIndex,
    TextFieldIndex,
    f32,
    wildcard_to_regex,
)

# -- evaluation entry points ---------------------------------------------------------------------


def evaluate(query: Any, ctx: QueryContext) -> Scores:
    """Evaluate one query object (``{"match": {...}}``) into ``{internal doc: score}``."""
    if not isinstance(query, dict):
        raise ParsingError(f"[_na] query malformed, must start with start_object, found [{_token(query)}]")
    if not query:
        raise IllegalArgument("query malformed, empty clause found")
    if len(query) > 1:
        first = next(iter(query))
        raise ParsingError(f"[{first}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]")
    ((name, body),) = query.items()
    fn = QUERY_TYPES.get(name)
    if fn is None:
        raise ParsingError(f"unknown query [{name}]")
    return fn(body, ctx)


def matching(query: Any, ctx: QueryContext) -> set[int]:
    """The documents a query matches, evaluated in filter context (for ``filter`` clauses, the
    ``filter`` of knn/neural queries, ``post_filter``)."""
    return set(evaluate(query, filter_context(ctx)))


def filter_context(ctx: QueryContext) -> QueryContext:
    return ctx if ctx.filter else replace(ctx, filter=True)


def _token(value: Any) -> str:
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_STRING"


def _boost(params: dict[str, Any], query: str) -> float:
    value = params.get("boost", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParsingError(f"[{query}] query does not support [boost] value [{java_string(value)}]")
    try:
        boost = float(value)
    except ValueError:
        raise ParsingError(f"[{query}] failed to parse [boost] value [{value}]") from None
    if boost < 0:
        raise IllegalArgument(f"negative [boost] are not allowed in [{query}], but got [{boost}]")
    return boost


def _scale(scores: Scores, boost: float) -> Scores:
    if boost == 1.0:
        return scores
    b = np.float32(boost)
    return {doc: float(np.float32(score) * b) for doc, score in scores.items()}


def _constant(docs: Iterable[int], boost: float) -> Scores:
    return dict.fromkeys(docs, f32(boost))


def _arrays_to_scores(docs: np.ndarray, scores: np.ndarray) -> Scores:
    return dict(zip(docs.tolist(), scores.tolist(), strict=True))


def _sum_clauses(parts: list[tuple[np.ndarray, np.ndarray]], required: int) -> Scores:
    """Sum per-clause scores (double, then float) over docs matching at least ``required`` clauses."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return {}
    docs = np.concatenate([d for d, _ in parts])
    scores = np.concatenate([s.astype(np.float64) for _, s in parts])
    unique, inverse = np.unique(docs, return_inverse=True)
    sums = np.bincount(inverse, weights=scores, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    keep = counts >= max(required, 1)
    return _arrays_to_scores(unique[keep], sums[keep].astype(np.float32))


# -- parameter helpers -----------------------------------------------------------------------------


def _single_field(query: str, body: Any, value_key: str, allowed: frozenset[str]) -> tuple[str, Any, dict[str, Any]]:
    """``{field: value}`` or ``{field: {value_key: value, ...params}}``, as OpenSearch parses them."""
    if not isinstance(body, dict):
        raise ParsingError(f"[{query}] query malformed, no start_object after query name")
    names = [k for k in body if k not in ("boost", "_name")] if query in ("terms",) else list(body)
    if not names:
        raise IllegalArgument(f"[{query}] query requires a field")
    if len(names) > 1:
        raise ParsingError(f"[{query}] query doesn't support multiple fields, found [{names[0]}] and [{names[1]}]")
    fld = names[0]
    spec = body[fld]
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in allowed]
        if unknown:
            raise ParsingError(f"[{query}] query does not support [{unknown[0]}]")
        if value_key not in spec:
            raise IllegalArgument(f"[{query}] query requires a [{value_key}] for field [{fld}]")
        return fld, spec[value_key], spec
    if isinstance(spec, list):
        raise ParsingError(f"[{query}] unknown token [START_ARRAY] after [{fld}]")
    return fld, spec, {}


def _check_keys(query: str, body: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for key in body:
        if key not in allowed:
            raise ParsingError(f"[{query}] query does not support [{key}]")


def calculate_msm(optional: int, spec: Any) -> int:
    """OpenSearch's ``Queries.calculateMinShouldMatch``: ``3``, ``-1``, ``75%``, ``-25%``, ``3<90%``..."""
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise IllegalArgument(f"[minimum_should_match] must be an integer or a string, got [{java_string(spec)}]")
    text = str(spec).strip()
    try:
        if "<" in text:
            text = re.sub(r"\s*<\s*", "<", text)
            result = optional
            for part in text.split():
                upper, rest = part.split("<", 1)
                if optional <= int(upper):
                    return result
                result = calculate_msm(optional, rest)
            return result
        if "%" in text:
            percent = int(text[:-1])
            calc = float(np.float32(optional * percent) * np.float32(1 / 100))
            result = optional + int(calc) if calc < 0 else int(calc)
        else:
            calc_int = int(text)
            result = optional + calc_int if calc_int < 0 else calc_int
    except ValueError:
        raise IllegalArgument(f"failed to parse [minimum_should_match] value [{spec}]") from None
    return max(result, 0)


def _reject_fuzziness(query: str, params: dict[str, Any]) -> None:
    fuzz = params.get("fuzziness")
    if fuzz is not None and str(fuzz) not in ("0", "0.0"):
        raise IllegalArgument(
            f"[{query}] [fuzziness] is not supported by modelnode's search engine; remove it for exact term matching"
        )


def _searchable(path: str, fi: Any, mapping: dict[str, Any]) -> None:
    if mapping.get("index") is False and mapping.get("type") in ("text",):
        raise IllegalArgument(f"Cannot search on field [{path}] since it is not indexed.")


def _unsupported_type(path: str, ftype: str, query: str) -> QueryShardError:
    if ftype == "knn_vector":
        return QueryShardError(f"KNN vector do not support exact searching, use KNN queries instead: [{path}]")
    return QueryShardError(f"Field [{path}] of type [{ftype}] does not support [{query}] queries")


_LEXICAL = frozenset({"text", "keyword", "boolean", "date"}) | NUMERIC_TYPES


# -- values on typed fields -----------------------------------------------------------------------


def _query_number(ftype: str, value: Any) -> int | float:
    """A term/range value on a numeric field (no coercion: 1.5 on a long matches nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise QueryShardError(f"failed to create query: Cannot parse [{java_string(value)}] as a number")
    if isinstance(value, str):
        try:
            number: int | float = int(value.strip())
        except ValueError:
            try:
                number = float(value.strip())
            except ValueError:
                raise QueryShardError(f'failed to create query: For input string: "{value}"') from None
    else:
        number = value
    if ftype == "float":
        number = float(np.float32(number))
    elif ftype == "half_float":
        number = float(np.float16(number))
    if ftype in INTEGER_TYPES and isinstance(number, float) and number.is_integer():
        number = int(number)
    return number


def _date_format(mapping: dict[str, Any], override: Any = None) -> DateFormat:
    return DateFormat(override if isinstance(override, str) else mapping.get("format"))


def _date_bounds(mapping: dict[str, Any], value: Any) -> tuple[int, int]:
    """A date term: the whole rounding unit of the value (``2020-01-01`` = that day)."""
    fmt = _date_format(mapping)
    try:
        return parse_date_math(value, fmt), parse_date_math(value, fmt, round_up=True)
    except ValueProblem as problem:
        raise QueryShardError(f"failed to create query: {problem.reason}") from None


def _equal_docs(fi: NumericFieldIndex, lo: int | float, hi: int | float | None = None) -> set[int]:
    hi = lo if hi is None else hi
    return {doc for doc, values in fi.doc_values.items() if any(lo <= v <= hi for v in values)}


# -- leaf queries ----------------------------------------------------------------------------------


def _q_match_all(body: Any, ctx: QueryContext) -> Scores:
    body = body or {}
    if not isinstance(body, dict):
        raise ParsingError("[match_all] query malformed, no start_object after query name")
    _check_keys("match_all", body, ("boost", "_name"))
    return _constant(ctx.index.live(), _boost(body, "match_all"))


def _q_match_none(body: Any, ctx: QueryContext) -> Scores:
    if body and not isinstance(body, dict):
        raise ParsingError("[match_none] query malformed, no start_object after query name")
    _check_keys("match_none", body or {}, ("boost", "_name"))
    return {}


_MATCH_PARAMS = frozenset(
    {"query", "operator", "minimum_should_match", "analyzer", "boost", "fuzziness", "prefix_length"}
    | {"max_expansions", "fuzzy_transpositions", "lenient", "zero_terms_query", "_name", "fuzzy_rewrite"}
    | {"auto_generate_synonyms_phrase_query", "cutoff_frequency"}
)


def _operator(params: dict[str, Any], query: str) -> str:
    op = str(params.get("operator", "or")).lower()
    if op not in ("or", "and"):
        raise IllegalArgument(f"operator needs to be either [and] or [or], but found [{params.get('operator')}]")
    return op


def _zero_terms(params: dict[str, Any]) -> str:
    value = str(params.get("zero_terms_query", "none")).lower()
    if value not in ("none", "all"):
        raise ParsingError(f"Unsupported zero_terms_query value [{params.get('zero_terms_query')}]")
    return value


def _text_value(query: str, value: Any) -> str:
    if isinstance(value, dict | list):
        raise ParsingError(f"[{query}] unknown token [{_token(value)}] after [query]")
    if value is None:
        raise ParsingError(f"[{query}] requires query value")
    return keyword_value(value)


def _q_match(body: Any, ctx: QueryContext) -> Scores:
    fld, value, params = _single_field("match", body, "query", _MATCH_PARAMS)
    text = _text_value("match", value)
    _reject_fuzziness("match", params)
    return match_field(
        ctx,
        fld,
        text,
        operator=_operator(params, "match"),
        msm=params.get("minimum_should_match"),
        boost=_boost(params, "match"),
        analyzer=params.get("analyzer"),
        zero_terms=_zero_terms(params),
        lenient=bool(params.get("lenient", False)),
    )


def match_field(
    ctx: QueryContext,
    fld: str,
    text: str,
    *,
    operator: str = "or",
    msm: Any = None,
    boost: float = 1.0,
    analyzer: str | None = None,
    zero_terms: str = "none",
    lenient: bool = False,
) -> Scores:
    """A ``match`` query on one field (``multi_match`` builds on it)."""
    mapping = ctx.index.mapping.field(fld)
    if mapping is None:
        return {}
    ftype = mapping["type"]
    fi = ctx.index.field(fld)
    if ftype == "text":
        _searchable(fld, fi, mapping)
        analyzer_obj = get_analyzer(analyzer or mapping.get("search_analyzer"))
        terms = analyzer_obj.terms(text)
        if not terms:
            return _constant(ctx.index.live(), boost) if zero_terms == "all" else {}
        if not isinstance(fi, TextFieldIndex):
            return {}
        if len(terms) == 1:
            return _arrays_to_scores(*fi.term_scores(terms[0], boost))
        if operator == "and":
            required = len(terms)
        elif msm is not None:
            required = calculate_msm(len(terms), msm)
        else:
            required = 1
        return _sum_clauses([fi.term_scores(t, boost) for t in terms], required)
    return term_field(ctx, fld, text, boost=boost, lenient=lenient, query="match")


def term_field(
    ctx: QueryContext,
    fld: str,
    value: Any,
    *,
    boost: float = 1.0,
    case_insensitive: bool = False,
    lenient: bool = False,
    query: str = "term",
) -> Scores:
    """A ``term`` query on one field: exact (not analysed) value."""
    mapping = ctx.index.mapping.field(fld)
    if mapping is None:
        return {}
    ftype = mapping["type"]
    fi = ctx.index.field(fld)
    try:
        if ftype == "text":
            _searchable(fld, fi, mapping)
            term = keyword_value(value)
            if not isinstance(fi, TextFieldIndex):
                return {}
            if case_insensitive:
                low = term.lower()
                return _constant(fi.docs_with_terms(t for t in fi.terms() if t.lower() == low), boost)
            return _arrays_to_scores(*fi.term_scores(term, boost))
        if ftype == "boolean":
            try:
                term = "true" if parse_boolean(value) else "false"
            except ValueProblem as problem:
                raise QueryShardError(f"failed to create query: {problem.reason}") from None
            return _arrays_to_scores(*fi.term_scores(term, boost)) if isinstance(fi, BooleanFieldIndex) else {}
        if ftype == "keyword":
            if not isinstance(fi, KeywordFieldIndex):
                return {}
            term = fi.normalize(value)
            if case_insensitive:
                low = term.lower()
                return _constant(fi.docs_with_terms(t for t in fi.terms() if t.lower() == low), boost)
            return _arrays_to_scores(*fi.term_scores(term, boost))
        if ftype in NUMERIC_TYPES:
            number = _query_number(ftype, value)
            return _constant(_equal_docs(fi, number), boost) if isinstance(fi, NumericFieldIndex) else {}
        if ftype == "date":
            lo, hi = _date_bounds(mapping, value)
            return _constant(_equal_docs(fi, lo, hi), boost) if isinstance(fi, DateFieldIndex) else {}
    except (QueryShardError, ValueProblem):
        if lenient:
            return {}
        raise
    raise _unsupported_type(fld, ftype, query)


_PHRASE_PARAMS = frozenset({"query", "slop", "analyzer", "boost", "_name", "zero_terms_query"})


def _q_match_phrase(body: Any, ctx: QueryContext) -> Scores:
    fld, value, params = _single_field("match_phrase", body, "query", _PHRASE_PARAMS)
    return phrase_field(
        ctx,
        fld,
        _text_value("match_phrase", value),
        slop=_slop(params),
        boost=_boost(params, "match_phrase"),
        analyzer=params.get("analyzer"),
        zero_terms=_zero_terms(params),
    )


def _slop(params: dict[str, Any]) -> int:
    slop = params.get("slop", 0)
    if isinstance(slop, bool) or not isinstance(slop, int | str):
        raise ParsingError(f"[slop] must be an integer, got [{java_string(slop)}]")
    slop = int(slop)
    if slop < 0:
        raise IllegalArgument("No negative slop allowed.")
    return slop


def phrase_field(
    ctx: QueryContext,
    fld: str,
    text: str,
    *,
    slop: int = 0,
    boost: float = 1.0,
    analyzer: str | None = None,
    zero_terms: str = "none",
    lenient: bool = False,
) -> Scores:
    mapping = ctx.index.mapping.field(fld)
    if mapping is None:
        return {}
    if mapping["type"] != "text":
        return term_field(ctx, fld, text, boost=boost, lenient=lenient, query="match_phrase")
    fi = ctx.index.field(fld)
    _searchable(fld, fi, mapping)
    terms = get_analyzer(analyzer or mapping.get("search_quote_analyzer")).terms(text)
    if not terms:
        return _constant(ctx.index.live(), boost) if zero_terms == "all" else {}
    if not isinstance(fi, TextFieldIndex):
        return {}
    if len(terms) == 1:
        return _arrays_to_scores(*fi.term_scores(terms[0], boost))
    return fi.phrase_scores(terms, slop, boost)


_PHRASE_PREFIX_PARAMS = _PHRASE_PARAMS | {"max_expansions"}


def _q_match_phrase_prefix(body: Any, ctx: QueryContext) -> Scores:
    fld, value, params = _single_field("match_phrase_prefix", body, "query", _PHRASE_PREFIX_PARAMS)
    return phrase_prefix_field(
        ctx,
        fld,
        _text_value("match_phrase_prefix", value),
        slop=_slop(params),
        boost=_boost(params, "match_phrase_prefix"),
        analyzer=params.get("analyzer"),
        max_expansions=int(params.get("max_expansions", 50)),
    )


def phrase_prefix_field(
    ctx: QueryContext,
    fld: str,
    text: str,
    *,
    slop: int = 0,
    boost: float = 1.0,
    analyzer: str | None = None,
    max_expansions: int = 50,
) -> Scores:
    mapping = ctx.index.mapping.field(fld)
    if mapping is None:
        return {}
    fi = ctx.index.field(fld)
    if mapping["type"] != "text":
        if isinstance(fi, KeywordFieldIndex) and not isinstance(fi, BooleanFieldIndex):
            prefix = fi.normalize(text)
            return _constant(fi.docs_with_terms(t for t in fi.terms() if t.startswith(prefix)), boost)
        return {}
    _searchable(fld, fi, mapping)
    terms = get_analyzer(analyzer or mapping.get("search_analyzer")).terms(text)
    if not terms or not isinstance(fi, TextFieldIndex):
        return {}
    expansions = [t for t in fi.terms() if t.startswith(terms[-1])][: max(max_expansions, 1)]
    if not expansions:
        return {}
    if len(terms) == 1:
        return _constant(fi.docs_with_terms(expansions), boost)
    best: Scores = {}
    for expansion in expansions:
        for doc, score in fi.phrase_scores([*terms[:-1], expansion], slop, boost).items():
            if score > best.get(doc, -1.0):
                best[doc] = score
    return best


_MULTI_MATCH_PARAMS = frozenset(
    {"query", "fields", "type", "operator", "minimum_should_match", "analyzer", "boost", "tie_breaker"}
    | {"lenient", "zero_terms_query", "fuzziness", "prefix_length", "max_expansions", "slop", "_name"}
    | {"auto_generate_synonyms_phrase_query", "fuzzy_transpositions", "cutoff_frequency", "fuzzy_rewrite"}
)


def _field_boosts(ctx: QueryContext, fields: Any) -> tuple[list[tuple[str, float]], bool]:
    """``["title^2", "body*"]`` -> [(path, boost)], and whether a wildcard was expanded."""
    if fields is None:
        fields = setting(ctx.index.settings, "index.query.default_field")
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, list):
        raise ParsingError(f"[multi_match] query does not support [fields] value [{java_string(fields)}]")
    out: dict[str, float] = {}
    wildcard = False
    for spec in fields:
        if not isinstance(spec, str):
            raise ParsingError(f"[multi_match] fields must be strings, got [{java_string(spec)}]")
        name, _, boost_text = spec.partition("^")
        try:
            boost = float(boost_text) if boost_text else 1.0
        except ValueError:
            raise IllegalArgument(f"failed to parse field boost in [{spec}]") from None
        if "*" in name:
            wildcard = True
            for path in ctx.index.mapping.leaf_paths(name):
                mapping = ctx.index.mapping.field(path) or {}
                if mapping.get("type") in _LEXICAL and mapping.get("index", True) is not False:
                    out[path] = out.get(path, 1.0) * boost
        else:
            out[name] = out.get(name, 1.0) * boost if name in out else boost
    return list(out.items()), wildcard


def _dis_max(per_field: list[Scores], tie_breaker: float) -> Scores:
    if len(per_field) == 1:
        return per_field[0]
    tie = np.float32(tie_breaker)
    docs: set[int] = set().union(*per_field)
    out: Scores = {}
    for doc in docs:
        best = np.float32(0.0)
        others = 0.0
        for scores in per_field:
            s = scores.get(doc)
            if s is None:
                continue
            s32 = np.float32(s)
            if s32 >= best:
                others += float(best)
                best = s32
            else:
                others += float(s32)
        out[doc] = f32(float(best) + others * float(tie))
    return out


def _q_multi_match(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[multi_match] query malformed, no start_object after query name")
    _check_keys("multi_match", body, _MULTI_MATCH_PARAMS)
    if "query" not in body:
        raise IllegalArgument("No text specified for multi_match query")
    _reject_fuzziness("multi_match", body)
    text = _text_value("multi_match", body["query"])
    mtype = str(body.get("type", "best_fields")).lower()
    if mtype in ("cross_fields", "bool_prefix"):
        raise IllegalArgument(f"multi_match type [{mtype}] is not supported by modelnode's search engine")
    if mtype not in ("best_fields", "most_fields", "phrase", "phrase_prefix"):
        raise ParsingError(f"[multi_match] query type [{mtype}] does not exist")
    fields, wildcard = _field_boosts(ctx, body.get("fields"))
    lenient = bool(body.get("lenient", wildcard or body.get("fields") is None))
    boost = _boost(body, "multi_match")
    per_field: list[Scores] = []
    for path, field_boost in fields:
        if mtype in ("best_fields", "most_fields"):
            scores = match_field(
                ctx,
                path,
                text,
                operator=_operator(body, "multi_match"),
                msm=body.get("minimum_should_match"),
                boost=field_boost,
                analyzer=body.get("analyzer"),
                zero_terms=_zero_terms(body),
                lenient=lenient,
            )
        elif mtype == "phrase":
            scores = phrase_field(
                ctx, path, text, slop=_slop(body), boost=field_boost, analyzer=body.get("analyzer"), lenient=lenient
            )
        else:
            scores = phrase_prefix_field(
                ctx,
                path,
                text,
                slop=_slop(body),
                boost=field_boost,
                analyzer=body.get("analyzer"),
                max_expansions=int(body.get("max_expansions", 50)),
            )
        per_field.append(scores)
    if not per_field:
        return {}
    if mtype == "most_fields":
        combined: Scores = {}
        for scores in per_field:
            for doc, s in scores.items():
                combined[doc] = combined.get(doc, 0.0) + s
        return _scale({d: f32(s) for d, s in combined.items()}, boost)
    tie = body.get("tie_breaker", 0.0)
    return _scale(_dis_max(per_field, float(tie)), boost)


_TERM_PARAMS = frozenset({"value", "boost", "_name", "case_insensitive"})


def _q_term(body: Any, ctx: QueryContext) -> Scores:
    fld, value, params = _single_field("term", body, "value", _TERM_PARAMS)
    if isinstance(value, dict | list) or value is None:
        raise ParsingError(f"[term] query does not support [{_token(value)}] as a value for field [{fld}]")
    return term_field(
        ctx, fld, value, boost=_boost(params, "term"), case_insensitive=bool(params.get("case_insensitive", False))
    )


def _q_terms(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[terms] query malformed, no start_object after query name")
    names = [k for k in body if k not in ("boost", "_name", "value_type")]
    if len(names) != 1:
        if not names:
            raise IllegalArgument("[terms] query requires a field")
        raise ParsingError(f"[terms] query does not support multiple fields, found [{names[0]}] and [{names[1]}]")
    fld = names[0]
    values = body[fld]
    if isinstance(values, dict):
        raise IllegalArgument("[terms] query: terms lookup is not supported by modelnode's search engine")
    if not isinstance(values, list):
        raise ParsingError(f"[terms] query does not support [{fld}]")
    boost = _boost(body, "terms")
    mapping = ctx.index.mapping.field(fld)
    if mapping is None:
        return {}
    ftype = mapping["type"]
    fi = ctx.index.field(fld)
    if ftype == "text":
        _searchable(fld, fi, mapping)
        wanted = [keyword_value(v) for v in values if v is not None]
        return _constant(fi.docs_with_terms(wanted), boost) if isinstance(fi, TextFieldIndex) else {}
    if ftype in ("keyword", "boolean"):
        if not isinstance(fi, KeywordFieldIndex):
            return {}
        try:
            wanted = [fi.normalize(v) for v in values if v is not None]
        except ValueProblem as problem:
            raise QueryShardError(f"failed to create query: {problem.reason}") from None
        return _constant(fi.docs_with_terms(wanted), boost)
    if ftype in NUMERIC_TYPES:
        numbers = {_query_number(ftype, v) for v in values if v is not None}
        if not isinstance(fi, NumericFieldIndex):
            return {}
        return _constant((d for d, vs in fi.doc_values.items() if any(v in numbers for v in vs)), boost)
    if ftype == "date":
        bounds = [_date_bounds(mapping, v) for v in values if v is not None]
        if not isinstance(fi, DateFieldIndex):
            return {}
        docs = {d for d, vs in fi.doc_values.items() if any(lo <= v <= hi for v in vs for lo, hi in bounds)}
        return _constant(docs, boost)
    raise _unsupported_type(fld, ftype, "terms")


_RANGE_PARAMS = frozenset(
    {"gt", "gte", "lt", "lte", "from", "to", "include_lower", "include_upper", "boost", "_name"}
    | {"format", "time_zone", "relation"}
)


def _q_range(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict) or not body:
        raise ParsingError("[range] query malformed, no start_object after query name")
    names = list(body)
    if len(names) > 1:
        raise ParsingError(f"[range] query doesn't support multiple fields, found [{names[0]}] and [{names[1]}]")
    fld = names[0]
    spec = body[fld]
    if not isinstance(spec, dict):
        raise ParsingError(f"[range] query malformed, after field missing start object for [{fld}]")
    _check_keys("range", spec, _RANGE_PARAMS)
    lower, upper = spec.get("from"), spec.get("to")
    include_lower = bool(spec.get("include_lower", True))
    include_upper = bool(spec.get("include_upper", True))
    for key in ("gt", "gte"):
        if key in spec:
            lower, include_lower = spec[key], key == "gte"
    for key in ("lt", "lte"):
        if key in spec:
            upper, include_upper = spec[key], key == "lte"
    relation = str(spec.get("relation", "intersects")).lower()
    if relation not in ("intersects", "within", "contains"):
        raise ParsingError(f"[range] query does not support relation [{spec.get('relation')}]")
    boost = _boost(spec, "range")
    mapping = ctx.index.mapping.field(fld)
    if mapping is None:
        return {}
    ftype = mapping["type"]
    fi = ctx.index.field(fld)
    if ftype in NUMERIC_TYPES:
        lo = _query_number(ftype, lower) if lower is not None else None
        hi = _query_number(ftype, upper) if upper is not None else None
    elif ftype == "date":
        fmt = _date_format(mapping, spec.get("format"))
        tz = parse_time_zone(spec["time_zone"]) if "time_zone" in spec else None
        try:
            kwargs: dict[str, Any] = {"tz": tz} if tz is not None else {}
            # gt / lte round up (to the last millisecond of a partial date or a /unit rounding)
            lo = parse_date_math(lower, fmt, round_up=not include_lower, **kwargs) if lower is not None else None
            hi = parse_date_math(upper, fmt, round_up=include_upper, **kwargs) if upper is not None else None
        except ValueProblem as problem:
            raise QueryShardError(f"failed to create query: {problem.reason}") from None
    elif ftype in ("keyword", "text", "boolean"):
        if ftype == "text":
            _searchable(fld, fi, mapping)
        if not isinstance(fi, TextFieldIndex | KeywordFieldIndex):
            return {}
        normalize = fi.normalize if isinstance(fi, KeywordFieldIndex) else keyword_value
        lo_s = normalize(lower) if lower is not None else None
        hi_s = normalize(upper) if upper is not None else None
        terms = [t for t in fi.terms() if _in_range(t, lo_s, hi_s, include_lower, include_upper)]
        return _constant(fi.docs_with_terms(terms), boost)
    else:
        raise _unsupported_type(fld, ftype, "range")
    if not isinstance(fi, NumericFieldIndex):
        return {}
    docs = [d for d, vs in fi.doc_values.items() if any(_in_range(v, lo, hi, include_lower, include_upper) for v in vs)]
    return _constant(docs, boost)


def _in_range(v: Any, lo: Any, hi: Any, include_lower: bool, include_upper: bool) -> bool:
    if lo is not None and (v < lo or (v == lo and not include_lower)):
        return False
    return not (hi is not None and (v > hi or (v == hi and not include_upper)))


def _q_exists(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict) or "field" not in body:
        raise IllegalArgument("[exists] must be provided with a [field]")
    _check_keys("exists", body, ("field", "boost", "_name"))
    name = body["field"]
    if not isinstance(name, str):
        raise ParsingError("[exists] query does not support [field] value that is not a string")
    mapping = ctx.index.mapping
    if "*" in name:
        paths = mapping.leaf_paths(name)
    elif mapping.field(name) is not None:
        paths = [name]
    elif mapping.object_type(name) is not None:
        paths = mapping.leaf_paths(name + ".*")
    else:
        paths = []
    docs: set[int] = set()
    for path in paths:
        fi = ctx.index.field(path)
        if fi is None:
            continue
        docs_fn = getattr(fi, "docs", None)
        if callable(docs_fn):
            docs.update(docs_fn())
        else:  # a field index without docs(): read the values from _source
            source_path = mapping.source_path(path)
            docs.update(n for n in ctx.index.live() if values_at(ctx.index.doc(n).source, source_path))
    return _constant(docs, _boost(body, "exists"))


def _q_ids(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[ids] query malformed, no start_object after query name")
    _check_keys("ids", body, ("values", "type", "boost", "_name"))
    values = body.get("values", [])
    if not isinstance(values, list):
        raise ParsingError("[ids] query does not support [values] value that is not an array")
    found = (ctx.index.by_id.get(keyword_value(v)) for v in values if v is not None)
    return _constant((n for n in found if n is not None), _boost(body, "ids"))


def _term_predicate_query(
    query: str, body: Any, ctx: QueryContext, value_keys: tuple[str, ...], allowed: frozenset[str]
) -> Scores:
    if not isinstance(body, dict) or not body:
        raise ParsingError(f"[{query}] query malformed, no start_object after query name")
    names = list(body)
    if len(names) > 1:
        raise ParsingError(f"[{query}] query doesn't support multiple fields, found [{names[0]}] and [{names[1]}]")
    fld = names[0]
    spec = body[fld]
    if isinstance(spec, dict):
        _check_keys(query, spec, allowed)
        value = next((spec[k] for k in value_keys if k in spec), None)
        if value is None:
            raise IllegalArgument(f"[{query}] query requires a [{value_keys[0]}] for field [{fld}]")
        params = spec
    else:
        value, params = spec, {}
    if isinstance(value, dict | list):
        raise ParsingError(f"[{query}] unknown token [{_token(value)}] after [{fld}]")
    text = keyword_value(value)
    boost = _boost(params, query)
    insensitive = bool(params.get("case_insensitive", False))
    mapping = ctx.index.mapping.field(fld)
    if mapping is None:
        return {}
    ftype = mapping["type"]
    fi = ctx.index.field(fld)
    if ftype not in ("text", "keyword"):
        raise _unsupported_type(fld, ftype, query)
    if ftype == "text":
        _searchable(fld, fi, mapping)
    if not isinstance(fi, TextFieldIndex | KeywordFieldIndex):
        return {}
    if query == "prefix":
        if isinstance(fi, KeywordFieldIndex):
            text = fi.normalize(text)
        low = text.lower()
        matches: Callable[[str], bool] = (
            (lambda t: t.lower().startswith(low)) if insensitive else (lambda t: t.startswith(text))
        )
    elif query == "wildcard":
        if isinstance(fi, TextFieldIndex) or (isinstance(fi, KeywordFieldIndex) and fi.lowercase):
            text = text.lower()  # the field's normalizer applies to wildcard patterns
        regex = wildcard_to_regex(text, case_insensitive=insensitive)
        matches = lambda t: regex.fullmatch(t) is not None  # noqa: E731
    else:
        try:
            regex = re.compile(text, re.DOTALL | (re.IGNORECASE if insensitive else 0))
        except re.error as exc:
            raise IllegalArgument(f"[regexp] invalid regular expression [{text}]: {exc}") from None
        matches = lambda t: regex.fullmatch(t) is not None  # noqa: E731
    return _constant(fi.docs_with_terms(t for t in fi.terms() if matches(t)), boost)


def _q_prefix(body: Any, ctx: QueryContext) -> Scores:
    allowed = frozenset({"value", "prefix", "boost", "_name", "rewrite", "case_insensitive"})
    return _term_predicate_query("prefix", body, ctx, ("value", "prefix"), allowed)


def _q_wildcard(body: Any, ctx: QueryContext) -> Scores:
    allowed = frozenset({"value", "wildcard", "boost", "_name", "rewrite", "case_insensitive"})
    return _term_predicate_query("wildcard", body, ctx, ("value", "wildcard"), allowed)


def _q_regexp(body: Any, ctx: QueryContext) -> Scores:
    allowed = frozenset(
        {"value", "flags", "flags_value", "boost", "_name", "rewrite", "case_insensitive", "max_determinized_states"}
    )
    return _term_predicate_query("regexp", body, ctx, ("value",), allowed)


# -- compound queries ------------------------------------------------------------------------------


def _clauses(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise ParsingError(f"[bool] query does not support [{key}] value [{java_string(value)}]")


def _q_bool(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[bool] query malformed, no start_object after query name")
    _check_keys(
        "bool",
        body,
        ("must", "should", "filter", "must_not", "minimum_should_match", "boost", "adjust_pure_negative", "_name"),
    )
    boost = _boost(body, "bool")
    must = [evaluate(q, ctx) for q in _clauses(body, "must")]
    fctx = filter_context(ctx)
    filters = [evaluate(q, fctx).keys() for q in _clauses(body, "filter")]
    must_not = [evaluate(q, fctx).keys() for q in _clauses(body, "must_not")]
    should = [evaluate(q, ctx) for q in _clauses(body, "should")]
    if not (must or filters or must_not or should):
        return _constant(ctx.index.live(), boost)  # an empty bool is match_all
    msm_spec = body.get("minimum_should_match")
    if msm_spec is not None:
        msm = calculate_msm(len(should), msm_spec)
    elif should and (ctx.filter or not (must or filters)):
        msm = 1  # should clauses are required without must/filter, and in filter context
    else:
        msm = 0
    required = [*[m.keys() for m in must], *filters]
    if required:
        required.sort(key=len)
        candidates: set[int] = set(required[0])
        for keys in required[1:]:
            candidates &= keys
    elif should and msm > 0:
        candidates = set().union(*(s.keys() for s in should))
    else:
        candidates = set(ctx.index.live())
    for excluded in must_not:
        candidates -= excluded
    scored = bool(must or should)
    out: Scores = {}
    for doc in candidates:
        total = 0.0
        for scores in must:
            total += scores[doc]
        matched = 0
        for scores in should:
            s = scores.get(doc)
            if s is not None:
                matched += 1
                total += s
        if matched < msm:
            continue
        out[doc] = f32(total) if scored else 0.0
    return _scale(out, boost) if scored else out


def _q_constant_score(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[constant_score] query malformed, no start_object after query name")
    _check_keys("constant_score", body, ("filter", "boost", "_name"))
    if "filter" not in body:
        raise ParsingError("[constant_score] requires a 'filter' element")
    return _constant(matching(body["filter"], ctx), _boost(body, "constant_score"))


def _q_dis_max(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[dis_max] query malformed, no start_object after query name")
    _check_keys("dis_max", body, ("queries", "tie_breaker", "boost", "_name"))
    queries = body.get("queries")
    if not isinstance(queries, list) or not queries:
        raise ParsingError("[dis_max] requires 'queries' field with at least one clause")
    per_query = [evaluate(q, ctx) for q in queries]
    return _scale(_dis_max(per_query, float(body.get("tie_breaker", 0.0))), _boost(body, "dis_max"))


def _q_boosting(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[boosting] query malformed, no start_object after query name")
    _check_keys("boosting", body, ("positive", "negative", "negative_boost", "boost", "_name"))
    for key in ("positive", "negative"):
        if key not in body:
            raise ParsingError(f"[boosting] query requires '{key}' query")
    if "negative_boost" not in body:
        raise ParsingError("[boosting] query requires 'negative_boost' to be set to be a positive value'")
    negative_boost = float(body["negative_boost"])
    if negative_boost < 0:
        raise IllegalArgument("[boosting] query requires [negative_boost] to be a positive value")
    positive = evaluate(body["positive"], ctx)
    negative = matching(body["negative"], ctx)
    factor = np.float32(negative_boost)
    out = {d: float(np.float32(s) * factor) if d in negative else s for d, s in positive.items()}
    return _scale(out, _boost(body, "boosting"))


_SCORE_MODES = ("avg", "max", "min", "sum", "none")


def _q_nested(body: Any, ctx: QueryContext) -> Scores:
    if not isinstance(body, dict):
        raise ParsingError("[nested] query malformed, no start_object after query name")
    _check_keys("nested", body, ("path", "query", "score_mode", "ignore_unmapped", "inner_hits", "boost", "_name"))
    if "inner_hits" in body:
        raise IllegalArgument("[nested] [inner_hits] is not supported by modelnode's search engine")
    path = body.get("path")
    if not isinstance(path, str):
        raise ParsingError("[nested] requires 'path' field")
    if "query" not in body:
        raise ParsingError("[nested] requires 'query' field")
    score_mode = str(body.get("score_mode", "avg")).lower()
    if score_mode not in _SCORE_MODES:
        raise IllegalArgument(f"[nested] illegal score_mode [{body.get('score_mode')}]")
    kind = ctx.index.mapping.object_type(path)
    if kind != "nested":
        if body.get("ignore_unmapped", False) is True and kind is None:
            return {}
        if kind is None:
            raise QueryShardError(f"[nested] failed to find nested object under path [{path}]")
        raise QueryShardError(f"[nested] nested object under path [{path}] is not of nested type")
    inner_ctx = replace(ctx, extra={**ctx.extra, "nested": {"path": path, "score_mode": score_mode}})
    scores = evaluate(body["query"], inner_ctx)
    if score_mode == "none":
        return dict.fromkeys(scores, 0.0)
    return _scale(scores, _boost(body, "nested"))


for _name, _fn in {
    "match_all": _q_match_all,
    "match_none": _q_match_none,
    "match": _q_match,
    "match_phrase": _q_match_phrase,
    "match_phrase_prefix": _q_match_phrase_prefix,
    "multi_match": _q_multi_match,
    "term": _q_term,
    "terms": _q_terms,
    "range": _q_range,
    "exists": _q_exists,
    "ids": _q_ids,
    "prefix": _q_prefix,
    "wildcard": _q_wildcard,
    "regexp": _q_regexp,
    "bool": _q_bool,
    "constant_score": _q_constant_score,
    "dis_max": _q_dis_max,
    "boosting": _q_boosting,
    "nested": _q_nested,
}.items():
    QUERY_TYPES[_name] = _fn


# -- the search request ----------------------------------------------------------------------------

# Top-level keys other modules handle (search pipelines read "ext"; "search_pipeline" picks one):
# accepted here and otherwise ignored. Other modules may add theirs.
PASSTHROUGH_KEYS: set[str] = {"ext", "search_pipeline", "verbose_pipeline", "stats", "profile", "explain"}
_UNSUPPORTED_KEYS = {
    "aggs": "aggregations are not supported by modelnode's search engine",
    "aggregations": "aggregations are not supported by modelnode's search engine",
    "collapse": "[collapse] is not supported by modelnode's search engine",
    "rescore": "[rescore] is not supported by modelnode's search engine",
    "suggest": "[suggest] is not supported by modelnode's search engine",
    "script_fields": "[script_fields] are not supported by modelnode's search engine",
    "slice": "[slice] is not supported by modelnode's search engine",
    "pit": "point in time ([pit]) is not supported by modelnode's search engine",
    "indices_boost": "[indices_boost] is not supported by modelnode's search engine",
    "knn": "a top-level [knn] section is not OpenSearch syntax: use the [knn] query inside [query]",
}
_SEARCH_KEYS = frozenset(
    {"query", "size", "from", "sort", "_source", "track_total_hits", "track_scores", "min_score", "post_filter"}
    | {"search_after", "highlight", "version", "seq_no_primary_term", "timeout", "terminate_after"}
    | {"stored_fields", "docvalue_fields", "fields"}
)
DEFAULT_TRACK_TOTAL_HITS = 10_000


@dataclass
class SortField:
    field: str  # "_score", "_doc" or a field path
    desc: bool
    missing: Any = "_last"
    mode: str | None = None
    unmapped_type: str | None = None

    @property
    def is_score(self) -> bool:
        return self.field == "_score"


@dataclass
class SearchRequest:
    """A parsed and validated ``_search`` body."""

    body: dict[str, Any]
    query: dict[str, Any]
    size: int = 10
    from_: int = 0
    sort: list[SortField] = field(default_factory=list)  # empty: by score
    source: Any = True
    track_total_hits: bool | int = DEFAULT_TRACK_TOTAL_HITS
    track_scores: bool = False
    min_score: float | None = None
    post_filter: dict[str, Any] | None = None
    search_after: list[Any] | None = None
    highlight: _highlight.HighlightSpec | None = None
    version: bool = False
    seq_no_primary_term: bool = False
    terminate_after: int = 0
    stored_fields: list[str] | None = None
    docvalue_fields: list[Any] = field(default_factory=list)
    fields: list[Any] = field(default_factory=list)

    @property
    def sorted_by_field(self) -> bool:
        """Sorted by anything but the score alone (``hits[].sort`` is present)."""
        return bool(self.sort)

    @property
    def scores_tracked(self) -> bool:
        return not self.sort or self.track_scores or any(s.is_score for s in self.sort)


def _int_param(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or value is None:
        raise ParsingError(f"[{key}] must be an integer, got [{java_string(value)}]")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ParsingError(f"[{key}] must be an integer, got [{java_string(value)}]") from None
    if isinstance(value, float) and not value.is_integer():
        raise ParsingError(f"[{key}] must be an integer, got [{java_string(value)}]")
    return number


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ParsingError(f"[{key}] must be a boolean, got [{java_string(value)}]")


def parse_request(body: dict[str, Any] | None) -> SearchRequest:
    """Validate a ``_search`` body as OpenSearch does (unknown keys, types, bounds)."""
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise ParsingError("request body must be a JSON object")
    for key, value in body.items():
        if key in _UNSUPPORTED_KEYS:
            raise IllegalArgument(_UNSUPPORTED_KEYS[key])
        if key not in _SEARCH_KEYS and key not in PASSTHROUGH_KEYS:
            raise ParsingError(f"Unknown key for a {_token(value)} in [{key}].")
    query = body.get("query", {"match_all": {}})
    if not isinstance(query, dict):
        raise ParsingError(f"[query] must be an object, found [{_token(query)}]")
    req = SearchRequest(body=body, query=query)
    req.size = _int_param(body, "size", 10)
    if req.size < 0:
        raise IllegalArgument(f"[size] parameter cannot be negative, found [{req.size}]")
    req.from_ = _int_param(body, "from", 0)
    if req.from_ < 0:
        raise IllegalArgument(f"[from] parameter cannot be negative, found [{req.from_}]")
    req.sort = parse_sort(body.get("sort"))
    req.source = _parse_source_spec(body.get("_source", True))
    tth = body.get("track_total_hits", DEFAULT_TRACK_TOTAL_HITS)
    if isinstance(tth, bool):
        req.track_total_hits = tth
    elif isinstance(tth, int) or (isinstance(tth, str) and tth.lstrip("-").isdigit()):
        number = int(tth)
        if number < -1:
            raise IllegalArgument(f"[track_total_hits] parameter must be positive or equals to -1, got {number}")
        req.track_total_hits = True if number == -1 else number
    elif tth in ("true", "false"):
        req.track_total_hits = tth == "true"
    else:
        raise ParsingError(f"[track_total_hits] must be a boolean or an integer, got [{java_string(tth)}]")
    req.track_scores = _flag(body, "track_scores")
    if "min_score" in body:
        ms = body["min_score"]
        if isinstance(ms, bool) or not isinstance(ms, int | float | str):
            raise ParsingError(f"[min_score] must be a number, got [{java_string(ms)}]")
        req.min_score = float(ms)
    if "post_filter" in body:
        if not isinstance(body["post_filter"], dict):
            raise ParsingError("[post_filter] must be an object")
        req.post_filter = body["post_filter"]
    if "search_after" in body:
        sa = body["search_after"]
        if not isinstance(sa, list):
            raise ParsingError("[search_after] must be an array")
        req.search_after = sa
    if "highlight" in body:
        req.highlight = _highlight.parse_spec(body["highlight"])
    req.version = _flag(body, "version")
    req.seq_no_primary_term = _flag(body, "seq_no_primary_term")
    if "terminate_after" in body:
        req.terminate_after = _int_param(body, "terminate_after", 0)
        if req.terminate_after < 0:
            raise IllegalArgument("terminateAfter must be > 0")
    if "timeout" in body and not isinstance(body["timeout"], str | int):
        raise ParsingError("[timeout] must be a time value such as [10s]")
    if "stored_fields" in body:
        sf = body["stored_fields"]
        req.stored_fields = [sf] if isinstance(sf, str) else list(sf) if isinstance(sf, list) else None
        if req.stored_fields is None:
            raise ParsingError("[stored_fields] must be a string or an array")
    for key in ("docvalue_fields", "fields"):
        if key in body:
            value = body[key]
            if not isinstance(value, list):
                raise ParsingError(f"[{key}] must be an array")
            setattr(req, key, value)
    if req.search_after is not None and req.from_ > 0:
        raise IllegalArgument("`from` parameter must be set to 0 when `search_after` is used.")
    if req.search_after is not None and req.sort and len(req.search_after) != len(req.sort):
        raise IllegalArgument(f"search_after has {len(req.search_after)} value(s) but sort has {len(req.sort)}.")
    return req


def parse_sort(spec: Any) -> list[SortField]:
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out: list[SortField] = []
    for item in items:
        if isinstance(item, str):
            out.append(SortField(item, desc=item == "_score"))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise ParsingError(f"[sort] malformed sort element [{java_string(item)}]")
        ((name, opts),) = item.items()
        if name in ("_geo_distance", "_script"):
            raise IllegalArgument(f"[sort] [{name}] is not supported by modelnode's search engine")
        default_desc = name == "_score"
        if isinstance(opts, str):
            out.append(SortField(name, desc=_order(opts)))
            continue
        if not isinstance(opts, dict):
            raise ParsingError(f"[sort] malformed options for [{name}]")
        allowed = {"order", "missing", "mode", "unmapped_type", "numeric_type", "format", "nested"}
        unknown = [k for k in opts if k not in allowed]
        if unknown:
            raise ParsingError(f"[field_sort] unknown field [{unknown[0]}]")
        mode = opts.get("mode")
        if mode is not None and mode not in ("min", "max", "avg", "sum", "median"):
            raise IllegalArgument(f"Unknown SortMode [{mode}]")
        out.append(
            SortField(
                name,
                desc=_order(opts["order"]) if "order" in opts else default_desc,
                missing=opts.get("missing", "_last"),
                mode=mode,
                unmapped_type=opts.get("unmapped_type"),
            )
        )
    return out


def _order(value: Any) -> bool:
    text = str(value).lower()
    if text not in ("asc", "desc"):
        raise IllegalArgument(f"Unknown SortOrder [{value}]")
    return text == "desc"


def _parse_source_spec(spec: Any) -> Any:
    if isinstance(spec, bool) or spec is None:
        return True if spec is None else spec
    if isinstance(spec, str):
        return {"includes": [spec], "excludes": []}
    if isinstance(spec, list):
        if not all(isinstance(x, str) for x in spec):
            raise ParsingError("[_source] array must contain only strings")
        return {"includes": spec, "excludes": []}
    if isinstance(spec, dict):
        out: dict[str, list[str]] = {"includes": [], "excludes": []}
        for key, value in spec.items():
            target = {"includes": "includes", "include": "includes", "excludes": "excludes", "exclude": "excludes"}
            if key not in target:
                raise ParsingError(f"Unknown key for a {_token(value)} in [{key}].")
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise ParsingError(f"Unknown key for a {_token(value)} in [{key}].")
            out[target[key]] = items
        return out
    raise ParsingError(f"[_source] must be a boolean, a string, an array or an object, found [{_token(spec)}]")


# -- execution -------------------------------------------------------------------------------------


@dataclass
class Hit:
    """One hit of the page: internal doc number, the stored document, score and sort values.
    ``highlight`` may be filled by later steps (the semantic highlighter); render keeps it."""

    doc: int
    stored: StoredDoc
    score: float | None
    sort: list[Any] | None = None
    highlight: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for the rendered hit


@dataclass
class SearchResult:
    index: SearchIndex
    request: SearchRequest
    hits: list[Hit]  # the page (from .. from + size), in order
    total: int  # every matching document (after min_score and post_filter)
    max_score: float | None
    scores: Scores  # every matching document -> score (for phase-results and response processors)
    took_ms: float = 0.0
    timed_out: bool = False
    terminated_early: bool | None = None
    ctx: QueryContext | None = None


PhaseResults = Callable[[Scores, QueryContext], Scores]


def execute(
    index: SearchIndex,
    body: dict[str, Any] | None,
    *,
    phase_results: PhaseResults | None = None,
    extra: dict[str, Any] | None = None,
) -> SearchResult:
    """Run a ``_search`` body against one index.

    ``phase_results(scores, ctx) -> scores`` runs between the query and the fetch phase (the hybrid
    normalization processor: the hybrid query leaves its sub-query results in ``ctx.extra``).
    ``extra`` seeds ``ctx.extra`` (e.g. rewritten query vectors)."""
    started = time.perf_counter()
    req = parse_request(body)
    ctx = _context(index, req, extra)
    scores = evaluate(req.query, ctx)
    if phase_results is not None:
        scores = phase_results(scores, ctx)
    return _finish(index, req, ctx, scores, None, started)


def execute_scores(
    index: SearchIndex,
    body: dict[str, Any] | None,
    scores: Scores,
    total: int | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> SearchResult:
    """Like ``execute`` for scores computed elsewhere (a hybrid query combined by its pipeline):
    ``body``'s ``query`` is not evaluated (it is still used for highlighting); ``min_score``,
    ``post_filter``, sort, paging and the rest apply. ``total`` (the number of matching documents when
    ``scores`` holds only the top ones) is reported when nothing filtered the scores."""
    started = time.perf_counter()
    req = parse_request(body)
    ctx = _context(index, req, extra)
    return _finish(index, req, ctx, dict(scores), total, started)


def _context(index: SearchIndex, req: SearchRequest, extra: dict[str, Any] | None) -> QueryContext:
    window = int(setting(index.settings, "index.max_result_window"))
    if req.from_ + req.size > window:
        raise IllegalArgument(
            f"Result window is too large, from + size must be less than or equal to: [{window}] but was "
            f"[{req.from_ + req.size}]. See the scroll api for a more efficient way to request large data sets. "
            "This limit can be set by changing the [index.max_result_window] index level setting."
        )
    return QueryContext(index, size=req.from_ + req.size, extra=dict(extra or {}))


def _finish(
    index: SearchIndex, req: SearchRequest, ctx: QueryContext, scores: Scores, total: int | None, started: float
) -> SearchResult:
    filtered = False
    if req.min_score is not None:
        threshold = req.min_score
        scores = {d: s for d, s in scores.items() if s >= threshold}
        filtered = True
    if req.post_filter is not None:
        allowed = matching(req.post_filter, ctx)
        scores = {d: s for d, s in scores.items() if d in allowed}
        filtered = True
    terminated_early = None
    if req.terminate_after > 0:
        terminated_early = len(scores) > req.terminate_after
        if terminated_early:
            kept = sorted(scores)[: req.terminate_after]
            scores = {d: scores[d] for d in kept}
            filtered = True
    count = len(scores) if total is None or filtered else max(int(total), len(scores))
    hits = _top_hits(index, req, scores)
    max_score = None
    if req.scores_tracked and scores and req.size > 0:
        max_score = max(scores.values())
    return SearchResult(
        index=index,
        request=req,
        hits=hits,
        total=count,
        max_score=max_score,
        scores=scores,
        took_ms=(time.perf_counter() - started) * 1000,
        terminated_early=terminated_early,
        ctx=ctx,
    )


def _top_hits(index: SearchIndex, req: SearchRequest, scores: Scores) -> list[Hit]:
    end = req.from_ + req.size
    if not req.sort:
        items = scores.items()
        if req.search_after is not None:
            after = float(req.search_after[0]) if req.search_after else math.inf
            items = [(d, s) for d, s in items if s < after]  # type: ignore[assignment]
        if end == 0:
            return []
        top = heapq.nsmallest(end, items, key=lambda kv: (-kv[1], kv[0]))
        return [Hit(d, index.doc(d), s) for d, s in top[req.from_ :]]
    keys = _SortKeys(index, req.sort, scores)
    ordered = keys.order(sorted(scores))
    if req.search_after is not None:
        ordered = keys.after(ordered, req.search_after)
    page = ordered[req.from_ : end]
    return [Hit(d, index.doc(d), scores[d] if req.scores_tracked else None, keys.values(d)) for d in page]


class _SortKeys:
    """Per-document sort values and the ordering of ``sort`` (missing values, modes, directions)."""

    def __init__(self, index: SearchIndex, sort: list[SortField], scores: Scores) -> None:
        self.index = index
        self.sort = sort
        self.scores = scores
        self.getters = [self._getter(s) for s in sort]
        self._cache: dict[int, list[Any]] = {}

    def _getter(self, spec: SortField) -> Callable[[int], Any]:
        if spec.field == "_score":
            return lambda d: self.scores[d]
        if spec.field == "_doc":
            return lambda d: d
        if spec.field == "_id":
            return lambda d: self.index.doc(d).id
        mapping = self.index.mapping.field(spec.field)
        if mapping is None:
            if spec.unmapped_type is not None:
                return lambda d: None
            raise QueryShardError(f"No mapping found for [{spec.field}] in order to sort on")
        ftype = mapping["type"]
        if ftype == "text" and not mapping.get("fielddata"):
            raise IllegalArgument(
                "Text fields are not optimised for operations that require per-document field data like "
                "aggregations and sorting, so these operations are disabled by default. Please use a keyword "
                f"field instead. Alternatively, set fielddata=true on [{spec.field}] in order to load field data "
                "by uninverting the inverted index. Note that this can use significant memory."
            )
        if ftype not in _LEXICAL:
            raise IllegalArgument(f"Field [{spec.field}] of type [{ftype}] is not supported for sorting")
        fi = self.index.field(spec.field)
        mode = spec.mode or ("max" if spec.desc else "min")
        numeric = ftype in NUMERIC_TYPES or ftype in ("date", "boolean")
        if mode in ("avg", "sum", "median") and not numeric:
            raise IllegalArgument(f"[{mode}] sort mode is only supported on numeric fields, not on [{spec.field}]")
        float_type = ftype in FLOAT_TYPES

        def get(d: int) -> Any:
            values = fi.sort_values(d) if fi is not None else []
            if not values:
                return None
            if mode == "min":
                return values[0]
            if mode == "max":
                return values[-1]
            if mode == "sum":
                total = sum(values)
                return float(total) if float_type else total
            if mode == "avg":
                avg = sum(values) / len(values)
                return avg if float_type else round(avg)
            mid = len(values) // 2
            median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
            return median if float_type else round(median)

        if spec.missing not in ("_last", "_first", None):
            missing_value = spec.missing
            if ftype in NUMERIC_TYPES:
                missing_value = _query_number(ftype, spec.missing)
            elif ftype == "date":
                missing_value = _date_bounds(mapping, spec.missing)[0]
            return lambda d: v if (v := get(d)) is not None else missing_value
        return get

    def values(self, doc: int) -> list[Any]:
        cached = self._cache.get(doc)
        if cached is None:
            cached = self._cache[doc] = [g(doc) for g in self.getters]
        return cached

    def order(self, docs: list[int]) -> list[int]:
        """Stable passes from the last sort key to the first (docs start in index order)."""
        ordered = list(docs)
        for i in range(len(self.sort) - 1, -1, -1):
            spec = self.sort[i]
            present = [d for d in ordered if self.values(d)[i] is not None]
            missing = [d for d in ordered if self.values(d)[i] is None]
            present.sort(key=lambda d, i=i: self.values(d)[i], reverse=spec.desc)
            ordered = missing + present if spec.missing == "_first" else present + missing
        return ordered

    def _compare(self, a: list[Any], b: list[Any]) -> int:
        for spec, x, y in zip(self.sort, a, b, strict=True):
            if x is None and y is None:
                continue
            if x is None or y is None:
                first = spec.missing == "_first"
                return (-1 if first else 1) if x is None else (1 if first else -1)
            if x != y:
                try:
                    less = x < y
                except TypeError:
                    less = str(x) < str(y)
                result = -1 if less else 1
                return -result if spec.desc else result
        return 0

    def after(self, ordered: list[int], search_after: list[Any]) -> list[int]:
        key = [self._coerce(spec, v) for spec, v in zip(self.sort, search_after, strict=True)]
        return [d for d in ordered if self._compare(self.values(d), key) > 0]

    def _coerce(self, spec: SortField, value: Any) -> Any:
        if value is None or spec.field in ("_score", "_doc"):
            return value
        if spec.field == "_id":
            return keyword_value(value)
        mapping = self.index.mapping.field(spec.field) or {}
        ftype = mapping.get("type")
        if ftype in NUMERIC_TYPES:
            return _query_number(ftype, value)
        if ftype == "date":
            return value if isinstance(value, int) else _date_bounds(mapping, value)[0]
        if ftype == "boolean":
            return int(parse_boolean(value)) if not isinstance(value, int) else value
        return keyword_value(value)


def count(index: SearchIndex, body: dict[str, Any] | None = None) -> int:
    """``_count``: the number of documents the body's ``query`` matches (default match_all)."""
    body = body or {}
    if not isinstance(body, dict):
        raise ParsingError("request body must be a JSON object")
    for key in body:
        if key != "query":
            raise ParsingError(f"request does not support [{key}]")
    # no page here: queries that cut to ``size`` (knn, hybrid) may keep up to the result window
    ctx = QueryContext(index, size=int(setting(index.settings, "index.max_result_window")))
    return len(evaluate(body.get("query", {"match_all": {}}), ctx))


# -- rendering -------------------------------------------------------------------------------------


def json_score(score: float | None) -> float | None:
    """A float32 score as OpenSearch prints it (the shortest decimal that reads back as the same
    float: 0.2876821, not 0.28768208622932434)."""
    if score is None or math.isnan(score):
        return None
    return float(str(np.float32(score)))


def render(
    index_name: str,
    result: SearchResult,
    body: dict[str, Any] | None = None,
    *,
    total_hits_as_int: bool = False,
) -> dict[str, Any]:
    """The ``_search`` response (spec §3.7). ``body`` defaults to the request ``execute`` parsed."""
    req = result.request if body is None or body is result.request.body else parse_request(body)
    index = result.index
    highlighter = None
    if req.highlight is not None:
        highlighter = _highlight.Highlighter(index, req.highlight, req.query)
    hits_out = []
    for hit in result.hits:
        stored = hit.stored
        out: dict[str, Any] = {"_index": index_name, "_id": stored.id}
        if req.version:
            out["_version"] = stored.version
        if req.seq_no_primary_term:
            out["_seq_no"] = stored.seq_no
            out["_primary_term"] = stored.primary_term
        out["_score"] = json_score(hit.score)
        source = _hit_source(index, stored, req)
        if source is not None:
            out["_source"] = source
        fields = _hit_fields(index, stored, req)
        if fields:
            out["fields"] = fields
        highlights = dict(highlighter.highlight(stored)) if highlighter is not None else {}
        highlights.update(hit.highlight)
        if highlights:
            out["highlight"] = highlights
        if req.sorted_by_field and hit.sort is not None:
            out["sort"] = [_sort_json(spec, v) for spec, v in zip(req.sort, hit.sort, strict=True)]
        out.update(hit.extra)
        hits_out.append(out)
    hits: dict[str, Any] = {}
    tth = req.track_total_hits
    if tth is not False:
        limit = math.inf if tth is True else int(tth)
        value = result.total if result.total <= limit else int(limit)
        relation = "eq" if result.total <= limit else "gte"
        hits["total"] = value if total_hits_as_int else {"value": value, "relation": relation}
    hits["max_score"] = json_score(result.max_score)
    hits["hits"] = hits_out
    response: dict[str, Any] = {"took": int(result.took_ms), "timed_out": result.timed_out}
    if result.terminated_early is not None:
        response["terminated_early"] = result.terminated_early
    response["_shards"] = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    response["hits"] = hits
    return response


def _sort_json(spec: SortField, value: Any) -> Any:
    if spec.field == "_score":
        return json_score(value)
    return value


def _hit_source(index: SearchIndex, stored: StoredDoc, req: SearchRequest) -> dict[str, Any] | None:
    if req.source is False:
        return None
    if req.stored_fields is not None and "_source" not in req.body:
        return None
    stored_source = getattr(index.mapping, "stored_source", None)
    source = stored_source(stored.source) if callable(stored_source) else stored.source
    if source is None:
        return None
    if isinstance(req.source, dict):
        return filter_source(source, req.source["includes"], req.source["excludes"])
    return source


def _hit_fields(index: SearchIndex, stored: StoredDoc, req: SearchRequest) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for kind, specs in (("fields", req.fields), ("docvalue_fields", req.docvalue_fields)):
        for spec in specs:
            name = spec.get("field") if isinstance(spec, dict) else spec
            if not isinstance(name, str):
                raise ParsingError(f"[{kind}] entries must be field names or objects with [field]")
            for path in index.mapping.leaf_paths(name) if "*" in name else [name]:
                mapping = index.mapping.field(path)
                if mapping is None:
                    continue
                values = values_at(stored.source, index.mapping.source_path(path))
                if not values:
                    continue
                if kind == "docvalue_fields" and mapping["type"] == "date":
                    fmt = _date_format(mapping)
                    try:
                        values = [millis_to_iso(fmt.millis(v)) for v in values]
                    except ValueProblem:
                        continue
                out[path] = values
    return out


def search(
    index: SearchIndex,
    body: dict[str, Any] | None,
    *,
    phase_results: PhaseResults | None = None,
    extra: dict[str, Any] | None = None,
    total_hits_as_int: bool = False,
) -> dict[str, Any]:
    """``render(execute(...))``: a ``_search`` body in, the response out."""
    result = execute(index, body, phase_results=phase_results, extra=extra)
    return render(index.name, result, total_hits_as_int=total_hits_as_int)


def render_scores(
    index: SearchIndex, body: dict[str, Any] | None, scores: Scores, total: int | None = None
) -> dict[str, Any]:
    """The response for scores computed elsewhere (``execute_scores`` + ``render``)."""
    return render(index.name, execute_scores(index, body, scores, total))


__all__ = [
    "PASSTHROUGH_KEYS",
    "Hit",
    "PhaseResults",
    "SearchRequest",
    "SearchResult",
    "SortField",
    "calculate_msm",
    "count",
    "evaluate",
    "execute",
    "execute_scores",
    "filter_context",
    "json_score",
    "match_field",
    "matching",
    "parse_request",
    "parse_sort",
    "phrase_field",
    "render",
    "render_scores",
    "search",
    "term_field",
]
