"""User indices: create/get/delete, mappings, settings, refresh, flush, _cat/indices, and their
in-memory engines (``search.core.SearchIndex``), restored or rebuilt from SQLite at start-up.

SQLite (``storage.IndexStore``) is the source of truth; every acknowledged change is committed
there first and then applied to the live engine, which never runs ahead of the database.

The engines' derived structures (postings, vectors, faiss graphs, ...) are also persisted as
snapshots (``search.snapshot``) under ``<data_dir>/indices/<index>/``, written by ``_flush`` and on
a clean shutdown. At start-up an index whose snapshot's watermark (uuid, last ``_seq_no``, document
count, mapping+settings fingerprint) and document table match SQLite is loaded from it (sources
from SQLite); otherwise (missing, corrupt, stale: e.g. killed after later writes) it is rebuilt
from SQLite as before. ``Indices.load_report`` says which happened to each index, and why.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from modelnode.errors import IllegalArgument, ModelNodeError, ParseError
from modelnode.search import mapping as mapping_api
from modelnode.search import query, snapshot, sparse, text, vector
from modelnode.search.core import SearchIndex, StoredDoc
from modelnode.services.common import new_id, now_ms
from modelnode.storage import IndexRecord, IndexStore

log = logging.getLogger("modelnode.search")
# Field types register their structures in search.core.FIELD_INDEXES when their modules are imported:
# they must all be registered before the first document is indexed (the start-up rebuild included).
FIELD_TYPE_MODULES = (text, vector, sparse, query)

SYSTEM_PREFIX = ".plugins-ml-"
INVALID_CHARS = ("\\", "/", "*", "?", '"', "<", ">", "|", " ", ",")
VERSION_CREATED = "136407827"  # OpenSearch 2.19.0's internal version id
DEFAULT_SHARDS = 1
DEFAULT_REPLICAS = 1


# -- errors ------------------------------------------------------------------------------------
def index_not_found(name: str) -> ModelNodeError:
    return ModelNodeError(f"no such index [{name}]", status=404, error_type="index_not_found_exception")


def invalid_index_name(name: str, why: str) -> ModelNodeError:
    return ModelNodeError(f"Invalid index name [{name}], {why}", status=400, error_type="invalid_index_name_exception")


def already_exists(name: str, uuid: str) -> ModelNodeError:
    return ModelNodeError(
        f"index [{name}/{uuid}] already exists", status=400, error_type="resource_already_exists_exception"
    )


def validate_index_name(name: str) -> None:
    """MetadataCreateIndexService.validateIndexOrAliasName, plus the ML system indices."""
    if not name:
        raise invalid_index_name(name, "must not be empty")
    if any(c in name for c in INVALID_CHARS):
        raise invalid_index_name(name, 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]')
    if "#" in name:
        raise invalid_index_name(name, "must not contain '#'")
    if ":" in name:
        raise invalid_index_name(name, "must not contain ':'")
    if name[0] in "_-+":
        raise invalid_index_name(name, "must not start with '_', '-', or '+'")
    if name != name.lower():
        raise invalid_index_name(name, "must be lowercase")
    if name in (".", ".."):
        raise invalid_index_name(name, "must not be '.' or '..'")
    size = len(name.encode("utf-8"))
    if size > 255:
        raise ModelNodeError(
            f"Invalid index name [{name}], index name is too long, ({size} > 255)",
            status=400,
            error_type="invalid_index_name_exception",
        )
    if name.startswith(SYSTEM_PREFIX):
        raise invalid_index_name(name, f"[{SYSTEM_PREFIX}*] is reserved for ML Commons' system indices")


# -- settings ------------------------------------------------------------------------------------
def settings_view(flat: dict[str, Any], *, nested: bool) -> dict[str, Any]:
    """``GET _settings``: strings, nested (OpenSearch's shape) or flat (``?flat_settings=true``)."""
    if nested:
        return mapping_api.settings_to_json(flat)
    return {k: mapping_api.java_string(v) for k, v in sorted(flat.items())}


def _mapped_fields(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for key, definition in properties.items():
        full_name = prefix + key
        yield full_name, definition
        yield from _mapped_fields(definition.get("properties") or {}, full_name + ".")
        yield from _mapped_fields(definition.get("fields") or {}, full_name + ".")


# ``GET <index>/_settings?include_defaults=true``: the index-level defaults OpenSearch reports for
# settings an index does not set (the ones modelnode honours or that clients commonly read).
INDEX_SETTING_DEFAULTS: dict[str, Any] = {
    "index.codec": "default",
    "index.knn": "false",
    "index.max_result_window": "10000",
    "index.number_of_replicas": "1",
    "index.number_of_shards": "1",
    "index.refresh_interval": "1s",
    "index.store.type": "",
}


# -- live indices ----------------------------------------------------------------------------------
@dataclass
class LiveIndex:
    name: str
    uuid: str
    created: int
    engine: SearchIndex
    seq_no: int = -1  # last sequence number handed out
    store_bytes: int = 0
    snapshot_mark: dict[str, Any] | None = None  # watermark of the snapshot on disk, when current

    @property
    def settings(self) -> dict[str, Any]:
        return self.engine.settings

    @property
    def mapping(self) -> Any:
        return self.engine.mapping

    def record(self) -> IndexRecord:
        return IndexRecord(self.name, self.uuid, self.mapping.to_json(), dict(self.settings), self.created, self.seq_no)


def fingerprint(engine: SearchIndex) -> str:
    """What the derived structures depend on besides the documents: the mapping and the settings."""
    body = {"mappings": engine.mapping.to_json(), "settings": engine.settings}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def watermark(live: LiveIndex, count: int) -> dict[str, Any]:
    return {
        "uuid": live.uuid,
        "seq_no": live.seq_no,
        "count": count,
        "fingerprint": fingerprint(live.engine),
    }


_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,127}")


def snapshot_dirname(name: str) -> str:
    """The index name itself when it is plain, else a hash (never starts with '.': no clash with
    the writer's temporary directories)."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    return "~" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:40]


class Indices:
    def __init__(self, store: IndexStore, snapshot_dir: Path | None = None) -> None:
        self.store = store
        self.snapshot_dir = snapshot_dir  # None: no snapshots (always rebuild)
        self.live: dict[str, LiveIndex] = {}
        # index -> "snapshot" or "rebuilt (<why the snapshot was not used>)", from the last load()
        self.load_report: dict[str, str] = {}

    # -- start-up ----------------------------------------------------------------------------
    def load(self) -> dict[str, int]:
        """Every index's engine: from its snapshot when that matches SQLite, else rebuilt from SQLite
        (documents in ``_seq_no`` order)."""
        counts: dict[str, int] = {}
        for rec in self.store.all():
            start = time.perf_counter()
            live, why = self._from_snapshot(rec)
            if live is None:
                try:
                    live = self._engine_for(rec)
                    for row in self.store.docs(rec.name):
                        source = orjson.loads(row.source)
                        live.engine.put(StoredDoc(row.id, source, row.seq_no, row.version))
                        live.store_bytes += len(row.source)
                except Exception:
                    log.exception("cannot rebuild index [%s] from the database; it stays unavailable", rec.name)
                    continue
                self.load_report[rec.name] = f"rebuilt ({why})"
                log.info(
                    "index [%s]: %d documents rebuilt in %.2fs (snapshot not used: %s)",
                    rec.name,
                    len(live.engine),
                    time.perf_counter() - start,
                    why,
                )
            else:
                self.load_report[rec.name] = "snapshot"
                log.info(
                    "index [%s]: %d documents loaded from its snapshot in %.2fs",
                    rec.name,
                    len(live.engine),
                    time.perf_counter() - start,
                )
            self.live[rec.name] = live
            counts[rec.name] = len(live.engine)
        return counts

    def _snapshot_path(self, name: str) -> Path | None:
        return None if self.snapshot_dir is None else self.snapshot_dir / snapshot_dirname(name)

    def _from_snapshot(self, rec: IndexRecord) -> tuple[LiveIndex | None, str]:
        path = self._snapshot_path(rec.name)
        if path is None:
            return None, "snapshots disabled"
        if not (path / snapshot.META).exists():
            return None, "no snapshot"
        try:
            live = self._engine_for(rec)
            mark = watermark(live, self.store.count(rec.name))
            snapshot.load(live.engine, path, mark, self._rows(live, rec.name))
        except snapshot.SnapshotError as e:
            return None, str(e)
        except Exception as e:  # a snapshot must never keep an index from starting
            log.warning("index [%s]: unreadable snapshot", rec.name, exc_info=True)
            return None, f"unreadable: {type(e).__name__}: {e}"
        live.snapshot_mark = mark
        return live, ""

    def _rows(self, live: LiveIndex, name: str) -> Iterator[tuple[str, int, int, dict[str, Any]]]:
        for row in self.store.docs(name):
            live.store_bytes += len(row.source)
            yield row.id, row.seq_no, row.version, orjson.loads(row.source)

    # -- snapshots ---------------------------------------------------------------------------
    def write_snapshot(self, live: LiveIndex, *, force: bool = False) -> bool:
        """Persist one engine's derived structures (skipped when the snapshot on disk is current)."""
        path = self._snapshot_path(live.name)
        if path is None:
            return False
        mark = watermark(live, len(live.engine))
        if not force and mark == live.snapshot_mark and (path / snapshot.META).exists():
            return True
        start = time.perf_counter()
        snapshot.save(live.engine, path, mark)
        live.snapshot_mark = mark
        log.info("index [%s]: snapshot written in %.2fs", live.name, time.perf_counter() - start)
        return True

    def save_snapshots(self) -> None:
        """Every index (clean shutdown); a failure is logged, never raised."""
        for live in list(self.live.values()):
            try:
                self.write_snapshot(live)
            except Exception:
                log.warning("index [%s]: cannot write its snapshot", live.name, exc_info=True)

    def flush(self, expression: str | None) -> dict[str, Any]:
        """``POST /{index}/_flush``: write the indices' snapshots."""
        names = self.resolve(expression)
        failed = []
        for name in names:
            try:
                self.write_snapshot(self.live[name])
            except Exception as e:
                log.warning("index [%s]: cannot write its snapshot", name, exc_info=True)
                failed.append({"index": name, "reason": {"type": type(e).__name__, "reason": str(e)}})
        total = sum(self.shard_copies(self.live[n]) for n in names)
        shards: dict[str, Any] = {"total": total, "successful": len(names) - len(failed), "failed": len(failed)}
        if failed:
            shards["failures"] = failed
        return {"_shards": shards}

    def _engine_for(self, rec: IndexRecord) -> LiveIndex:
        mapping = mapping_api.Mapping.parse(rec.mappings, rec.settings)
        engine = SearchIndex(rec.name, mapping, dict(rec.settings))
        return LiveIndex(rec.name, rec.uuid, rec.created, engine, rec.seq_no)

    # -- lookups -----------------------------------------------------------------------------
    def get_live(self, name: str) -> LiveIndex | None:
        return self.live.get(name)

    def require(self, name: str) -> LiveIndex:
        live = self.live.get(name)
        if live is None:
            raise index_not_found(name)
        return live

    def resolve(
        self, expression: str | None, *, allow_no_indices: bool = True, ignore_unavailable: bool = False
    ) -> list[str]:
        """Comma lists, ``*`` wildcards, ``_all``, and ``-name`` exclusions, as OpenSearch resolves them
        (a concrete name that does not exist is a 404 unless ``ignore_unavailable``)."""
        names = sorted(self.live)
        if expression is None or expression in ("", "_all", "*"):
            return names
        out: list[str] = []
        for i, part in enumerate(p for p in expression.split(",") if p):
            if part.startswith("-") and i > 0:
                pattern = part[1:]
                out = [n for n in out if not fnmatch.fnmatchcase(n, pattern)]
                continue
            if "*" in part:
                out.extend(n for n in names if fnmatch.fnmatchcase(n, part) and n not in out)
                continue
            if part == "_all":
                out.extend(n for n in names if n not in out)
                continue
            if part not in self.live:
                if ignore_unavailable:
                    continue
                raise index_not_found(part)
            if part not in out:
                out.append(part)
        if not out and not allow_no_indices:
            raise index_not_found(expression)
        return out

    # -- create / delete -----------------------------------------------------------------------
    def new_index(self, name: str, mappings: Any, settings: dict[str, Any]) -> LiveIndex:
        """A validated, not yet stored index (create and auto-create share it)."""
        validate_index_name(name)
        if name in self.live:
            raise already_exists(name, self.live[name].uuid)
        typed = mapping_api.parse_settings(settings)
        typed.setdefault("index.number_of_shards", DEFAULT_SHARDS)
        typed.setdefault("index.number_of_replicas", DEFAULT_REPLICAS)
        mapping = mapping_api.Mapping.parse(mappings, typed)
        engine = SearchIndex(name, mapping, typed)
        return LiveIndex(name, new_id(), now_ms(), engine)

    def create(self, name: str, body: dict[str, Any] | None) -> dict[str, Any]:
        body = body or {}
        unknown = sorted(set(body) - {"settings", "mappings", "aliases"})
        if unknown:
            raise ParseError(f"unknown key [{unknown[0]}] for create index")
        if body.get("aliases"):
            raise IllegalArgument("index aliases are not supported by modelnode")
        settings = body.get("settings")
        if settings is not None and not isinstance(settings, dict):
            raise ParseError("[settings] must be an object")
        live = self.new_index(name, body.get("mappings"), settings or {})
        self.store.create(live.record())
        self.live[name] = live
        return {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def attach(self, live: LiveIndex) -> None:
        """Make an index created inside a write batch (auto-create) visible, after its commit."""
        self.live[live.name] = live

    def delete(self, expression: str) -> dict[str, Any]:
        names = self.resolve(expression, allow_no_indices=True)
        if not names and not any(c in expression for c in "*") and expression not in ("_all",):
            raise index_not_found(expression)
        self.store.delete(names)
        for name in names:
            self.live.pop(name, None)
            path = self._snapshot_path(name)
            if path is not None:
                snapshot.remove(path)
        return {"acknowledged": True}

    # -- reads -------------------------------------------------------------------------------
    def all_settings(self, live: LiveIndex) -> dict[str, Any]:
        """The index's flat settings plus the ones the node writes."""
        settings = dict(live.settings)
        settings["index.creation_date"] = str(live.created)
        settings["index.uuid"] = live.uuid
        settings["index.provided_name"] = live.name
        settings["index.version.created"] = VERSION_CREATED
        return settings

    def get(self, expression: str, *, flat: bool = False) -> dict[str, Any]:
        out = {}
        for name in self.resolve(expression):
            live = self.live[name]
            out[name] = {
                "aliases": {},
                "mappings": live.mapping.to_json(),
                "settings": settings_view(self.all_settings(live), nested=not flat),
            }
        return out

    def exists(self, expression: str) -> bool:
        try:
            return bool(self.resolve(expression, allow_no_indices=False))
        except ModelNodeError:
            return False

    def get_mapping(self, expression: str | None) -> dict[str, Any]:
        return {name: {"mappings": self.live[name].mapping.to_json()} for name in self.resolve(expression)}

    def get_field_mapping(self, expression: str | None, fields: str) -> dict[str, Any]:
        """``GET <index>/_mapping/field/<fields>``: each matching field (dotted full name, wildcards
        allowed, multi-fields included) with its mapping under its leaf name."""
        patterns = [f.strip() for f in fields.split(",") if f.strip()]
        out = {}
        for name in self.resolve(expression):
            found: dict[str, Any] = {}
            for full_name, definition in _mapped_fields(self.live[name].mapping.to_json().get("properties") or {}):
                if any(fnmatch.fnmatchcase(full_name, p) for p in patterns):
                    leaf = full_name.rsplit(".", 1)[-1]
                    found[full_name] = {"full_name": full_name, "mapping": {leaf: definition}}
            out[name] = {"mappings": found}
        return out

    def put_mapping(self, expression: str, body: dict[str, Any]) -> dict[str, Any]:
        names = self.resolve(expression, allow_no_indices=False)
        updated = {}
        for name in names:
            mapping = copy.copy(self.live[name].mapping)  # the live one changes only after the commit
            if mapping.add(body):
                updated[name] = mapping
        with self.store.db.transaction():
            for name, mapping in updated.items():
                self.store.update(name, mappings=mapping.to_json())
        for name, mapping in updated.items():
            self.live[name].engine.mapping = mapping
        return {"acknowledged": True}

    def get_settings(
        self,
        expression: str | None,
        *,
        flat: bool = False,
        name_filter: str | None = None,
        include_defaults: bool = False,
    ) -> dict[str, Any]:
        out = {}
        for name in self.resolve(expression):
            view = self.all_settings(self.live[name])
            defaults = {k: v for k, v in INDEX_SETTING_DEFAULTS.items() if k not in view}
            if name_filter:
                patterns = [p if p.startswith("index.") else f"index.{p}" for p in name_filter.split(",")]
                view = {k: v for k, v in view.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
                defaults = {k: v for k, v in defaults.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
            out[name] = {"settings": settings_view(view, nested=not flat)}
            if include_defaults:
                out[name]["defaults"] = settings_view(defaults, nested=not flat)
        return out

    def put_settings(self, expression: str, body: dict[str, Any]) -> dict[str, Any]:
        names = self.resolve(expression, allow_no_indices=False)
        inner = body["settings"] if set(body) == {"settings"} and isinstance(body["settings"], dict) else body
        if not inner:
            raise ModelNodeError(
                "Validation Failed: 1: no settings to update;",
                status=400,
                error_type="action_request_validation_exception",
            )
        updated = {
            name: mapping_api.update_settings(self.live[name].settings, body, f"{name}/{self.live[name].uuid}")
            for name in names
        }
        with self.store.db.transaction():
            for name, settings in updated.items():
                self.store.update(name, settings=settings)
        for name, settings in updated.items():
            live = self.live[name]
            live.engine.settings.clear()
            live.engine.settings.update(settings)
            live.mapping.settings = dict(settings)
        return {"acknowledged": True}

    def refresh(self, expression: str | None) -> dict[str, Any]:
        names = self.resolve(expression)
        total = sum(self.shard_copies(self.live[n]) for n in names)
        return {"_shards": {"total": total, "successful": len(names), "failed": 0}}

    @staticmethod
    def shard_copies(live: LiveIndex) -> int:
        try:
            return 1 + int(str(live.settings.get("index.number_of_replicas", DEFAULT_REPLICAS)))
        except ValueError:
            return 1

    def cat(self, expression: str | None) -> list[dict[str, str]]:
        rows = []
        for name in self.resolve(expression):
            live = self.live[name]
            replicas = self.shard_copies(live) - 1
            size = _human_bytes(live.store_bytes)
            rows.append(
                {
                    "health": "yellow" if replicas > 0 else "green",
                    "status": "open",
                    "index": name,
                    "uuid": live.uuid,
                    "pri": str(live.settings.get("index.number_of_shards", DEFAULT_SHARDS)),
                    "rep": str(replicas),
                    "docs.count": str(len(live.engine)),
                    "docs.deleted": "0",
                    "store.size": size,
                    "pri.store.size": size,
                }
            )
        return rows


def _human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("b", "kb", "mb", "gb", "tb"):
        if value < 1024 or unit == "tb":
            return f"{int(value)}{unit}" if unit == "b" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{n}b"


def render_cat(rows: Iterable[dict[str, str]], *, header: bool, columns: list[str] | None = None) -> str:
    rows = list(rows)
    cols = columns or [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
    ]
    table = [[r.get(c, "") for c in cols] for r in rows]
    if header:
        table.insert(0, cols)
    if not table:
        return ""
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = [" ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table]
    return "\n".join(lines) + "\n"
