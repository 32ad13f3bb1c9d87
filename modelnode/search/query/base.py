"""The evaluation entry points (``evaluate``, ``matching``, ``filter_context``) and the helpers every
query shares: parameter checks (``boost``, single-field bodies, ``minimum_should_match``), score
arithmetic done as Lucene does (float32 scores, double clause sums) and values on typed fields."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from modelnode.errors import IllegalArgument, ParsingError, QueryShardError
from modelnode.search.core import QUERY_TYPES, QueryContext, Scores
from modelnode.search.mapping import (
    INTEGER_TYPES,
    NUMERIC_TYPES,
    DateFormat,
    ValueProblem,
    java_string,
    parse_date_math,
)
from modelnode.search.text import NumericFieldIndex, f32

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
