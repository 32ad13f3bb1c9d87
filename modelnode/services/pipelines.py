"""Ingest and search pipelines: stored definitions (SQLite), validation, ``_simulate``.

Ingest pipelines are parsed by ``search.ingest``; search pipelines by ``search.pipelines`` (the
search-side engineer's module). Both keep the PUT body as given, plus the parsed form in memory.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
from typing import Any

from modelnode.errors import IllegalArgument, ModelNodeError, ParseError
from modelnode.search import ingest
from modelnode.search import pipelines as search_pipelines
from modelnode.search.encoder import Encoder
from modelnode.storage import PipelineStore

log = logging.getLogger("modelnode.search")

SIMULATED_PIPELINE_ID = "_simulate_pipeline"


def _missing(pipeline_id: str, *, search: bool = False) -> ModelNodeError:
    what = "Search pipeline" if search else "pipeline"
    return ModelNodeError(f"{what} [{pipeline_id}] is missing", status=404, error_type="resource_not_found_exception")


def parse_search_pipeline(pipeline_id: str, body: dict[str, Any]) -> Any:
    return search_pipelines.parse_pipeline(body, pipeline_id)


class Pipelines:
    def __init__(self, store: PipelineStore, encoder: Encoder | None = None) -> None:
        self.store = store
        self.encoder = encoder
        self._bodies: dict[str, dict[str, dict[str, Any]]] = {"ingest": {}, "search": {}}
        self._ingest: dict[str, ingest.Pipeline] = {}
        self._search: dict[str, Any] = {}

    def load(self) -> None:
        """Start-up: read every stored pipeline; one that no longer parses is kept as a body only
        and fails the documents/searches that use it, with its parse error."""
        for kind in ("ingest", "search"):
            self._bodies[kind] = self.store.all(kind)
        for pid, body in self._bodies["ingest"].items():
            try:
                self._ingest[pid] = ingest.parse_pipeline(pid, body)
            except ModelNodeError as e:
                log.error("stored ingest pipeline [%s] does not parse: %s", pid, e.reason)
        for pid, body in self._bodies["search"].items():
            try:
                self._search[pid] = parse_search_pipeline(pid, body)
            except ModelNodeError as e:
                log.error("stored search pipeline [%s] does not parse: %s", pid, e)

    # -- ingest ------------------------------------------------------------------------------
    def put_ingest(self, pipeline_id: str, body: dict[str, Any]) -> dict[str, Any]:
        parsed = ingest.parse_pipeline(pipeline_id, body)
        self.store.put("ingest", pipeline_id, body)
        self._bodies["ingest"][pipeline_id] = body
        self._ingest[pipeline_id] = parsed
        return {"acknowledged": True}

    def ingest_pipeline(self, pipeline_id: str) -> ingest.Pipeline:
        """The pipeline a write names (``?pipeline=`` or ``index.default_pipeline``)."""
        parsed = self._ingest.get(pipeline_id)
        if parsed is None:
            if pipeline_id in self._bodies["ingest"]:
                # stored but no longer valid (e.g. after an upgrade): report why
                return ingest.parse_pipeline(pipeline_id, self._bodies["ingest"][pipeline_id])
            raise IllegalArgument(f"pipeline with id [{pipeline_id}] does not exist")
        return parsed

    def get(self, kind: str, expression: str | None) -> dict[str, Any] | None:
        """``{id: body}``; None when an explicit id list matched nothing (the API answers 404 ``{}``)."""
        bodies = self._bodies[kind]
        if expression is None or expression in ("", "*", "_all"):
            return dict(sorted(bodies.items()))
        out = {}
        for part in expression.split(","):
            for pid in sorted(bodies):
                if fnmatch.fnmatchcase(pid, part) and pid not in out:
                    out[pid] = bodies[pid]
        return out or None

    def delete(self, kind: str, expression: str) -> dict[str, Any]:
        bodies = self._bodies[kind]
        ids = [pid for pid in bodies if any(fnmatch.fnmatchcase(pid, p) for p in expression.split(","))]
        if not ids:
            if "*" in expression:
                return {"acknowledged": True}
            raise _missing(expression, search=kind == "search")
        self.store.delete(kind, ids)
        for pid in ids:
            bodies.pop(pid, None)
            (self._ingest if kind == "ingest" else self._search).pop(pid, None)
        return {"acknowledged": True}

    async def simulate(self, pipeline_id: str | None, body: dict[str, Any], *, verbose: bool) -> dict[str, Any]:
        if pipeline_id is None:
            config = body.get("pipeline")
            if config is None:
                raise ParseError("[pipeline] required property is missing")
            if not isinstance(config, dict):
                raise ParseError(f"[pipeline] property isn't a map, but of type [{ingest.java_type(config)}]")
            pipeline = ingest.parse_pipeline(SIMULATED_PIPELINE_ID, config)
        else:
            pipeline = self._ingest.get(pipeline_id) or (
                ingest.parse_pipeline(pipeline_id, self._bodies["ingest"][pipeline_id])
                if pipeline_id in self._bodies["ingest"]
                else None
            )
            if pipeline is None:
                raise IllegalArgument(f"pipeline [{pipeline_id}] does not exist")
        docs = _simulate_docs(body)
        await ingest.execute(pipeline, docs, ingest.RunContext(self.encoder, verbose=verbose))
        results: list[Any] = []
        for doc in docs:
            if verbose:
                results.append({"processor_results": doc.trace or []})
            elif doc.error is not None:
                results.append({"error": ingest.error_json(doc.error)})
            elif doc.dropped:
                results.append(None)
            else:
                results.append({"doc": doc.snapshot()})
        return {"docs": results}

    # -- search ------------------------------------------------------------------------------
    def put_search(self, pipeline_id: str, body: dict[str, Any]) -> dict[str, Any]:
        parsed = parse_search_pipeline(pipeline_id, body)
        self.store.put("search", pipeline_id, body)
        self._bodies["search"][pipeline_id] = body
        self._search[pipeline_id] = parsed
        return {"acknowledged": True}

    def search_pipeline(self, pipeline_id: str) -> Any:
        parsed = self._search.get(pipeline_id)
        if parsed is None:
            if pipeline_id in self._bodies["search"]:
                return parse_search_pipeline(pipeline_id, self._bodies["search"][pipeline_id])
            raise IllegalArgument(f"Pipeline {pipeline_id} is not defined")
        return parsed


def _simulate_docs(body: dict[str, Any]) -> list[ingest.IngestDocument]:
    raw = body.get("docs")
    if raw is None:
        raise ParseError("[docs] required property is missing")
    if not isinstance(raw, list):
        raise ParseError(f"[docs] property isn't a list, but of type [{ingest.java_type(raw)}]")
    if not raw:
        raise IllegalArgument("must specify at least one document in [docs]")
    docs = []
    for item in raw:
        if not isinstance(item, dict):
            raise IllegalArgument("malformed [docs] section, should include an inner object")
        source = item.get("_source")
        if source is None:
            raise ParseError("[_source] required property is missing")
        if not isinstance(source, dict):
            raise ParseError(f"[_source] property isn't a map, but of type [{ingest.java_type(source)}]")
        index, doc_id = item.get("_index", "_index"), item.get("_id", "_id")
        for key, value in (("_index", index), ("_id", doc_id)):
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ParseError(f"[{key}] property isn't a string or int, but of type [{ingest.java_type(value)}]")
        docs.append(ingest.IngestDocument(str(index), str(doc_id), copy.deepcopy(source)))
    return docs
