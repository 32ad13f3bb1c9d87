"""The async pre-pass that turns model-backed queries into plain ones before execution.

``resolve`` walks the query tree (``bool``, ``nested``, ``hybrid``, ``constant_score``, ``boosting``,
``dis_max``, ``function_score``, ``script_score``, and the ``filter`` of ``knn`` / ``neural``) and
returns a new tree in which

- ``neural`` became ``knn``: the vector is ``encoder.text_embedding(model_id, [query_text])``; ``k``
  (default 10) / ``min_score`` / ``max_distance`` (exactly one), ``filter``, ``method_parameters``,
  ``rescore``, ``expand_nested_docs``, ``boost`` and ``_name`` are kept;
- ``neural_sparse`` with ``query_text`` got ``query_tokens``: from ``encoder.sparse_encoding``
  (``model_id``: a SPARSE_ENCODING or SPARSE_TOKENIZE model) or from a built-in analyzer
  (``analyzer``; ``bert-uncased`` when neither is given).

A missing ``model_id`` resolves as OpenSearch's ``NeuralSearchQueryVisitor`` (spec §3.6): the field's
``neural_field_default_id`` -> ``default_model_id`` (both from a ``neural_query_enricher``) -> an
error. Every text is looked up in the ``EmbeddingCache`` first; the misses are encoded with one
Encoder call per (kind, model), whatever the number of clauses that need them.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search import core
from modelnode.search.encoder import Encoder
from modelnode.search.sparse import DEFAULT_ANALYZER, NEURAL_SPARSE_KEYS, validate_query_tokens
from modelnode.search.vector import single_field

MISSING_MODEL_ID = (
    "model id must be provided in neural query or a default model id must be set in search request processor"
)
NEURAL_KEYS = frozenset(
    {
        "query_text",
        "query_image",
        "model_id",
        "k",
        "min_score",
        "max_distance",
        "filter",
        "method_parameters",
        "rescore",
        "expand_nested_docs",
        "boost",
        "_name",
        "semantic_field_search_analyzer",
    }
)
_KEPT_FOR_KNN = ("filter", "method_parameters", "rescore", "expand_nested_docs", "boost", "_name")


class EmbeddingCache:
    """Bounded LRU of query-time model outputs, keyed by (kind, model_id, text).

    One instance lives for the server (services build it, size from settings) and is passed to every
    ``resolve``. ``drop_model`` forgets a model's entries (call it on undeploy/delete)."""

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: tuple[str, str, str]) -> Any:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: tuple[str, str, str], value: Any) -> None:
        if self.max_entries == 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def drop_model(self, model_id: str) -> None:
        for key in [k for k in self._data if k[1] == model_id]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()


@dataclass
class _Jobs:
    """Texts to encode, grouped by (kind, model), each with the setters that receive the output."""

    by_model: dict[tuple[str, str], dict[str, list[Callable[[Any], None]]]] = field(default_factory=dict)
    analyzed: list[Callable[[], Any]] = field(default_factory=list)

    def want(self, kind: str, model_id: str, text: str, setter: Callable[[Any], None]) -> None:
        self.by_model.setdefault((kind, model_id), {}).setdefault(text, []).append(setter)


def _model_id_for(opts: Mapping[str, Any], field_name: str, defaults: Mapping[str, Any] | None) -> str | None:
    model_id = opts.get("model_id")
    if model_id is not None:
        if not isinstance(model_id, str) or not model_id:
            raise ParsingError("[model_id] must be a non-empty string")
        return model_id
    if defaults:
        per_field = defaults.get("neural_field_default_id") or {}
        if isinstance(per_field, Mapping) and per_field.get(field_name):
            return str(per_field[field_name])
        if defaults.get("default_model_id"):
            return str(defaults["default_model_id"])
    return None


