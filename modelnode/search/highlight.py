"""Highlighting: the ``highlight`` section of a search body.

The lexical highlighter (``type`` ``plain``, ``unified`` or ``fvh``: one implementation) marks the
tokens of ``text`` and ``keyword`` fields that the query matched: terms of ``match``/``multi_match``/
``term``/``terms`` (analysed with the field's analyzer), whole phrases of ``match_phrase``, and terms
``prefix``/``wildcard``/``regexp`` accept; clauses under ``must_not`` are ignored, as in OpenSearch.
Options: ``pre_tags``/``post_tags`` (first pair used; ``tags_schema: styled``), ``fragment_size``
(default 100), ``number_of_fragments`` (default 5; 0 = the whole value), ``no_match_size``,
``order`` (``none``: text order, ``score``: most distinct matched terms first), ``encoder: html``,
``require_field_match`` (default true), ``highlight_query``; per-field options override the
top-level ones. Fragments are cut like Lucene's SimpleFragmenter (a new fragment when a token ends
past the next multiple of ``fragment_size``) and trimmed of surrounding whitespace; OpenSearch's
default ``unified`` highlighter cuts on sentence boundaries instead, so fragment edges can differ.

Extension point: ``HIGHLIGHTERS`` maps a highlighter ``type`` to a ``FieldHighlighter``
(``fn(HighlightRequest) -> list[str] | None``), or to ``None`` for a type rendered later by an async
step: ``semantic`` is registered as ``None``, so ``render`` leaves those fields alone and the search
pipeline's semantic highlighter fills ``Hit.highlight[field]`` (see ``deferred_fields``) using
``apply_spans`` for the tag placement.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search.analysis import Analyzer, Token, get_analyzer, java_lowercase
from modelnode.search.core import SearchIndex, StoredDoc, values_at
from modelnode.search.mapping import java_string, keyword_value, search_analyzer
from modelnode.search.text import wildcard_to_regex

STYLED_PRE_TAGS = [f'<em class="hlt{i}">' for i in range(1, 11)]
_OPTION_KEYS = frozenset(
    {"pre_tags", "post_tags", "tags_schema", "fragment_size", "number_of_fragments", "no_match_size", "type"}
    | {"order", "encoder", "require_field_match", "highlight_query", "options", "boundary_scanner"}
    | {"boundary_chars", "boundary_max_scan", "boundary_scanner_locale", "fragmenter", "fragment_offset"}
    | {"phrase_limit", "matched_fields", "force_source", "highlight_filter", "max_analyzed_offset"}
)
_TOP_KEYS = _OPTION_KEYS | {"fields"}


@dataclass
class FieldOptions:
    pre_tags: list[str] = field(default_factory=lambda: ["<em>"])
    post_tags: list[str] = field(default_factory=lambda: ["</em>"])
    fragment_size: int = 100
    number_of_fragments: int = 5
    no_match_size: int = 0
    type: str = "unified"
    order: str = "none"
    encoder: str = "default"
    require_field_match: bool = True
    highlight_query: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # free-form (the semantic highlighter's model_id)
    raw: dict[str, Any] = field(default_factory=dict)  # the field's own options as given


@dataclass
class HighlightSpec:
    fields: list[tuple[str, FieldOptions]]  # field names or patterns, in request order
    raw: dict[str, Any]


def _int_option(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParsingError(
            f"[highlight] failed to parse field [{key}]: expected an integer, got [{java_string(value)}]"
        )
    try:
        return int(value)
    except ValueError:
        raise ParsingError(f"[highlight] failed to parse field [{key}]") from None


def _apply_options(target: FieldOptions, source: dict[str, Any], where: str) -> None:
    for key, value in source.items():
        if key in ("pre_tags", "post_tags"):
            tags = [value] if isinstance(value, str) else value
            if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
                raise ParsingError(f"[{where}] [{key}] must be a non-empty array of strings")
            setattr(target, key, list(tags))
        elif key == "tags_schema":
            if value != "styled":
                raise IllegalArgument(f"Unknown tag schema [{value}]")
            target.pre_tags, target.post_tags = list(STYLED_PRE_TAGS), ["</em>"]
        elif key in ("fragment_size", "number_of_fragments", "no_match_size"):
            number = _int_option(value, key)
            if number < 0:
                raise IllegalArgument(f"[{where}] [{key}] must be >= 0, got [{number}]")
            setattr(target, key, number)
        elif key == "type":
            if not isinstance(value, str):
                raise ParsingError(f"[{where}] [type] must be a string")
            target.type = value
        elif key == "order":
            if value not in ("none", "score"):
                raise IllegalArgument(f"Unknown order [{value}]")
            target.order = value
        elif key == "encoder":
            if value not in ("default", "html"):
                raise IllegalArgument(f"Unknown encoder [{value}]")
            target.encoder = value
        elif key == "require_field_match":
            target.require_field_match = value is True or value == "true"
        elif key == "highlight_query":
            if not isinstance(value, dict):
                raise ParsingError(f"[{where}] [highlight_query] must be an object")
            target.highlight_query = value
        elif key == "options":
            if not isinstance(value, dict):
                raise ParsingError(f"[{where}] [options] must be an object")
            target.options = {**target.options, **value}


def parse_spec(spec: Any) -> HighlightSpec:
    """Validate a ``highlight`` section (unknown keys and highlighter types are refused)."""
    if not isinstance(spec, dict):
        raise ParsingError("[highlight] must be an object")
    for key in spec:
        if key not in _TOP_KEYS:
            raise ParsingError(f"[highlight] unknown field [{key}]")
    top = FieldOptions()
    _apply_options(top, {k: v for k, v in spec.items() if k != "fields"}, "highlight")
    raw_fields = spec.get("fields")
    if raw_fields is None:
        raise IllegalArgument("[highlight] requires [fields]")
    entries: list[tuple[str, Any]] = []
    if isinstance(raw_fields, dict):
        entries = list(raw_fields.items())
    elif isinstance(raw_fields, list):
        for item in raw_fields:
            if not isinstance(item, dict) or len(item) != 1:
                raise ParsingError("[highlight] [fields] array entries must be objects with a single field")
            entries.extend(item.items())
    else:
        raise ParsingError("[highlight] [fields] must be an object or an array")
    fields: list[tuple[str, FieldOptions]] = []
    for name, options in entries:
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise ParsingError(f"[highlight_field] [{name}] options must be an object")
        for key in options:
            if key not in _OPTION_KEYS:
                raise ParsingError(f"[highlight_field] unknown field [{key}]")
        merged = FieldOptions(**{k: v for k, v in vars(top).items() if k != "raw"})
        merged.pre_tags, merged.post_tags, merged.options = list(top.pre_tags), list(top.post_tags), dict(top.options)
        _apply_options(merged, options, "highlight_field")
        merged.raw = dict(options)
        if merged.type not in HIGHLIGHTERS:
            raise IllegalArgument(f"unknown highlighter type [{merged.type}] for the field [{name}]")
        fields.append((name, merged))
    return HighlightSpec(fields, spec)


# -- what the query matched -----------------------------------------------------------------------


@dataclass
class TermMatcher:
    """What to mark in one field: exact terms, predicates on terms, and phrases."""

    terms: set[str] = field(default_factory=set)
    predicates: list[Callable[[str], bool]] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.terms or self.predicates or self.phrases)

    def merge(self, other: TermMatcher) -> None:
        self.terms |= other.terms
        self.predicates.extend(other.predicates)
        self.phrases.extend(other.phrases)

    def matches(self, term: str) -> bool:
        return term in self.terms or any(p(term) for p in self.predicates)


Matchers = dict[str, TermMatcher]
# query name -> fn(body, index, add(field, matcher), walk(subquery)); other modules may add entries
TERM_EXTRACTORS: dict[
    str, Callable[[Any, SearchIndex, Callable[[str, TermMatcher], None], Callable[[Any], None]], None]
] = {}


def extract_terms(query: Any, index: SearchIndex) -> Matchers:
    """Per field, what ``query`` matched (its non-prohibited clauses)."""
    out: Matchers = {}

    def add(path: str, matcher: TermMatcher) -> None:
        if matcher:
            out.setdefault(path, TermMatcher()).merge(matcher)

    def walk(q: Any) -> None:
        if not isinstance(q, dict) or len(q) != 1:
            return
        ((name, body),) = q.items()
        extractor = TERM_EXTRACTORS.get(name)
        if extractor is not None:
            extractor(body, index, add, walk)

    walk(query)
    return out


def _analyzed_terms(index: SearchIndex, path: str, text: Any, *, quote: bool = False) -> list[str]:
    mapping = index.mapping.field(path)
    if mapping is None:
        return []
    try:
        value = keyword_value(text)
    except Exception:
        return []
    if mapping["type"] == "text":
        return get_analyzer(search_analyzer(mapping, quote=quote)).terms(value)
    if mapping["type"] == "keyword":
        return [java_lowercase_keyword(value, mapping)]
    return []


def java_lowercase_keyword(value: str, mapping: dict[str, Any]) -> str:
    """A keyword value as the field indexes it (the ``lowercase`` normalizer applied)."""
    return java_lowercase(value) if mapping.get("normalizer") == "lowercase" else value


def _field_spec(body: Any) -> tuple[str, Any, dict[str, Any]] | None:
    if not isinstance(body, dict):
        return None
    names = [k for k in body if k not in ("boost", "_name")]
    if len(names) != 1:
        return None
    fld = names[0]
    spec = body[fld]
    if isinstance(spec, dict):
        return fld, spec.get("query", spec.get("value", spec.get("wildcard", spec.get("prefix")))), spec
    return fld, spec, {}


def _x_match(body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Any) -> None:
    parsed = _field_spec(body)
    if parsed is not None and parsed[1] is not None:
        add(parsed[0], TermMatcher(terms=set(_analyzed_terms(index, parsed[0], parsed[1]))))


def _x_phrase(body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Any) -> None:
    parsed = _field_spec(body)
    if parsed is None or parsed[1] is None:
        return
    fld, text, params = parsed
    terms = _analyzed_terms(index, fld, text, quote=True)
    if len(terms) > 1 and int(params.get("slop", 0) or 0) == 0:
        add(fld, TermMatcher(phrases=[terms]))
    else:
        add(fld, TermMatcher(terms=set(terms)))


def _x_phrase_prefix(body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Any) -> None:
    parsed = _field_spec(body)
    if parsed is None or parsed[1] is None:
        return
    terms = _analyzed_terms(index, parsed[0], parsed[1])
    if terms:
        last = terms[-1]
        add(parsed[0], TermMatcher(terms=set(terms[:-1]), predicates=[lambda t, last=last: t.startswith(last)]))


def _x_multi_match(body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Any) -> None:
    if not isinstance(body, dict) or "query" not in body:
        return
    specs = body.get("fields") or ["*"]
    for spec in [specs] if isinstance(specs, str) else specs:
        if not isinstance(spec, str):
            continue
        name = spec.partition("^")[0]
        paths = index.mapping.leaf_paths(name) if "*" in name else [name]
        for path in paths:
            terms = _analyzed_terms(index, path, body["query"])
            if str(body.get("type", "best_fields")) == "phrase" and len(terms) > 1:
                add(path, TermMatcher(phrases=[terms]))
            else:
                add(path, TermMatcher(terms=set(terms)))


def _x_term(body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Any) -> None:
    parsed = _field_spec(body)
    if parsed is None or parsed[1] is None:
        return
    fld, value, params = parsed
    mapping = index.mapping.field(fld)
    if mapping is None or mapping["type"] not in ("text", "keyword"):
        return
    term = (
        java_lowercase_keyword(keyword_value(value), mapping) if mapping["type"] == "keyword" else keyword_value(value)
    )
    if params.get("case_insensitive"):
        low = term.lower()
        add(fld, TermMatcher(predicates=[lambda t, low=low: t.lower() == low]))
    else:
        add(fld, TermMatcher(terms={term}))


def _x_terms(body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Any) -> None:
    if not isinstance(body, dict):
        return
    for fld, values in body.items():
        if fld in ("boost", "_name") or not isinstance(values, list):
            continue
        mapping = index.mapping.field(fld)
        if mapping is None or mapping["type"] not in ("text", "keyword"):
            continue
        terms = set()
        for v in values:
            if v is None or isinstance(v, dict | list):
                continue
            text = keyword_value(v)
            terms.add(java_lowercase_keyword(text, mapping) if mapping["type"] == "keyword" else text)
        add(fld, TermMatcher(terms=terms))


def _x_pattern(kind: str) -> Callable[[Any, SearchIndex, Callable[[str, TermMatcher], None], Any], None]:
    def extract(body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Any) -> None:
        parsed = _field_spec(body)
        if parsed is None or parsed[1] is None or isinstance(parsed[1], dict | list):
            return
        fld, value, params = parsed
        text = keyword_value(value)
        insensitive = bool(params.get("case_insensitive"))
        if kind == "prefix":
            low = text.lower()
            pred: Callable[[str], bool] = (
                (lambda t: t.lower().startswith(low)) if insensitive else (lambda t: t.startswith(text))
            )
        elif kind == "wildcard":
            regex = wildcard_to_regex(text.lower() if _lowercased(index, fld) else text, case_insensitive=insensitive)
            pred = lambda t: regex.fullmatch(t) is not None  # noqa: E731
        else:
            try:
                compiled = re.compile(text, re.DOTALL | (re.IGNORECASE if insensitive else 0))
            except re.error:
                return
            pred = lambda t: compiled.fullmatch(t) is not None  # noqa: E731
        add(fld, TermMatcher(predicates=[pred]))

    return extract


def _lowercased(index: SearchIndex, fld: str) -> bool:
    mapping = index.mapping.field(fld) or {}
    return mapping.get("type") == "text" or mapping.get("normalizer") == "lowercase"


def _x_bool(
    body: Any, index: SearchIndex, add: Callable[[str, TermMatcher], None], walk: Callable[[Any], None]
) -> None:
    if not isinstance(body, dict):
        return
    for key in ("must", "should", "filter"):
        clauses = body.get(key)
        for clause in clauses if isinstance(clauses, list) else [clauses] if clauses else []:
            walk(clause)


def _x_subqueries(
    *keys: str,
) -> Callable[[Any, SearchIndex, Callable[[str, TermMatcher], None], Callable[[Any], None]], None]:
    def extract(body: Any, index: SearchIndex, add: Any, walk: Callable[[Any], None]) -> None:
        if not isinstance(body, dict):
            return
        for key in keys:
            value = body.get(key)
            for q in value if isinstance(value, list) else [value] if value else []:
                walk(q)

    return extract


TERM_EXTRACTORS.update(
    {
        "match": _x_match,
        "match_bool_prefix": _x_match,
        "match_phrase": _x_phrase,
        "match_phrase_prefix": _x_phrase_prefix,
        "multi_match": _x_multi_match,
        "term": _x_term,
        "terms": _x_terms,
        "prefix": _x_pattern("prefix"),
        "wildcard": _x_pattern("wildcard"),
        "regexp": _x_pattern("regexp"),
        "bool": _x_bool,
        "constant_score": _x_subqueries("filter"),
        "dis_max": _x_subqueries("queries"),
        "boosting": _x_subqueries("positive"),
        "nested": _x_subqueries("query"),
        "function_score": _x_subqueries("query"),
        "hybrid": _x_subqueries("queries"),
    }
)


# -- marking and fragments -------------------------------------------------------------------------


@dataclass
class HighlightRequest:
    """Everything a field highlighter needs for one hit and one field."""

    index: SearchIndex
    doc: StoredDoc
    field: str
    values: list[str]  # the field's text values from _source
    options: FieldOptions
    matcher: TermMatcher | None  # None when the query matched nothing on this field
    query: dict[str, Any]


FieldHighlighter = Callable[[HighlightRequest], list[str] | None]


def _marks(tokens: list[Token], matcher: TermMatcher) -> list[bool]:
    marked = [matcher.matches(t.term) for t in tokens]
    for phrase in matcher.phrases:
        n = len(phrase)
        for i in range(len(tokens) - n + 1):
            if all(tokens[i + j].term == phrase[j] for j in range(n)):
                for j in range(n):
                    marked[i + j] = True
    return marked


def _encode(text: str, encoder: str) -> str:
    """``encoder: html``: Lucene's SimpleHTMLEncoder (``& < > " ' /`` escaped)."""
    return html.escape(text, quote=True).replace("/", "&#x2F;") if encoder == "html" else text


def _tagged(
    text: str, spans: list[tuple[int, int]], options: FieldOptions, start: int = 0, end: int | None = None
) -> str:
    end = len(text) if end is None else end
    pre, post = options.pre_tags[0], options.post_tags[0]
    out: list[str] = []
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        out.append(_encode(text[pos:s], options.encoder))
        out.append(pre + _encode(text[s:e], options.encoder) + post)
        pos = e
    out.append(_encode(text[pos:end], options.encoder))
    return "".join(out)


def apply_spans(
    text: str,
    spans: Iterable[tuple[int, int]],
    pre_tag: str = "<em>",
    post_tag: str = "</em>",
    encoder: str = "default",
) -> str:
    """Wrap each ``(start, end)`` span of ``text`` in the tags. Spans must be sorted, non-overlapping
    and inside the text (the semantic highlighter's contract); else ``IllegalArgument``."""
    spans = list(spans)
    previous_end = 0
    for s, e in spans:
        if s < previous_end or e < s or e > len(text) or s < 0:
            raise IllegalArgument(
                "Invalid highlight positions: spans must be sorted, non-overlapping and within the text, "
                f"got [{s}, {e}]"
            )
        previous_end = e
    options = FieldOptions(pre_tags=[pre_tag], post_tags=[post_tag], encoder=encoder)
    return _tagged(text, spans, options)


def _fragments(
    text: str, tokens: list[Token], marked: list[bool], options: FieldOptions
) -> list[tuple[float, int, str]]:
    """(score, start offset, fragment) for each fragment with at least one marked token."""
    if not tokens:
        return []
    size = max(options.fragment_size, 1)
    groups: list[list[int]] = [[]]
    boundary = size
    for i, tok in enumerate(tokens):
        if tok.end >= boundary and groups[-1]:
            groups.append([])
            while boundary <= tok.end:
                boundary += size
        groups[-1].append(i)
    out: list[tuple[float, int, str]] = []
    for g, idxs in enumerate(groups):
        hits = [i for i in idxs if marked[i]]
        if not hits:
            continue
        start = 0 if g == 0 else tokens[idxs[0]].start
        end = len(text) if g == len(groups) - 1 else tokens[groups[g + 1][0]].start
        spans = [(tokens[i].start, tokens[i].end) for i in hits]
        fragment = _tagged(text, spans, options, start, end).strip()
        score = float(len({tokens[i].term for i in hits}))
        out.append((score, start, fragment))
    return out


def plain_highlighter(req: HighlightRequest) -> list[str] | None:
    """The lexical highlighter (see the module doc)."""
    mapping = req.index.mapping.field(req.field) or {}
    options = req.options
    keyword = mapping.get("type") == "keyword"
    analyzer: Analyzer = get_analyzer("keyword" if keyword else mapping.get("analyzer", "standard"))
    candidates: list[tuple[float, int, int, str]] = []
    for v_index, value in enumerate(req.values):
        if req.matcher is None:
            break
        tokens = analyzer.tokens(value)
        if keyword:
            tokens = [Token(java_lowercase_keyword(t.term, mapping), t.start, t.end, t.position) for t in tokens]
        marked = _marks(tokens, req.matcher)
        if not any(marked):
            continue
        if options.number_of_fragments == 0:
            spans = [(t.start, t.end) for t, m in zip(tokens, marked, strict=True) if m]
            candidates.append((0.0, v_index, 0, _tagged(value, spans, options)))
            continue
        for score, start, fragment in _fragments(value, tokens, marked, options):
            candidates.append((score, v_index, start, fragment))
    if candidates:
        if options.number_of_fragments == 0:
            return [c[3] for c in candidates]
        best = sorted(candidates, key=lambda c: (-c[0], c[1], c[2]))[: options.number_of_fragments]
        if options.order != "score":
            best.sort(key=lambda c: (c[1], c[2]))
        return [c[3] for c in best]
    if options.no_match_size > 0 and req.values:
        value = req.values[0]
        tokens = analyzer.tokens(value)
        end = 0
        for tok in tokens:
            if tok.end > options.no_match_size:
                break
            end = tok.end
        if end == 0 and tokens:
            end = min(len(value), options.no_match_size)
        excerpt = _encode(value[:end], options.encoder)
        return [excerpt] if excerpt else None
    return None


# type -> highlighter, or None for a type filled in later by an async step (semantic)
HIGHLIGHTERS: dict[str, FieldHighlighter | None] = {
    "plain": plain_highlighter,
    "unified": plain_highlighter,
    "fvh": plain_highlighter,
    "semantic": None,
}
_HIGHLIGHTABLE = frozenset({"text", "keyword"})


def _resolve_fields(index: SearchIndex, name: str) -> list[str]:
    if "*" in name:
        mapping = index.mapping
        return [p for p in mapping.leaf_paths(name) if mapping.field(p)["type"] in _HIGHLIGHTABLE]
    return [name]


def deferred_fields(index: SearchIndex, spec: HighlightSpec) -> list[tuple[str, FieldOptions]]:
    """The fields whose highlighter type is registered as ``None`` (e.g. ``semantic``): for the step
    that fills them (``Hit.highlight[field] = [...]``)."""
    out: list[tuple[str, FieldOptions]] = []
    for name, options in spec.fields:
        if HIGHLIGHTERS.get(options.type, plain_highlighter) is None:
            out.extend((path, options) for path in _resolve_fields(index, name))
    return out


def field_texts(index: SearchIndex, doc: StoredDoc, path: str) -> list[str]:
    """The text values of a field in a document's ``_source`` (multi-fields read their parent)."""
    out: list[str] = []
    for v in values_at(doc.source, index.mapping.source_path(path)):
        if isinstance(v, dict | list):
            continue
        out.append(keyword_value(v))
    return out


class Highlighter:
    """Highlights the hits of one search: resolves fields and query terms once."""

    def __init__(self, index: SearchIndex, spec: HighlightSpec, query: dict[str, Any]) -> None:
        self.index = index
        self.spec = spec
        self.query = query
        self._default_matchers = extract_terms(query, index)
        self.fields: list[tuple[str, FieldOptions, FieldHighlighter, Matchers]] = []
        for name, options in spec.fields:
            fn = HIGHLIGHTERS.get(options.type)
            if fn is None:
                continue  # deferred (semantic)
            matchers = (
                extract_terms(options.highlight_query, index) if options.highlight_query else self._default_matchers
            )
            for path in _resolve_fields(index, name):
                self.fields.append((path, options, fn, matchers))

    def _matcher(self, path: str, options: FieldOptions, matchers: Matchers) -> TermMatcher | None:
        if options.require_field_match:
            return matchers.get(path)
        merged = TermMatcher()
        for matcher in matchers.values():
            merged.merge(matcher)
        return merged or None

    def highlight(self, doc: StoredDoc) -> Iterator[tuple[str, list[str]]]:
        for path, options, fn, matchers in self.fields:
            mapping = self.index.mapping.field(path)
            if mapping is None or mapping["type"] not in _HIGHLIGHTABLE:
                continue
            values = field_texts(self.index, doc, path)
            if not values:
                continue
            request = HighlightRequest(
                self.index, doc, path, values, options, self._matcher(path, options, matchers), self.query
            )
            fragments = fn(request)
            if fragments:
                yield path, fragments


__all__ = [
    "HIGHLIGHTERS",
    "TERM_EXTRACTORS",
    "FieldHighlighter",
    "FieldOptions",
    "HighlightRequest",
    "HighlightSpec",
    "Highlighter",
    "TermMatcher",
    "apply_spans",
    "deferred_fields",
    "extract_terms",
    "field_texts",
    "parse_spec",
    "plain_highlighter",
]
