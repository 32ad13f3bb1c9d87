"""Leaf queries: ``match_all``, ``match_none``, ``match``, ``match_phrase``, ``match_phrase_prefix``,
``multi_match``, ``term``, ``terms``, ``range``, ``exists``, ``ids``, ``prefix``, ``wildcard``, ``regexp``,
and the per-field builders other modules reuse (``match_field``, ``term_field``, ``phrase_field``,
``phrase_prefix_field``). Importing this module registers these queries in ``core.QUERY_TYPES``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, ParsingError, QueryShardError
from modelnode.search.analysis import get_analyzer
from modelnode.search.core import QUERY_TYPES, QueryContext, Scores, values_at
from modelnode.search.mapping import (
    NUMERIC_TYPES,
    ValueProblem,
    java_string,
    keyword_value,
    parse_boolean,
    parse_date_math,
    parse_time_zone,
    search_analyzer,
    setting,
)
from modelnode.search.query.base import (
    _LEXICAL,
    _arrays_to_scores,
    _boost,
    _check_keys,
    _constant,
    _date_bounds,
    _date_format,
    _equal_docs,
    _query_number,
    _reject_fuzziness,
    _scale,
    _searchable,
    _single_field,
    _sum_clauses,
    _token,
    _unsupported_type,
    calculate_msm,
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
        analyzer_obj = get_analyzer(analyzer or search_analyzer(mapping))
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
    terms = get_analyzer(analyzer or search_analyzer(mapping, quote=True)).terms(text)
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
    terms = get_analyzer(analyzer or search_analyzer(mapping)).terms(text)
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


# Registered on import (the package imports this module before ``compound``, keeping the registry's
# order): ``evaluate`` dispatches on ``core.QUERY_TYPES``.
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
}.items():
    QUERY_TYPES[_name] = _fn