class _Walker:
    def __init__(self, defaults: Mapping[str, Any] | None, analyzers: Mapping[str, Any]) -> None:
        self.defaults = defaults
        self.analyzers = analyzers
        self.jobs = _Jobs()

    def query(self, node: Any) -> Any:
        """A rewritten copy of one query object ({type: body})."""
        if not isinstance(node, dict) or len(node) != 1:
            return copy.deepcopy(node)  # malformed: left for the executor to report
        ((name, body),) = node.items()
        handler = getattr(self, f"q_{name}", None)
        if handler is None:
            return {name: copy.deepcopy(body)}
        return handler(body)

    def queries(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.query(q) for q in value]
        return self.query(value)

    def _with(self, body: Any, keys: tuple[str, ...], list_keys: tuple[str, ...] = ()) -> Any:
        if not isinstance(body, dict):
            return copy.deepcopy(body)
        out = {}
        for key, value in body.items():
            if key in keys:
                out[key] = self.queries(value)
            elif key in list_keys and isinstance(value, list):
                out[key] = [self.query(q) for q in value]
            else:
                out[key] = copy.deepcopy(value)
        return out

    # compound queries ----------------------------------------------------------------------------

    def q_bool(self, body: Any) -> Any:
        return {"bool": self._with(body, ("must", "should", "filter", "must_not"))}

    def q_nested(self, body: Any) -> Any:
        return {"nested": self._with(body, ("query",))}

    def q_hybrid(self, body: Any) -> Any:
        return {"hybrid": self._with(body, ("filter",), ("queries",))}

    def q_constant_score(self, body: Any) -> Any:
        return {"constant_score": self._with(body, ("filter",))}

    def q_boosting(self, body: Any) -> Any:
        return {"boosting": self._with(body, ("positive", "negative"))}

    def q_dis_max(self, body: Any) -> Any:
        return {"dis_max": self._with(body, (), ("queries",))}

    def q_script_score(self, body: Any) -> Any:
        return {"script_score": self._with(body, ("query",))}

    def q_function_score(self, body: Any) -> Any:
        out = self._with(body, ("query", "filter"))
        if isinstance(out, dict) and isinstance(out.get("functions"), list):
            out["functions"] = [
                {**fn, "filter": self.query(fn["filter"])} if isinstance(fn, dict) and "filter" in fn else fn
                for fn in out["functions"]
            ]
        return {"function_score": out}

    def q_knn(self, body: Any) -> Any:
        if isinstance(body, dict) and len(body) == 1:
            ((field_name, opts),) = body.items()
            if isinstance(opts, dict) and "filter" in opts:
                return {"knn": {field_name: {**copy.deepcopy(opts), "filter": self.query(opts["filter"])}}}
        return {"knn": copy.deepcopy(body)}

    # model-backed queries ------------------------------------------------------------------------

    def q_neural(self, body: Any) -> Any:
        field_name, opts = single_field("neural", body)
        unknown = set(opts) - NEURAL_KEYS
        if unknown:
            raise ParsingError(f"[neural] query does not support [{sorted(unknown)[0]}]")
        if opts.get("query_image") is not None:
            raise IllegalArgument("[neural] query_image is not supported: modelnode serves text models only")
        text = opts.get("query_text")
        if not isinstance(text, str) or not text:
            raise ParsingError("[neural] requires [query_text] (a non-empty string)")
        given = [key for key in ("k", "min_score", "max_distance") if opts.get(key) is not None]
        if len(given) > 1:
            raise IllegalArgument("Only one of k, max_distance, or min_score can be provided")
        model_id = _model_id_for(opts, field_name, self.defaults)
        if model_id is None:
            raise IllegalArgument(MISSING_MODEL_ID)
        knn: dict[str, Any] = {"vector": None}
        if given:
            knn[given[0]] = opts[given[0]]
        else:
            knn["k"] = 10
        for key in _KEPT_FOR_KNN:
            if key in opts:
                knn[key] = self.query(opts[key]) if key == "filter" else copy.deepcopy(opts[key])

        def set_vector(vector: Any) -> None:
            knn["vector"] = [float(x) for x in vector]

        self.jobs.want("dense", model_id, text, set_vector)
        return {"knn": {field_name: knn}}

    def q_neural_sparse(self, body: Any) -> Any:
        field_name, opts = single_field("neural_sparse", body)
        unknown = set(opts) - NEURAL_SPARSE_KEYS
        if unknown:
            raise ParsingError(f"[neural_sparse] query does not support [{sorted(unknown)[0]}]")
        out = {
            key: copy.deepcopy(value)
            for key, value in opts.items()
            if key not in ("query_text", "model_id", "analyzer")
        }
        out.pop("max_token_score", None)  # deprecated since 2.12: accepted and ignored
        has_text = opts.get("query_text") is not None
        if "query_tokens" in opts:
            if has_text:
                raise IllegalArgument("[neural_sparse] query_text and query_tokens cannot both be provided")
            out["query_tokens"] = validate_query_tokens(opts["query_tokens"])
            return {"neural_sparse": {field_name: out}}
        text = opts.get("query_text")
        if not isinstance(text, str) or not text:
            raise ParsingError("[neural_sparse] requires either [query_text] (a non-empty string) or [query_tokens]")
        if opts.get("model_id") is not None and opts.get("analyzer") is not None:
            raise IllegalArgument("[neural_sparse] model_id and analyzer cannot be provided at the same time")
        analyzer = opts.get("analyzer")
        model_id = None if analyzer is not None else _model_id_for(opts, field_name, self.defaults)

        def set_tokens(tokens: Any) -> None:
            out["query_tokens"] = {str(t): float(w) for t, w in tokens.items() if float(w) > 0}

        if model_id is not None:
            self.jobs.want("sparse", model_id, text, set_tokens)
        else:
            name = str(analyzer or DEFAULT_ANALYZER)
            fn = self.analyzers.get(name)
            if fn is None:
                known = ", ".join(sorted(self.analyzers)) or "none loaded"
                raise IllegalArgument(f"[neural_sparse] analyzer [{name}] is not available ({known})")

            def run_analyzer(fn: Any = fn, text: str = text) -> Any:
                return fn(text), set_tokens

            self.jobs.analyzed.append(run_analyzer)
        return {"neural_sparse": {field_name: out}}


