"""``_search`` and ``_count`` over one or more user indices.

One index: ``search.pipelines.run_search`` does everything (request processors, query rewrite with
the cached query-time embeddings, execution, semantic highlighting, response processors). Several
indices (comma lists, wildcards, no index): each index is searched for its top ``from + size`` with
its own search pipeline, and the hits are merged by score (an explicit ``sort`` across indices is
refused rather than merged wrongly).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from modelnode.errors import IllegalArgument, ParsingError
from modelnode.search import pipelines as search_pipelines
from modelnode.search import query as query_module
from modelnode.search import rewrite
from modelnode.search.encoder import Encoder
from modelnode.services.common import int_param
from modelnode.services.indices import Indices, LiveIndex
from modelnode.services.pipelines import Pipelines

COUNT_KEYS = frozenset({"query"})


class Search:
    def __init__(
        self,
        indices: Indices,
        pipelines: Pipelines,
        encoder: Encoder,
        *,
        analyzers: Mapping[str, Any] | None = None,
        cache: rewrite.EmbeddingCache | None = None,
    ) -> None:
        self.indices = indices
        self.pipelines = pipelines
        self.encoder = encoder  # the query-side encoder (QUERY content type)
        self.analyzers = analyzers or {}
        self.cache = cache

    def _pipeline_for(self, live: LiveIndex, requested: str | None) -> Any:
        name = requested
        if name is None:
            name = live.settings.get("index.search.default_pipeline")
        if name in (None, "", "_none"):
            return None
        return self.pipelines.search_pipeline(str(name))

    def _body(self, live: LiveIndex, body: dict[str, Any] | None, params: Mapping[str, str]) -> dict[str, Any]:
        out = dict(body or {})
        size = int_param(params.get("size"), "size")
        from_ = int_param(params.get("from"), "from")
        if size is not None:
            out["size"] = size
        if from_ is not None:
            out["from"] = from_
        q = params.get("q")
        if q is not None:
            if "query" in out:
                raise IllegalArgument("request [_search] cannot have both a [q] parameter and a [query] in the body")
            out["query"] = query_from_q(live, q, params.get("df"), params.get("default_operator"))
        source = params.get("_source")
        includes, excludes = params.get("_source_includes"), params.get("_source_excludes")
        if source is not None or includes is not None or excludes is not None:
            if source in ("false", "true"):
                out["_source"] = source == "true"
            else:
                spec: dict[str, Any] = {}
                inc = [p for p in (includes or source or "").split(",") if p]
                exc = [p for p in (excludes or "").split(",") if p]
                if inc:
                    spec["includes"] = inc
                if exc:
                    spec["excludes"] = exc
                out["_source"] = spec
        tth = params.get("track_total_hits")
        if tth is not None:
            out["track_total_hits"] = tth == "true" if tth in ("true", "false") else int_param(tth, "track_total_hits")
        sort = params.get("sort")
        if sort is not None:
            out["sort"] = [
                {part.split(":", 1)[0]: {"order": part.split(":", 1)[1]}} if ":" in part else part
                for part in sort.split(",")
                if part
            ]
        return out

    async def search(
        self,
        expression: str | None,
        body: dict[str, Any] | None,
        params: Mapping[str, str],
    ) -> dict[str, Any]:
        started = time.perf_counter()
        requested = params.get("search_pipeline")
        names = self.indices.resolve(expression)
        if len(names) == 1:
            live = self.indices.require(names[0])
            return await search_pipelines.run_search(
                live.engine,
                self._body(live, body, params),
                encoder=self.encoder,
                pipeline=self._pipeline_for(live, requested),
                analyzers=self.analyzers,
                cache=self.cache,
            )
        return await self._search_many(names, body, params, requested, started)

    async def _search_many(
        self,
        names: list[str],
        body: dict[str, Any] | None,
        params: Mapping[str, str],
        requested: str | None,
        started: float,
    ) -> dict[str, Any]:
        responses = []
        size = from_ = 0
        for name in names:
            live = self.indices.require(name)
            request = self._body(live, body, params)
            if request.get("sort") is not None:
                raise IllegalArgument(
                    "modelnode cannot merge a [sort] across several indices; search one index at a time"
                )
            size, from_ = int(request.get("size", 10)), int(request.get("from", 0))
            request["from"], request["size"] = 0, from_ + size
            responses.append(
                await search_pipelines.run_search(
                    live.engine,
                    request,
                    encoder=self.encoder,
                    pipeline=self._pipeline_for(live, requested),
                    analyzers=self.analyzers,
                    cache=self.cache,
                )
            )
        hits: list[dict[str, Any]] = []
        total, relation, max_score = 0, "eq", None
        for response in responses:
            h = response.get("hits", {})
            hits.extend(h.get("hits") or [])
            t = h.get("total")
            if isinstance(t, dict):
                total += int(t.get("value", 0))
                if t.get("relation") == "gte":
                    relation = "gte"
            elif isinstance(t, int):
                total += t
            ms = h.get("max_score")
            if ms is not None and (max_score is None or ms > max_score):
                max_score = ms
        hits.sort(key=lambda hit: -(hit.get("_score") or 0.0))
        n = len(names)
        return {
            "took": int((time.perf_counter() - started) * 1000),
            "timed_out": False,
            "_shards": {"total": n, "successful": n, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": total, "relation": relation},
                "max_score": max_score,
                "hits": hits[from_ : from_ + size],
            },
        }

    async def count(
        self, expression: str | None, body: dict[str, Any] | None, params: Mapping[str, str]
    ) -> dict[str, Any]:
        body = dict(body or {})
        unknown = sorted(set(body) - COUNT_KEYS)
        if unknown:
            raise ParsingError(f"request does not support [{unknown[0]}]")
        names = self.indices.resolve(expression)
        count = 0
        for name in names:
            live = self.indices.require(name)
            request = dict(body)
            q = params.get("q")
            if q is not None:
                request["query"] = query_from_q(live, q, params.get("df"), params.get("default_operator"))
            if "query" in request:
                request["query"] = await rewrite.resolve(
                    request["query"], self.encoder, analyzers=self.analyzers, cache=self.cache
                )
            count += int(query_module.count(live.engine, request))
        n = len(names)
        return {"count": count, "_shards": {"total": n, "successful": n, "skipped": 0, "failed": 0}}


def query_from_q(live: LiveIndex, q: str, df: str | None, default_operator: str | None) -> dict[str, Any]:
    """The URI search ``q``: ``field:value`` -> ``match``; plain text -> ``multi_match`` over the
    index's text fields (or ``df``). A small subset of query_string syntax."""
    operator = (default_operator or "or").lower()
    field, _, value = q.partition(":")
    if value and field and " " not in field:
        if value == "*":
            return {"exists": {"field": field}}
        return {"match": {field: {"query": value, "operator": operator}}}
    if q.strip() in ("*", "*:*"):
        return {"match_all": {}}
    if df:
        return {"match": {df: {"query": q, "operator": operator}}}
    fields = [path for path, spec in live.mapping.indexed_fields() if spec.get("type") in ("text", "keyword")]
    if not fields:
        return {"match_none": {}}
    return {"multi_match": {"query": q, "fields": fields, "operator": operator}}
