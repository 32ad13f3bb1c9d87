"""Document writes and reads: ``_doc``, ``_create``, ``_update``, ``_bulk``, ``_mget``.

Every write request goes through ``write``, in three phases:

1. *ingest* (async): documents of index/create actions (and update upserts) run their ingest
   pipeline (``?pipeline=``, the action's ``pipeline``, or ``index.default_pipeline``; ``_none``
   skips it), one pipeline run per (pipeline, request), so the inference processors batch.
2. *apply* (synchronous, no await: nothing interleaves): each action in order against the indices'
   current state plus the earlier actions of the same request: version checks, dynamic mapping,
   document validation, sequence numbers. A failed action only fails its own item.
3. *commit*: one SQLite transaction for every successful action of the request (documents, mapping
   updates, auto-created indices, sequence counters); only then the in-memory engines change. A
   request is acknowledged only after its commit, so an acknowledged document survives a crash.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from modelnode.errors import IllegalArgument, ModelNodeError, ParseError
from modelnode.search import ingest
from modelnode.search import mapping as mapping_api
from modelnode.search.core import StoredDoc
from modelnode.search.encoder import Encoder
from modelnode.services.common import new_id
from modelnode.services.indices import Indices, LiveIndex, index_not_found, validate_index_name
from modelnode.services.pipelines import Pipelines
from modelnode.storage import DocRow, IndexChanges

PRIMARY_TERM = 1
MAX_ID_BYTES = 512
REFRESH_VALUES = ("", "true", "false", "wait_for")
_ACTIONS = ("index", "create", "update", "delete")
_META_KEYS = {
    "index": {
        "_index",
        "_id",
        "routing",
        "pipeline",
        "if_seq_no",
        "if_primary_term",
        "op_type",
        "version",
        "version_type",
        "require_alias",
        "dynamic_templates",
        "_type",
    },
    "create": {
        "_index",
        "_id",
        "routing",
        "pipeline",
        "if_seq_no",
        "if_primary_term",
        "version",
        "version_type",
        "require_alias",
        "dynamic_templates",
        "_type",
    },
    "update": {
        "_index",
        "_id",
        "routing",
        "if_seq_no",
        "if_primary_term",
        "retry_on_conflict",
        "require_alias",
        "_source",
        "_type",
    },
    "delete": {"_index", "_id", "routing", "if_seq_no", "if_primary_term", "version", "version_type", "_type"},
}
_UPDATE_KEYS = {
    "doc",
    "upsert",
    "doc_as_upsert",
    "detect_noop",
    "script",
    "scripted_upsert",
    "_source",
    "if_seq_no",
    "if_primary_term",
}


def validation_failed(*problems: str) -> ModelNodeError:
    text = " ".join(f"{i}: {p};" for i, p in enumerate(problems, 1))
    return ModelNodeError(f"Validation Failed: {text}", status=400, error_type="action_request_validation_exception")


def version_conflict(reason: str) -> ModelNodeError:
    return ModelNodeError(reason, status=409, error_type="version_conflict_engine_exception")


def parse_refresh(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in REFRESH_VALUES:
        raise IllegalArgument(f"Unknown value for refresh: [{value}].")
    return value


@dataclass
class WriteOp:
    action: str  # index | create | update | delete
    index: str
    id: str | None
    source: Any = None  # index/create: the document; update: the update body
    pipeline: str | None = None  # the action's own pipeline (bulk metadata)
    if_seq_no: int | None = None
    if_primary_term: int | None = None
    error: ModelNodeError | None = None
    # filled by the phases
    processed: dict[str, Any] | None = None  # the document after its pipeline
    upsert_processed: dict[str, Any] | None = None
    dropped: bool = False
    result: dict[str, Any] | None = None
    status: int = 200


@dataclass
class _Ingesting:
    op: WriteOp
    doc: ingest.IngestDocument
    is_upsert: bool
    pipeline: str | None  # ?pipeline=, the action's, or index.default_pipeline
    final: str | None  # index.final_pipeline


@dataclass
class _Work:
    """One index's state while a request is applied."""

    live: LiveIndex
    new: bool  # auto-created by this request
    seq_no: int
    changes: IndexChanges = field(default_factory=IndexChanges)
    overlay: dict[str, StoredDoc | None] = field(default_factory=dict)  # id -> doc (None: deleted)
    mapping: Any = None  # this request's copy of the mapping (dynamic fields), made on first use
    mapping_changed: bool = False
    bytes_delta: int = 0

    def working_mapping(self) -> Any:
        if self.mapping is None:
            # the live mapping changes only after the commit; a new index's is not live yet
            self.mapping = self.live.mapping if self.new else copy.copy(self.live.mapping)
        return self.mapping

    def current(self, doc_id: str) -> StoredDoc | None:
        if doc_id in self.overlay:
            return self.overlay[doc_id]
        return self.live.engine.get(doc_id)