async def resolve(
    query: Any,
    encoder: Encoder,
    *,
    default_model_ids: Mapping[str, Any] | None = None,
    analyzers: Mapping[str, Any] | None = None,
    cache: EmbeddingCache | None = None,
) -> Any:
    """A copy of ``query`` (a query object, e.g. the search body's ``query``) with every ``neural``
    turned into ``knn`` and every ``neural_sparse`` ``query_text`` into ``query_tokens``.

    ``default_model_ids``: ``{"default_model_id", "neural_field_default_id"}`` from a
    ``neural_query_enricher``; ``analyzers``: name -> SparseAnalyzer; ``cache``: the shared LRU."""
    walker = _Walker(default_model_ids, analyzers or {})
    out = walker.query(query)
    jobs = walker.jobs

    async def run_group(kind: str, model_id: str, wanted: dict[str, list[Callable[[Any], None]]]) -> None:
        todo: list[str] = []
        for text, setters in wanted.items():
            hit = cache.get((kind, model_id, text)) if cache is not None else None
            if hit is None:
                todo.append(text)
            else:
                for setter in setters:
                    setter(hit)
        if not todo:
            return
        if kind == "dense":
            outputs: list[Any] = list(await encoder.text_embedding(model_id, todo))
        else:
            outputs = list(await encoder.sparse_encoding(model_id, todo))
        if len(outputs) != len(todo):
            raise IllegalArgument(f"model [{model_id}] returned {len(outputs)} results for {len(todo)} texts")
        for text, value in zip(todo, outputs, strict=True):
            value = [float(x) for x in value] if kind == "dense" else {str(t): float(w) for t, w in value.items()}
            if cache is not None:
                cache.put((kind, model_id, text), value)
            for setter in wanted[text]:
                setter(value)

    groups = [run_group(kind, model_id, wanted) for (kind, model_id), wanted in jobs.by_model.items()]
    if groups:
        await asyncio.gather(*groups)
    for job in jobs.analyzed:
        tokens, setter = job()
        if inspect.isawaitable(tokens):
            tokens = await tokens
        setter(tokens)
    return out


def _unresolved_neural(body: Any, ctx: Any) -> Any:
    raise IllegalArgument(
        "[neural] query needs model inference before it runs: pass the request through "
        "search.rewrite.resolve (search.pipelines.run_search does)"
    )


core.QUERY_TYPES.setdefault("neural", _unresolved_neural)
