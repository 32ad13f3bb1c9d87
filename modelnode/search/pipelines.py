"""Search pipelines (spec §3.5, §3.6, §4) and the ``_search`` orchestration that runs them.

A pipeline body ``{"description", "version", "request_processors", "phase_results_processors",
"response_processors"}`` is parsed and validated once (``parse_pipeline``; unknown keys and unknown
processors are 400s). Processors:

request_processors
  ``neural_query_enricher``            default model ids for ``neural`` / ``neural_sparse`` (§3.6)
  ``neural_sparse_two_phase_processor`` validated; scoring stays exact (see ``TwoPhase``)
  ``filter_query``                     core OpenSearch: ``bool{must: query, filter: <query>}``
phase_results_processors
  ``normalization-processor``          hybrid normalization + combination (min_max, l2, z_score / means)
  ``score-ranker-processor``           hybrid reciprocal rank fusion
response_processors
  ``rerank``                           ``ml_opensearch`` (cross-encoder on the returned page) or ``by_field``

Every processor accepts ``tag``, ``description`` and ``ignore_failure``.

``run_search`` is what services call for ``_search``: request processors -> ``rewrite.resolve``
(inference, cached) -> execution (``hybrid.run_hybrid`` + the core's ``render`` for a top-level
``hybrid``, the core's ``execute`` otherwise) -> semantic highlighting -> response processors. A
top-level ``hybrid`` needs a ``normalization-processor`` or ``score-ranker-processor``: OpenSearch
answers such a request with unnormalized per-sub-query score lists that no client can use, so
modelnode refuses it with a 400 that names the fix.
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelnode.errors import IllegalArgument, ParseError, ParsingError
from modelnode.search import semantic_highlight
from modelnode.search.core import QueryContext, Scores, SearchIndex
from modelnode.search.encoder import Encoder
from modelnode.search.hybrid import (
    Hybridization,
    parse_normalization_processor,
    parse_score_ranker_processor,
    run_hybrid,
)
from modelnode.search.mapping import search_analyzer
from modelnode.search.rewrite import EmbeddingCache, resolve
from modelnode.search.vector import field_mapping

COMMON_KEYS = frozenset({"tag", "description", "ignore_failure"})
PIPELINE_KEYS = frozenset(
    {"description", "version", "request_processors", "phase_results_processors", "response_processors"}
)
RERANK_TYPES = ("ml_opensearch", "by_field")
MAX_RERANK_DOCUMENT_FIELDS = 50  # plugins.neural_search.reranker_max_document_fields
MAX_QUERY_TEXT_PATH_DEPTH = 20  # index.mapping.depth.limit
DEFAULT_PREVIOUS_SCORE_FIELD = "previous_score"


@dataclass
class SearchState:
    """What flows through one ``_search``: the (mutable) request body and what processors learn."""

    index: SearchIndex
    body: dict[str, Any]
    ext: dict[str, Any] = field(default_factory=dict)
    default_model_ids: dict[str, Any] | None = None
    original_body: dict[str, Any] = field(default_factory=dict)  # after request processors, before rewrite


# --- processors ----------------------------------------------------------------------------------


@dataclass
class Processor:
    type: str
    tag: str | None = None
    description: str | None = None
    ignore_failure: bool = False


@dataclass
class NeuralQueryEnricher(Processor):
    default_model_id: str | None = None
    neural_field_default_id: dict[str, str] = field(default_factory=dict)

    async def process_request(self, state: SearchState) -> None:
        state.default_model_ids = {
            "default_model_id": self.default_model_id,
            "neural_field_default_id": dict(self.neural_field_default_id),
        }


@dataclass
class TwoPhase(Processor):
    """``neural_sparse_two_phase_processor``: parsed and validated like neural-search; modelnode's
    sparse scoring is exact and cheap, so every document gets the full Σ q·d score (the score a
    two-phase search gives the documents inside its rescore window)."""

    enabled: bool = True
    prune_type: str = "max_ratio"
    prune_ratio: float = 0.4
    expansion_rate: float = 5.0
    max_window_size: int = 10_000

    async def process_request(self, state: SearchState) -> None:
        if not self.enabled:
            return
        if state.body.get("sort"):
            return
        window = int(int(state.body.get("size", 10)) * self.expansion_rate)
        if window > self.max_window_size:
            raise IllegalArgument(
                f"Two phase final windowSize {window} out of score with limit {self.max_window_size}. "
                "Lower size or expansion_rate, or raise the processor's max_window_size (at least 50)."
            )


@dataclass
class FilterQuery(Processor):
    query: dict[str, Any] = field(default_factory=dict)

    async def process_request(self, state: SearchState) -> None:
        current = state.body.get("query")
        state.body["query"] = {"bool": {"must": [current] if current else [{"match_all": {}}], "filter": [self.query]}}


@dataclass
class HybridProcessor(Processor):
    hybridization: Hybridization = field(default_factory=Hybridization)


@dataclass
class Rerank(Processor):
    kind: str = "ml_opensearch"
    model_id: str | None = None
    document_fields: list[str] = field(default_factory=list)
    target_field: str | None = None
    remove_target_field: bool = False
    keep_previous_score: bool = False
    previous_score_field: str = DEFAULT_PREVIOUS_SCORE_FIELD

    async def process_response(self, state: SearchState, response: dict[str, Any], encoder: Encoder) -> None:
        hits = response.get("hits", {}).get("hits") or []
        if not hits:
            return
        if self.kind == "ml_opensearch":
            assert self.model_id is not None
            query_text = rerank_query_text(state)
            texts = [document_text(hit, self.document_fields) for hit in hits]
            scores = list(await encoder.similarity(self.model_id, query_text, texts))
            if len(scores) != len(hits):
                raise IllegalArgument(
                    f"model [{self.model_id}] returned {len(scores)} scores for {len(hits)} documents"
                )
        else:
            scores = [self._by_field(i, hit) for i, hit in enumerate(hits)]
        for hit, score in zip(hits, scores, strict=True):
            hit["_score"] = float(score)
        hits.sort(key=lambda hit: -hit["_score"])  # stable: equal scores keep their order
        response["hits"]["max_score"] = hits[0]["_score"]

    def _by_field(self, position: int, hit: dict[str, Any]) -> float:
        assert self.target_field is not None
        source = hit.get("_source")
        if not isinstance(source, dict):
            raise IllegalArgument(f"There is no source field to be able to perform rerank on hit [{position}]")
        found, value = _get_path(source, self.target_field)
        if not found:
            raise IllegalArgument(f"The field to rerank by is not found at hit [{position}]")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IllegalArgument(f"The field mapping to rerank by [{value}] is not Numerical")
        if self.keep_previous_score:
            source[self.previous_score_field] = hit.get("_score")
        if self.remove_target_field:
            _remove_path(source, self.target_field)
        return float(value)


RequestProcessor = NeuralQueryEnricher | TwoPhase | FilterQuery


@dataclass
class SearchPipeline:
    id: str | None
    description: str | None = None
    version: int | None = None
    request_processors: list[Any] = field(default_factory=list)
    phase_results_processors: list[HybridProcessor] = field(default_factory=list)
    response_processors: list[Rerank] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)  # as given: what GET returns

    @property
    def default_model_ids(self) -> dict[str, Any] | None:
        """The ``neural_query_enricher``'s defaults (for ``_count``, which runs no processors)."""
        for processor in self.request_processors:
            if isinstance(processor, NeuralQueryEnricher):
                return {
                    "default_model_id": processor.default_model_id,
                    "neural_field_default_id": dict(processor.neural_field_default_id),
                }
        return None

    @property
    def hybridization(self) -> Hybridization | None:
        for processor in self.phase_results_processors:
            return processor.hybridization
        return None