class Documents:
    def __init__(self, indices: Indices, pipelines: Pipelines, encoder: Encoder | None) -> None:
        self.indices = indices
        self.pipelines = pipelines
        self.encoder = encoder

    # ==========================================================================================
    # single-document API
    # ==========================================================================================
    async def index(
        self,
        index: str,
        doc_id: str | None,
        source: Any,
        *,
        op_type: str | None = None,
        pipeline: str | None = None,
        refresh: str | None = None,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> tuple[dict[str, Any], int]:
        if op_type not in (None, "index", "create"):
            raise IllegalArgument(f"opType must be 'create' or 'index', found: [{op_type}]")
        if doc_id is None and op_type is None:
            op_type = "create"
        if not isinstance(source, dict):
            raise ParseError("request body is required")
        op = WriteOp(
            op_type or "index",
            index,
            doc_id if doc_id is not None else new_id(),
            source,
            if_seq_no=if_seq_no,
            if_primary_term=if_primary_term,
        )
        _check_id(op.id)
        await self.write([op], pipeline=pipeline, refresh=refresh)
        return self._single(op)

    async def update(
        self,
        index: str,
        doc_id: str,
        body: Any,
        *,
        refresh: str | None = None,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> tuple[dict[str, Any], int]:
        _check_id(doc_id)
        _check_update_body(body, 1)
        op = WriteOp("update", index, doc_id, body, if_seq_no=if_seq_no, if_primary_term=if_primary_term)
        await self.write([op], refresh=refresh)
        return self._single(op)

    async def delete(
        self,
        index: str,
        doc_id: str,
        *,
        refresh: str | None = None,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> tuple[dict[str, Any], int]:
        _check_id(doc_id)
        op = WriteOp("delete", index, doc_id, if_seq_no=if_seq_no, if_primary_term=if_primary_term)
        await self.write([op], refresh=refresh)
        return self._single(op)

    @staticmethod
    def _single(op: WriteOp) -> tuple[dict[str, Any], int]:
        if op.error is not None:
            raise op.error
        assert op.result is not None
        return op.result, op.status

    def get(self, index: str, doc_id: str, *, source_filter: Any = True) -> tuple[dict[str, Any], int]:
        live = self.indices.require(index)
        doc = live.engine.get(doc_id)
        if doc is None:
            return {"_index": index, "_id": doc_id, "found": False}, 404
        out: dict[str, Any] = {
            "_index": index,
            "_id": doc_id,
            "_version": doc.version,
            "_seq_no": doc.seq_no,
            "_primary_term": doc.primary_term,
            "found": True,
        }
        filtered = filter_source(live.mapping.stored_source(doc.source), source_filter)
        if filtered is not None:
            out["_source"] = filtered
        return out, 200

    def mget(self, index: str | None, body: Any, *, source_filter: Any = True) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ParseError("request body is required")
        unknown = sorted(set(body) - {"docs", "ids"})
        if unknown:
            raise ParseError(f"unknown key [{unknown[0]}] for a START_ARRAY, expected [docs] or [ids]")
        specs: list[dict[str, Any]] = []
        if "docs" in body:
            if not isinstance(body["docs"], list):
                raise ParseError("[docs] must be an array")
            for item in body["docs"]:
                if not isinstance(item, dict):
                    raise ParseError("[docs] must hold objects")
                specs.append(item)
        if "ids" in body:
            if not isinstance(body["ids"], list):
                raise ParseError("[ids] must be an array")
            specs.extend({"_id": i} for i in body["ids"])
        if not specs:
            raise validation_failed("no documents to get")
        problems = []
        for n, spec in enumerate(specs):
            if spec.get("_index", index) is None:
                problems.append(f"index is missing for doc {n}")
            if spec.get("_id") is None:
                problems.append(f"id is missing for doc {n}")
        if problems:
            raise validation_failed(*problems)
        docs = []
        for spec in specs:
            name, doc_id = str(spec.get("_index", index)), str(spec["_id"])
            try:
                doc, _ = self.get(name, doc_id, source_filter=spec.get("_source", source_filter))
            except ModelNodeError as e:
                cause = {"type": e.error_type, "reason": e.reason, "index": name}
                doc = {"_index": name, "_id": doc_id, "error": {"root_cause": [cause], **cause}}
            docs.append(doc)
        return {"docs": docs}

    # ==========================================================================================
    # bulk
    # ==========================================================================================
    async def bulk(
        self, body: bytes, *, index: str | None, pipeline: str | None, refresh: str | None
    ) -> dict[str, Any]:
        start = time.perf_counter()
        ops = parse_bulk(body, index)
        ingest_ms = await self.write(ops, pipeline=pipeline, refresh=refresh)
        items = []
        errors = False
        for op in ops:
            item: dict[str, Any]
            if op.error is not None:
                errors = True
                item = {"_index": op.index, "_id": op.id, "status": op.error.status, "error": _item_error(op.error)}
            else:
                assert op.result is not None
                item = dict(op.result)
                item["status"] = op.status
            items.append({op.action: item})
        out: dict[str, Any] = {"took": int((time.perf_counter() - start) * 1000), "errors": errors}
        if ingest_ms is not None:
            out["ingest_took"] = ingest_ms
        out["items"] = items
        return out

    # ==========================================================================================
    # the write path
    # ==========================================================================================
    async def write(self, ops: list[WriteOp], *, pipeline: str | None = None, refresh: str | None = None) -> int | None:
        """Run, apply and commit ``ops``; each op ends with ``result`` or ``error``. Returns the
        ingest time in ms when a pipeline ran (bulk's ``ingest_took``)."""
        refresh = parse_refresh(refresh)
        for op in ops:
            if op.error is None and op.action != "delete" and self.indices.get_live(op.index) is None:
                try:
                    validate_index_name(op.index)
                except ModelNodeError as e:
                    op.error = e
        ingest_ms = await self._ingest(ops, pipeline)
        works = self._apply(ops)
        self._commit(works)
        forced = refresh in ("", "true")
        for op in ops:
            if op.result is not None and forced and op.result.get("result") != "noop":
                op.result["forced_refresh"] = True
        return ingest_ms

    # -- phase 1: ingest -------------------------------------------------------------------------
    def _pipeline_for(self, op: WriteOp, request_pipeline: str | None) -> str | None:
        name = op.pipeline or request_pipeline
        if name is None:
            live = self.indices.get_live(op.index)
            name = live.settings.get("index.default_pipeline") if live is not None else None
        if name in (None, "", "_none"):
            return None
        return str(name)

    async def _ingest(self, ops: list[WriteOp], request_pipeline: str | None) -> int | None:
        entries: list[_Ingesting] = []
        for op in ops:
            if op.error is not None or op.action == "delete":
                continue
            live = self.indices.get_live(op.index)
            existing = live.engine.get(str(op.id)) if live is not None and op.id is not None else None
            if op.action == "update":
                upsert = _upsert_source(op.source)
                if upsert is None or existing is not None:
                    continue  # a partial update: no pipeline (as OpenSearch's bulk update)
                source, is_upsert = upsert, True
            else:
                source, is_upsert = op.source, False
            if not isinstance(source, dict):
                continue  # reported by the apply phase
            final = live.settings.get("index.final_pipeline") if live is not None else None
            entry = _Ingesting(
                op,
                ingest.IngestDocument(op.index, op.id, copy.deepcopy(source), existing.source if existing else None),
                is_upsert,
                self._pipeline_for(op, request_pipeline),
                None if final in (None, "", "_none") else str(final),
            )
            if entry.pipeline is not None or entry.final is not None:
                entries.append(entry)
        if not entries:
            return None
        start = time.perf_counter()
        await self._run_pipelines(entries, lambda e: e.pipeline)
        await self._run_pipelines([e for e in entries if e.doc.alive], lambda e: e.final)
        for e in entries:
            op, doc = e.op, e.doc
            if doc.error is not None:
                op.error = doc.error
            elif doc.dropped:
                op.dropped = True
            elif e.is_upsert:
                op.upsert_processed = doc.source
            else:
                if doc.id is not None and doc.id != op.id:
                    op.id = doc.id
                op.processed = doc.source
        return int((time.perf_counter() - start) * 1000)

    async def _run_pipelines(self, entries: list[_Ingesting], name_of: Callable[[_Ingesting], str | None]) -> None:
        """One run per pipeline over all of this request's documents that use it (so it batches)."""
        groups: dict[str, list[_Ingesting]] = {}
        for e in entries:
            name = name_of(e)
            if name is not None:
                groups.setdefault(name, []).append(e)
        for name, group in groups.items():
            try:
                pipe = self.pipelines.ingest_pipeline(name)
            except ModelNodeError as err:
                for e in group:
                    e.doc.error = err
                continue
            await ingest.execute(pipe, [e.doc for e in group], ingest.RunContext(self.encoder))

    # -- phase 2: apply ----------------------------------------------------------------------
    def _apply(self, ops: list[WriteOp]) -> dict[str, _Work]:
        works: dict[str, _Work] = {}
        for op in ops:
            if op.error is not None:
                continue
            if op.dropped:
                op.result, op.status = _dropped_result(op), 200
                continue
            try:
                work = self._work_for(op, works)
                if op.action in ("index", "create"):
                    self._apply_index(op, work)
                elif op.action == "update":
                    self._apply_update(op, work)
                else:
                    self._apply_delete(op, work)
            except ModelNodeError as e:
                op.error, op.result = e, None
        return works

    def _work_for(self, op: WriteOp, works: dict[str, _Work]) -> _Work:
        work = works.get(op.index)
        if work is not None:
            return work
        live = self.indices.get_live(op.index)
        if live is None:
            if op.action == "delete" or (op.action == "update" and _upsert_source(op.source) is None):
                raise index_not_found(op.index)
            live = self.indices.new_index(op.index, None, {})  # auto-create, dynamic mapping
            work = _Work(live, True, live.seq_no)
            work.changes.create = live.record()
        else:
            work = _Work(live, False, live.seq_no)
        works[op.index] = work
        return work

    def _next_seq(self, work: _Work) -> int:
        work.seq_no += 1
        return work.seq_no

    def _check_concurrency(self, op: WriteOp, current: StoredDoc | None) -> None:
        if op.if_seq_no is None and op.if_primary_term is None:
            return
        if current is None:
            raise version_conflict(
                f"[{op.id}]: version conflict, required seqNo [{op.if_seq_no}], primary term "
                f"[{op.if_primary_term}] but no document was found"
            )
        if current.seq_no != op.if_seq_no or current.primary_term != op.if_primary_term:
            raise version_conflict(
                f"[{op.id}]: version conflict, required seqNo [{op.if_seq_no}], primary term [{op.if_primary_term}]. "
                f"current document has seqNo [{current.seq_no}] and primary term [{current.primary_term}]"
            )

    def _validated(self, work: _Work, source: Any, doc_id: str) -> tuple[dict[str, Any], bytes]:
        """The document as it will be stored (JSON round trip: float32 values print as OpenSearch's),
        validated against the mapping, whose dynamic fields it adds (in this request's copy)."""
        if not isinstance(source, dict):
            raise ModelNodeError(
                "failed to parse: the document source must be a JSON object",
                status=400,
                error_type="mapper_parsing_exception",
            )
        try:
            raw = orjson.dumps(source, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as e:
            raise ModelNodeError(f"failed to parse: {e}", status=400, error_type="mapper_parsing_exception") from None
        doc = orjson.loads(raw)
        if work.working_mapping().prepare_document(doc, doc_id):
            work.mapping_changed = True
        return doc, raw

    def _store(
        self, op: WriteOp, work: _Work, source: dict[str, Any], raw: bytes, current: StoredDoc | None
    ) -> StoredDoc:
        version = current.version + 1 if current is not None else 1
        doc = StoredDoc(str(op.id), source, self._next_seq(work), version, PRIMARY_TERM)
        work.overlay[doc.id] = doc
        work.changes.puts.append(DocRow(doc.id, doc.seq_no, doc.version, raw))
        work.bytes_delta += len(raw)
        return doc

    def _apply_index(self, op: WriteOp, work: _Work) -> None:
        current = work.current(str(op.id))
        if op.action == "create" and current is not None:
            raise version_conflict(
                f"[{op.id}]: version conflict, document already exists (current version [{current.version}])"
            )
        self._check_concurrency(op, current)
        source = op.processed if op.processed is not None else op.source
        doc, raw = self._validated(work, source, str(op.id))
        stored = self._store(op, work, doc, raw, current)
        created = current is None
        op.result = _write_result(work.live, stored, "created" if created else "updated")
        op.status = 201 if created else 200

    def _apply_update(self, op: WriteOp, work: _Work) -> None:
        body = op.source
        if body.get("script") is not None:
            raise IllegalArgument("script updates are not supported by modelnode; send a partial [doc] instead")
        current = work.current(str(op.id))
        self._check_concurrency(op, current)
        if current is None:
            upsert = op.upsert_processed if op.upsert_processed is not None else _upsert_source(body)
            if upsert is None:
                raise ModelNodeError(
                    f"[{op.id}]: document missing", status=404, error_type="document_missing_exception"
                )
            doc, raw = self._validated(work, upsert, str(op.id))
            stored = self._store(op, work, doc, raw, None)
            op.result, op.status = _write_result(work.live, stored, "created"), 201
            return
        partial = body.get("doc")
        if partial is None:
            raise validation_failed("script or doc is missing")
        merged = copy.deepcopy(current.source)
        changed = _merge_partial(merged, partial)
        if not changed and body.get("detect_noop", True) is not False:
            op.result, op.status = _noop_result(work.live, current), 200
            return
        doc, raw = self._validated(work, merged, str(op.id))
        stored = self._store(op, work, doc, raw, current)
        op.result, op.status = _write_result(work.live, stored, "updated"), 200

    def _apply_delete(self, op: WriteOp, work: _Work) -> None:
        current = work.current(str(op.id))
        self._check_concurrency(op, current)
        seq = self._next_seq(work)
        if current is None:
            stub = StoredDoc(str(op.id), {}, seq, 1, PRIMARY_TERM)
            op.result, op.status = _write_result(work.live, stub, "not_found"), 404
            return
        work.overlay[current.id] = None
        work.changes.deletes.append(current.id)
        work.bytes_delta -= len(orjson.dumps(current.source, option=orjson.OPT_SERIALIZE_NUMPY))
        stub = StoredDoc(current.id, {}, seq, current.version + 1, PRIMARY_TERM)
        op.result, op.status = _write_result(work.live, stub, "deleted"), 200

    # -- phase 3: commit ---------------------------------------------------------------------
    def _commit(self, works: dict[str, _Work]) -> None:
        changes: dict[str, IndexChanges] = {}
        for name, work in works.items():
            ch = work.changes
            if not (ch.create or ch.puts or ch.deletes or work.seq_no != work.live.seq_no):
                continue
            if work.mapping_changed:
                ch.mappings = work.mapping.to_json()
            ch.seq_no = work.seq_no
            if ch.create is not None:
                ch.create = _record_with(ch.create, work)
                ch.mappings = None
            changes[name] = ch
        if not changes:
            return
        self.indices.store.apply(changes)  # raises: nothing was acknowledged, nothing changes
        for name in changes:
            work = works[name]
            live = work.live
            if work.new:
                self.indices.attach(live)
            if work.mapping_changed:
                live.engine.mapping = work.mapping
            for doc_id, doc in work.overlay.items():
                if doc is None:
                    live.engine.delete(doc_id)
                else:
                    live.engine.put(doc)
            live.seq_no = work.seq_no
            live.store_bytes = max(0, live.store_bytes + work.bytes_delta)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _record_with(record: Any, work: _Work) -> Any:
    return replace(record, mappings=work.live.mapping.to_json(), seq_no=work.seq_no)


def _shards(live: LiveIndex) -> dict[str, int]:
    return {"total": Indices.shard_copies(live), "successful": 1, "failed": 0}


def _write_result(live: LiveIndex, doc: StoredDoc, result: str) -> dict[str, Any]:
    return {
        "_index": live.name,
        "_id": doc.id,
        "_version": doc.version,
        "result": result,
        "_shards": _shards(live),
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
    }


def _dropped_result(op: WriteOp) -> dict[str, Any]:
    """A document dropped by its pipeline (``drop`` processor): OpenSearch answers a noop."""
    return {
        "_index": op.index,
        "_id": op.id,
        "_version": -3,
        "result": "noop",
        "_shards": {"total": 0, "successful": 0, "failed": 0},
    }


def _noop_result(live: LiveIndex, doc: StoredDoc) -> dict[str, Any]:
    return {
        "_index": live.name,
        "_id": doc.id,
        "_version": doc.version,
        "result": "noop",
        "_shards": {"total": 0, "successful": 0, "failed": 0},
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
    }


def _item_error(error: ModelNodeError) -> dict[str, Any]:
    out: dict[str, Any] = {"type": error.error_type, "reason": error.reason}
    caused_by = getattr(error, "caused_by", None)
    if caused_by:
        out["caused_by"] = caused_by
    return out


def _upsert_source(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return None
    if body.get("upsert") is not None:
        return body["upsert"] if isinstance(body["upsert"], dict) else None
    if body.get("doc_as_upsert") is True and isinstance(body.get("doc"), dict):
        return body["doc"]
    return None


def _merge_partial(target: dict[str, Any], partial: dict[str, Any]) -> bool:
    """XContentHelper.update: objects merge recursively, everything else replaces; True if changed."""
    changed = False
    for key, value in partial.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            changed |= _merge_partial(target[key], value)
        elif key not in target or target[key] != value:
            target[key] = copy.deepcopy(value)
            changed = True
    return changed


def _check_id(doc_id: str | None) -> None:
    if doc_id is None:
        return
    if doc_id == "":
        raise validation_failed("if _id is specified it must not be empty")
    size = len(doc_id.encode("utf-8"))
    if size > MAX_ID_BYTES:
        raise validation_failed(f"id [{doc_id}] is too long, must be no longer than 512 bytes but was: {size}")


def _check_update_body(body: Any, line: int) -> None:
    if not isinstance(body, dict):
        raise ParseError("request body is required")
    unknown = sorted(set(body) - _UPDATE_KEYS)
    if unknown:
        raise ModelNodeError(
            f"[{line}:2] [UpdateRequest] unknown field [{unknown[0]}]",
            status=400,
            error_type="x_content_parse_exception",
        )
    for key in ("doc", "upsert"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise ModelNodeError(
                f"[{line}:2] [UpdateRequest] failed to parse field [{key}]",
                status=400,
                error_type="x_content_parse_exception",
            )
    if body.get("doc") is None and body.get("script") is None and body.get("upsert") is None:
        raise validation_failed("script or doc is missing")


def _int_meta(meta: dict[str, Any], key: str, line: int) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise IllegalArgument(f"Malformed action/metadata line [{line}], [{key}] must be a number")
    try:
        return int(value)
    except ValueError:
        raise IllegalArgument(f"Malformed action/metadata line [{line}], [{key}] must be a number") from None


def parse_bulk(body: bytes, default_index: str | None) -> list[WriteOp]:
    """OpenSearch's BulkRequestParser: any malformed action line fails the whole request."""
    if not body.strip():
        raise validation_failed("no requests added")
    if not body.endswith(b"\n"):
        raise IllegalArgument("The bulk request must be terminated by a newline [\\n]")
    lines = body.split(b"\n")
    ops: list[WriteOp] = []
    problems: list[str] = []
    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        line_no = i + 1
        i += 1
        if not raw:
            continue
        try:
            action_line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise IllegalArgument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT but found [VALUE_STRING]"
            ) from None
        if not isinstance(action_line, dict) or len(action_line) != 1:
            found = "END_OBJECT" if isinstance(action_line, dict) and not action_line else "a different token"
            raise IllegalArgument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT but found [{found}]"
            )
        ((action, meta),) = action_line.items()
        if action not in _ACTIONS:
            raise IllegalArgument(
                f"Malformed action/metadata line [{line_no}], expected field [create], [delete], [index] or [update] "
                f"but found [{action}]"
            )
        if not isinstance(meta, dict):
            raise IllegalArgument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT but found [{meta}]"
            )
        unknown = sorted(set(meta) - _META_KEYS[action])
        if unknown:
            raise IllegalArgument(f"Action/metadata line [{line_no}] contains an unknown parameter [{unknown[0]}]")
        index = meta.get("_index", default_index)
        doc_id = meta.get("_id")
        if doc_id is not None and not isinstance(doc_id, str):
            doc_id = str(doc_id)
        op_type = meta.get("op_type")
        if op_type not in (None, "index", "create"):
            raise IllegalArgument(f"opType must be 'create' or 'index', found: [{op_type}]")
        if action == "index" and op_type == "create":
            action = "create"
        if meta.get("version_type") not in (None, "internal") or meta.get("version") is not None:
            raise IllegalArgument(
                f"Action/metadata line [{line_no}]: external versioning (version, version_type) is not supported "
                "by modelnode"
            )
        op = WriteOp(
            action,
            str(index) if index is not None else "",
            doc_id,
            pipeline=meta.get("pipeline"),
            if_seq_no=_int_meta(meta, "if_seq_no", line_no),
            if_primary_term=_int_meta(meta, "if_primary_term", line_no),
        )
        if index is None:
            problems.append("index is missing")
        if action in ("update", "delete") and doc_id is None:
            problems.append("id is missing")
        if doc_id is not None:
            try:
                _check_id(doc_id)
            except ModelNodeError as e:
                op.error = e
        if action != "delete":
            if i >= len(lines) or (i == len(lines) - 1 and not lines[i].strip()):
                raise IllegalArgument(f"Malformed action/metadata line [{line_no}], expected a source line after it")
            source_raw = lines[i].strip()
            i += 1
            try:
                source = orjson.loads(source_raw)
            except orjson.JSONDecodeError as e:
                if action == "update":
                    raise ModelNodeError(
                        f"[{line_no + 1}:1] Unexpected character: {e}",
                        status=400,
                        error_type="x_content_parse_exception",
                    ) from None
                source = None
                op.error = op.error or ModelNodeError(
                    f"failed to parse: {e}", status=400, error_type="mapper_parsing_exception"
                )
            if action == "update":
                _check_update_body(source, line_no + 1)
            elif source is not None and not isinstance(source, dict) and op.error is None:
                op.error = ModelNodeError(
                    "failed to parse: the document source must be a JSON object",
                    status=400,
                    error_type="mapper_parsing_exception",
                )
            op.source = source
            if op.id is None:
                op.id = new_id()
        ops.append(op)
    if problems:
        raise validation_failed(*dict.fromkeys(problems))
    if not ops:
        raise validation_failed("no requests added")
    return ops


# -- _source filtering ----------------------------------------------------------------------------
def parse_source_params(source: str | None, includes: str | None, excludes: str | None) -> Any:
    """``_source``/``_source_includes``/``_source_excludes`` query parameters -> a filter spec."""
    if source is not None and source in ("false", "true", ""):
        if source == "false":
            return False
        source = None
    inc = [p for p in (includes or source or "").split(",") if p]
    exc = [p for p in (excludes or "").split(",") if p]
    if not inc and not exc:
        return True
    return {"includes": inc, "excludes": exc}


def filter_source(source: dict[str, Any] | None, spec: Any) -> dict[str, Any] | None:
    """A document's ``_source`` as a get returns it (``spec``: true/false, a pattern, a list of
    patterns, or ``{"includes", "excludes"}``)."""
    if source is None or spec is True or spec is None:
        return source
    if spec is False:
        return None
    if isinstance(spec, str):
        spec = {"includes": [spec]}
    elif isinstance(spec, list):
        spec = {"includes": spec}
    if not isinstance(spec, dict):
        raise ParseError("[_source] must be a boolean, a string, an array or an object")
    includes = _patterns(spec.get("includes", spec.get("include")))
    excludes = _patterns(spec.get("excludes", spec.get("exclude")))
    return mapping_api.filter_source(source, includes, excludes)


def _patterns(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]
