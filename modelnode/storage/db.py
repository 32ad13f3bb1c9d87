"""The SQLite connection: WAL journal, synchronous=FULL (an acknowledged write survives a crash),
one re-entrant lock so worker threads and the event loop never interleave a transaction."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    idx     TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    seq_no  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    source  TEXT    NOT NULL,
    PRIMARY KEY (idx, id)
);
CREATE TABLE IF NOT EXISTS seq (
    idx    TEXT PRIMARY KEY,
    seq_no INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- User indices of the embedded search engine (storage.indices): the source of truth their
-- in-memory structures are rebuilt from. seq_no is the last sequence number handed out.
CREATE TABLE IF NOT EXISTS indices (
    name     TEXT    PRIMARY KEY,
    uuid     TEXT    NOT NULL,
    mappings TEXT    NOT NULL,
    settings TEXT    NOT NULL,
    created  INTEGER NOT NULL,
    seq_no   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS index_docs (
    idx     TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    seq_no  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    source  BLOB    NOT NULL,
    PRIMARY KEY (idx, id)
);
CREATE INDEX IF NOT EXISTS index_docs_by_seq ON index_docs (idx, seq_no);
CREATE TABLE IF NOT EXISTS pipelines (
    kind TEXT NOT NULL,  -- ingest | search
    id   TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
"""


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Nested calls join the outer transaction; the outermost commits or rolls back."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def get_meta(self, key: str) -> str | None:
        rows = self.read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