# --- parsing -------------------------------------------------------------------------------------


def _config_error(kind: str, tag: str | None, message: str) -> IllegalArgument:
    return IllegalArgument(f"[{kind}{':' + tag if tag else ''}] {message}")


def _check_keys(kind: str, tag: str | None, config: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    unknown = sorted(set(config) - set(allowed) - COMMON_KEYS)
    if unknown:
        raise ParseError(
            f"processor [{kind}{':' + tag if tag else ''}] doesn't support one or more provided configuration "
            f"parameters: {unknown}"
        )


def _bool(kind: str, tag: str | None, config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise _config_error(kind, tag, f"[{key}] must be a boolean")
    return value


def _string(kind: str, tag: str | None, config: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = config.get(key)
    if value is None:
        if required:
            raise _config_error(kind, tag, f"[{key}] required property is missing")
        return None
    if not isinstance(value, str):
        raise _config_error(kind, tag, f"[{key}] must be a string")
    return value


def _parse_enricher(kind: str, tag: str | None, config: Mapping[str, Any]) -> NeuralQueryEnricher:
    _check_keys(kind, tag, config, {"default_model_id", "neural_field_default_id"})
    model_id = _string(kind, tag, config, "default_model_id")
    per_field = config.get("neural_field_default_id")
    if per_field is not None and (
        not isinstance(per_field, dict) or not all(isinstance(v, str) for v in per_field.values())
    ):
        raise _config_error(kind, tag, "[neural_field_default_id] must map field names to model ids")
    if model_id is None and not per_field:
        raise IllegalArgument("model id or neural info map either of them should be provided")
    return NeuralQueryEnricher(kind, tag, default_model_id=model_id, neural_field_default_id=dict(per_field or {}))


def _parse_two_phase(kind: str, tag: str | None, config: Mapping[str, Any]) -> TwoPhase:
    _check_keys(kind, tag, config, {"enabled", "two_phase_parameter"})
    params = config.get("two_phase_parameter") or {}
    if not isinstance(params, dict):
        raise _config_error(kind, tag, "[two_phase_parameter] must be an object")
    unknown = set(params) - {"prune_type", "prune_ratio", "expansion_rate", "max_window_size"}
    if unknown:
        raise IllegalArgument(f"Unsupported parameters in two_phase_parameter: {sorted(unknown)}")
    prune_type = str(params.get("prune_type", "max_ratio"))
    if prune_type not in ("max_ratio", "abs_value", "top_k", "alpha_mass", "none"):
        raise IllegalArgument(f"Unknown prune type: {prune_type}")
    try:
        ratio = float(params.get("prune_ratio", 0.4))
        rate = float(params.get("expansion_rate", 5.0))
        window = int(params.get("max_window_size", 10_000))
    except (TypeError, ValueError):
        raise IllegalArgument("two_phase_parameter values must be numbers") from None
    if prune_type == "max_ratio" and not 0 <= ratio < 1:
        raise IllegalArgument(
            f"Illegal prune_ratio {ratio} for prune_type: max_ratio. prune_ratio should be in the range [0, 1)"
        )
    if rate < 1:
        raise IllegalArgument(f"Two phase expansion rate must be at least 1, got {rate}")
    if window < 50:
        raise IllegalArgument(f"Two phase max window size must be at least 50, got {window}")
    return TwoPhase(
        kind,
        tag,
        enabled=_bool(kind, tag, config, "enabled", True),
        prune_type=prune_type,
        prune_ratio=ratio,
        expansion_rate=rate,
        max_window_size=window,
    )


def _parse_filter_query(kind: str, tag: str | None, config: Mapping[str, Any]) -> FilterQuery:
    _check_keys(kind, tag, config, {"query"})
    query = config.get("query")
    if not isinstance(query, dict) or len(query) != 1:
        raise _config_error(kind, tag, "[query] must be a query object")
    return FilterQuery(kind, tag, query=copy.deepcopy(query))


def _parse_normalization(kind: str, tag: str | None, config: Mapping[str, Any]) -> HybridProcessor:
    _check_keys(kind, tag, config, {"normalization", "combination"})
    return HybridProcessor(kind, tag, hybridization=parse_normalization_processor(config))


def _parse_score_ranker(kind: str, tag: str | None, config: Mapping[str, Any]) -> HybridProcessor:
    _check_keys(kind, tag, config, {"combination"})
    return HybridProcessor(kind, tag, hybridization=parse_score_ranker_processor(config))


def _parse_rerank(kind: str, tag: str | None, config: Mapping[str, Any]) -> Rerank:
    _check_keys(kind, tag, config, {*RERANK_TYPES, "context"})
    types = [t for t in RERANK_TYPES if t in config]
    if not types:
        raise IllegalArgument(f"No rerank type found. Possible rerank types are: [{', '.join(RERANK_TYPES)}]")
    if len(types) > 1:
        raise IllegalArgument(f"Multiple rerank types found: [{', '.join(types)}]. Only one is permitted.")
    rerank_type = types[0]
    settings = config[rerank_type]
    if not isinstance(settings, dict):
        raise _config_error(kind, tag, f"[{rerank_type}] must be an object")
    if rerank_type == "ml_opensearch":
        unknown = set(settings) - {"model_id"}
        if unknown:
            raise _config_error(kind, tag, f"[ml_opensearch] does not support {sorted(unknown)}")
        model_id = _string(kind, tag, settings, "model_id", required=True)
        context = config.get("context")
        if context is None:
            raise _config_error(kind, tag, "[context] required property is missing")
        if not isinstance(context, dict):
            raise _config_error(kind, tag, "[context] must be an object")
        for key in context:
            if key != "document_fields":
                raise IllegalArgument(f"unrecognized context field: {key}")
        fields = context.get("document_fields")
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
            raise IllegalArgument("document_fields must be a non-empty list of field names")
        if len(fields) > MAX_RERANK_DOCUMENT_FIELDS:
            raise IllegalArgument(
                f"The number of document_fields in context [{len(fields)}] exceeds the limit "
                f"[{MAX_RERANK_DOCUMENT_FIELDS}]"
            )
        return Rerank(kind, tag, kind="ml_opensearch", model_id=model_id, document_fields=list(fields))
    unknown = set(settings) - {"target_field", "remove_target_field", "keep_previous_score", "previous_score_field"}
    if unknown:
        raise _config_error(kind, tag, f"[by_field] does not support {sorted(unknown)}")
    if "context" in config:
        raise IllegalArgument("unrecognized context field: context is not used by [by_field]")
    return Rerank(
        kind,
        tag,
        kind="by_field",
        target_field=_string(kind, tag, settings, "target_field", required=True),
        remove_target_field=_bool(kind, tag, settings, "remove_target_field", False),
        keep_previous_score=_bool(kind, tag, settings, "keep_previous_score", False),
        previous_score_field=_string(kind, tag, settings, "previous_score_field") or DEFAULT_PREVIOUS_SCORE_FIELD,
    )


REQUEST_PROCESSORS: dict[str, Callable[[str, str | None, Mapping[str, Any]], Any]] = {
    "neural_query_enricher": _parse_enricher,
    "neural_sparse_two_phase_processor": _parse_two_phase,
    "filter_query": _parse_filter_query,
}
PHASE_RESULTS_PROCESSORS: dict[str, Callable[[str, str | None, Mapping[str, Any]], Any]] = {
    "normalization-processor": _parse_normalization,
    "score-ranker-processor": _parse_score_ranker,
}
RESPONSE_PROCESSORS: dict[str, Callable[[str, str | None, Mapping[str, Any]], Any]] = {
    "rerank": _parse_rerank,
}
_SECTIONS = {
    "request_processors": REQUEST_PROCESSORS,
    "phase_results_processors": PHASE_RESULTS_PROCESSORS,
    "response_processors": RESPONSE_PROCESSORS,
}


def parse_pipeline(body: Any, pipeline_id: str | None = None) -> SearchPipeline:
    """Validate a search pipeline body (PUT ``_search/pipeline/{id}``, or an inline one)."""
    if not isinstance(body, dict):
        raise ParseError("a search pipeline must be a JSON object")
    unknown = sorted(set(body) - PIPELINE_KEYS)
    if unknown:
        raise ParseError(
            f"pipeline [{pipeline_id or '_ad_hoc_pipeline'}] doesn't support one or more provided configuration "
            f"parameters {unknown}"
        )
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise ParseError("[description] must be a string")
    version = body.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ParseError("[version] must be an integer")
    pipeline = SearchPipeline(pipeline_id, description, version, body=copy.deepcopy(body))
    for section, factories in _SECTIONS.items():
        items = body.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            raise ParseError(f"[{section}] must be an array of processors")
        parsed: list[Any] = getattr(pipeline, section)
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                raise ParseError(f"each of [{section}] must be an object with exactly one processor type")
            ((kind, config),) = item.items()
            factory = factories.get(kind)
            if factory is None:
                known = ", ".join(sorted(factories))
                raise IllegalArgument(f"Invalid processor type {kind} (supported in [{section}]: {known})")
            if not isinstance(config, dict):
                raise ParseError(f"processor [{kind}] configuration must be an object")
            tag = config.get("tag")
            processor = factory(kind, tag if isinstance(tag, str) else None, config)
            processor.description = config.get("description")
            processor.ignore_failure = _bool(kind, processor.tag, config, "ignore_failure", False)
            parsed.append(processor)
    if len(pipeline.phase_results_processors) > 1:
        raise IllegalArgument("a search pipeline takes at most one normalization-processor or score-ranker-processor")
    return pipeline


# --- rerank helpers ------------------------------------------------------------------------------


def _get_path(source: Any, path: str) -> tuple[bool, Any]:
    if isinstance(source, dict) and path in source:
        return True, source[path]
    node = source
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _remove_path(source: dict[str, Any], path: str) -> None:
    if path in source:
        del source[path]
        return
    *parents, leaf = path.split(".")
    node: Any = source
    for part in parents:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(leaf, None)


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_as_text(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def document_text(hit: Mapping[str, Any], document_fields: list[str]) -> str:
    """The reranker's document: the fields' values concatenated with no separator; ``fields`` of the
    hit first, then ``_source`` by dot path; a list is joined with spaces; a missing field is ""."""
    parts = []
    for name in document_fields:
        fields = hit.get("fields")
        if isinstance(fields, dict) and name in fields:
            parts.append(_as_text(fields[name]))
            continue
        found, value = _get_path(hit.get("_source"), name)
        parts.append(_as_text(value) if found else "")
    return "".join(parts)


def rerank_query_text(state: SearchState) -> str:
    rerank_ext = state.ext.get("rerank")
    params = rerank_ext if isinstance(rerank_ext, dict) else {}
    if "query_context" not in params:
        raise IllegalArgument("must specify query_context")
    ctx = params["query_context"]
    if not isinstance(ctx, dict):
        raise IllegalArgument("query_context must be a map")
    if "query_text" in ctx:
        if "query_text_path" in ctx:
            raise IllegalArgument('Cannot specify both "query_text" and "query_text_path"')
        text = ctx["query_text"]
        if not isinstance(text, str):
            raise IllegalArgument("query_text must be a string")
        return text
    if "query_text_path" in ctx:
        path = ctx["query_text_path"]
        if not isinstance(path, str) or not path:
            raise IllegalArgument("query_text_path must be a non-empty string")
        if len(path.split(".")) > MAX_QUERY_TEXT_PATH_DEPTH:
            raise IllegalArgument(f"query_text_path exceeded the maximum path length of {MAX_QUERY_TEXT_PATH_DEPTH}")
        found, value = _get_path(state.original_body, path)
        if not found or not isinstance(value, str):
            raise IllegalArgument("query_text_path must point to a string field")
        return value
    raise IllegalArgument('Must specify either "query_text" or "query_text_path"')


# --- orchestration -------------------------------------------------------------------------------

Execute = Callable[[SearchIndex, dict[str, Any]], Any]
Render = Callable[[SearchIndex, dict[str, Any], Scores, int], Any]


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _default_execute() -> tuple[Execute, Render]:
    from modelnode.search import query as query_module

    return query_module.search, query_module.render_scores


def _keyword_fields(index: SearchIndex) -> frozenset[str]:
    indexed = index.mapping.indexed_fields()
    return frozenset(path for path, fm in indexed if isinstance(fm, Mapping) and fm.get("type") == "keyword")


def _default_analyze(index: SearchIndex) -> semantic_highlight.Analyze:
    """The terms a ``match`` on a field searches for: the field's ``search_analyzer`` (a keyword
    field keeps the raw value), for the semantic highlighter's question."""
    from modelnode.search import analysis

    def analyze(field_name: str, text: str) -> list[str]:
        mapping = field_mapping(index, field_name) or {}
        if mapping.get("type") == "keyword":
            return [text]
        try:
            return analysis.get_analyzer(search_analyzer(mapping)).terms(text)
        except IllegalArgument:
            return semantic_highlight.simple_analyze(field_name, text)

    return analyze


async def run_search(
    index: SearchIndex,
    body: Mapping[str, Any] | None,
    *,
    encoder: Encoder,
    pipeline: SearchPipeline | None = None,
    analyzers: Mapping[str, Any] | None = None,
    cache: EmbeddingCache | None = None,
    execute: Execute | None = None,
    render: Render | None = None,
    analyze: semantic_highlight.Analyze | None = None,
) -> dict[str, Any]:
    """One ``_search`` on one index, with its search pipeline (``None``: no pipeline).

    ``execute(index, body) -> response`` runs a non-hybrid body (no ``neural`` left);
    ``render(index, body, scores, total) -> response`` builds the response (sort, from/size,
    ``_source``, plain highlight, ...) from precomputed scores: used for ``hybrid``. Both default to
    the core's ``search.query.execute`` / ``search.query.render``; either may be sync or async."""
    started = time.perf_counter()
    request = copy.deepcopy(dict(body or {}))
    inline = request.pop("search_pipeline", None)
    if inline is not None:
        pipeline = parse_pipeline(inline)
    ext = request.pop("ext", None) or {}
    if not isinstance(ext, dict):
        raise ParsingError("[ext] must be an object")
    state = SearchState(index=index, body=request, ext=ext)
    processors = pipeline.request_processors if pipeline else []
    for processor in processors:
        try:
            await processor.process_request(state)
        except Exception:
            if not processor.ignore_failure:
                raise
    state.original_body = copy.deepcopy(state.body)

    request = state.body
    plain_highlight, semantic_fields = semantic_highlight.split_highlight(request.get("highlight"))
    if semantic_fields:
        if plain_highlight is None:
            request.pop("highlight", None)
        else:
            request["highlight"] = plain_highlight
    if "query" in request:
        request["query"] = await resolve(
            request["query"], encoder, default_model_ids=state.default_model_ids, analyzers=analyzers, cache=cache
        )
    if execute is None or render is None:
        default_execute, default_render = _default_execute()
        execute = execute or default_execute
        render = render or default_render

    query = request.get("query")
    if isinstance(query, dict) and len(query) == 1 and "hybrid" in query:
        hybridization = pipeline.hybridization if pipeline else None
        if hybridization is None:
            raise IllegalArgument(
                "hybrid query needs a search pipeline with a [normalization-processor] or [score-ranker-processor] "
                "(set ?search_pipeline= or index.search.default_pipeline)"
            )
        from_, size = _int(request.get("from", 0), "from"), _int(request.get("size", 10), "size")
        result = run_hybrid(query["hybrid"], QueryContext(index, size=size), hybridization, from_=from_, size=size)
        rest = {key: value for key, value in request.items() if key != "query"}
        response = await _maybe_await(render(index, rest, result.scores, result.total))
    else:
        response = await _maybe_await(execute(index, request))

    if semantic_fields:
        hits = response.get("hits", {}).get("hits") or []
        sources = []
        for hit in hits:
            stored = index.get(str(hit.get("_id")))
            sources.append(stored.source if stored is not None else hit.get("_source"))
        await semantic_highlight.highlight_hits(
            hits,
            sources,
            semantic_fields,
            state.original_body.get("query"),
            encoder,
            analyze=analyze or _default_analyze(index),
            keyword_fields=_keyword_fields(index),
        )

    for processor in pipeline.response_processors if pipeline else []:
        try:
            await processor.process_response(state, response, encoder)
        except Exception:
            if not processor.ignore_failure:
                raise
    if isinstance(response, dict) and "took" in response:
        response["took"] = int((time.perf_counter() - started) * 1000)
    return response


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ParsingError(f"[{name}] must be an integer")
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ParsingError(f"[{name}] must be an integer") from None
    if out < 0:
        raise IllegalArgument(f"[{name}] parameter cannot be negative, found [{out}]")
    return out
