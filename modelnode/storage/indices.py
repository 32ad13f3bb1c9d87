"""User indices, their documents, and ingest/search pipelines: the source of truth of the embedded
search engine (its in-memory structures are derived from these rows and rebuilt at start-up).

Writes arrive as whole batches (``apply``): a bulk request's successful items, its dynamic mapping
updates, new indices and the indices' sequence counters commit in one transaction, so a crash
either keeps all of an acknowledged request or none of it. ``_source`` is stored as the JSON
bytes the engine serves afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from modelnode.storage.db import Database


@dataclass(frozen=True)
class IndexRecord:
    name: str
    uuid: str
    mappings: dict[str, Any]
    settings: dict[str, Any]
    created: int  # epoch millis
    seq_no: int = -1  # last sequence number handed out (-1: none yet)


@dataclass(frozen=True)
class DocRow:
    id: str
    seq_no: int
    version: int
    source: bytes  # the JSON object, as stored


@dataclass
class IndexChanges:
    """One index's part of a write batch."""

    create: IndexRecord | None = None  # a new (auto-created) index, inserted first
    mappings: dict[str, Any] | None = None  # a new mapping (dynamic fields added)
    settings: dict[str, Any] | None = None
    seq_no: int | None = None  # the index's new last sequence number
    puts: list[DocRow] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class IndexStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- indices ------------------------------------------------------------------------------
    def all(self) -> list[IndexRecord]:
        rows = self.db.read("SELECT name, uuid, mappings, settings, created, seq_no FROM indices ORDER BY name")
        return [IndexRecord(n, u, json.loads(m), json.loads(s), c, q) for n, u, m, s, c, q in rows]

    def create(self, record: IndexRecord) -> None:
        with self.db.transaction() as c:
            self._insert(c, record)

    def update(
        self, name: str, *, mappings: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> None:
        with self.db.transaction() as c:
            if mappings is not None:
                c.execute("UPDATE indices SET mappings = ? WHERE name = ?", (_dumps(mappings), name))
            if settings is not None:
                c.execute("UPDATE indices SET settings = ? WHERE name = ?", (_dumps(settings), name))

    def delete(self, names: list[str]) -> None:
        with self.db.transaction() as c:
            for name in names:
                c.execute("DELETE FROM index_docs WHERE idx = ?", (name,))
                c.execute("DELETE FROM indices WHERE name = ?", (name,))

    # -- documents ----------------------------------------------------------------------------
    def docs(self, name: str, *, chunk: int = 2048) -> Iterator[DocRow]:
        """Every document of an index in ``_seq_no`` order (the order they were last written)."""
        last = -1
        while True:
            rows = self.db.read(
                "SELECT id, seq_no, version, source FROM index_docs WHERE idx = ? AND seq_no > ? "
                "ORDER BY seq_no LIMIT ?",
                (name, last, chunk),
            )
            for i, q, v, s in rows:
                yield DocRow(i, q, v, bytes(s))
            if len(rows) < chunk:
                return
            last = rows[-1][1]

    def count(self, name: str) -> int:
        return int(self.db.read("SELECT COUNT(*) FROM index_docs WHERE idx = ?", (name,))[0][0])

    def apply(self, changes: dict[str, IndexChanges]) -> None:
        """One transaction for a whole write batch, across indices."""
        with self.db.transaction() as c:
            for name, ch in changes.items():
                if ch.create is not None:
                    self._insert(c, ch.create)
                if ch.mappings is not None:
                    c.execute("UPDATE indices SET mappings = ? WHERE name = ?", (_dumps(ch.mappings), name))
                if ch.settings is not None:
                    c.execute("UPDATE indices SET settings = ? WHERE name = ?", (_dumps(ch.settings), name))
                if ch.seq_no is not None:
                    c.execute("UPDATE indices SET seq_no = ? WHERE name = ?", (ch.seq_no, name))
                if ch.deletes:
                    c.executemany("DELETE FROM index_docs WHERE idx = ? AND id = ?", [(name, i) for i in ch.deletes])
                if ch.puts:
                    c.executemany(
                        "INSERT OR REPLACE INTO index_docs (idx, id, seq_no, version, source) VALUES (?, ?, ?, ?, ?)",
                        [(name, d.id, d.seq_no, d.version, d.source) for d in ch.puts],
                    )

    @staticmethod
    def _insert(c: Any, record: IndexRecord) -> None:
        c.execute(
            "INSERT INTO indices (name, uuid, mappings, settings, created, seq_no) VALUES (?, ?, ?, ?, ?, ?)",
            (record.name, record.uuid, _dumps(record.mappings), _dumps(record.settings), record.created, record.seq_no),
        )


class PipelineStore:
    """Ingest and search pipeline definitions, as their PUT bodies."""

    KINDS = ("ingest", "search")

    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self, kind: str) -> dict[str, dict[str, Any]]:
        rows = self.db.read("SELECT id, body FROM pipelines WHERE kind = ? ORDER BY id", (kind,))
        return {i: json.loads(b) for i, b in rows}

    def put(self, kind: str, pipeline_id: str, body: dict[str, Any]) -> None:
        with self.db.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO pipelines (kind, id, body) VALUES (?, ?, ?)", (kind, pipeline_id, _dumps(body))
            )

    def delete(self, kind: str, ids: list[str]) -> None:
        with self.db.transaction() as c:
            c.executemany("DELETE FROM pipelines WHERE kind = ? AND id = ?", [(kind, i) for i in ids])
