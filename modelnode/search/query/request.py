"""The ``_search`` body: ``parse_request`` validates it into a ``SearchRequest`` (unknown and unsupported
keys, ``size``/``from``, ``sort``, ``_source``, ``track_total_hits``, ``post_filter``, ``search_after``...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search import highlight as _highlight
from modelnode.search.mapping import java_string
from modelnode.search.query.base import _token

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
