"""JSON documents per system index, with OpenSearch's per-document ``_version`` and per-index
``_seq_no`` so raw Get/Search/Delete/Update responses look like OpenSearch's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelnode.storage.db import Database

PRIMARY_TERM = 1


@dataclass(frozen=True)
class Doc:
    index: str
    id: str
    source: dict[str, Any]
    seq_no: int
    version: int
    primary_term: int = PRIMARY_TERM


class DocStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, index: str, doc_id: str) -> Doc | None:
        rows = self.db.read("SELECT seq_no, version, source FROM docs WHERE idx = ? AND id = ?", (index, doc_id))
        if not rows:
            return None
        seq_no, version, source = rows[0]
        return Doc(index, doc_id, json.loads(source), seq_no, version)

    def all(self, index: str) -> list[Doc]:
        rows = self.db.read("SELECT id, seq_no, version, source FROM docs WHERE idx = ? ORDER BY seq_no", (index,))
        return [Doc(index, i, json.loads(s), q, v) for i, q, v, s in rows]

    def count(self, index: str) -> int:
        return int(self.db.read("SELECT COUNT(*) FROM docs WHERE idx = ?", (index,))[0][0])

    def ids_where(self, index: str, field: str, value: Any, *, limit: int | None = None) -> list[str]:
        """Ids of the docs whose top-level ``field`` equals ``value``, in index order; answered by
        SQLite so that lookups (a group by name, models of a group) do not decode a whole table."""
        sql = "SELECT id FROM docs WHERE idx = ? AND json_extract(source, ?) = ? ORDER BY seq_no"
        rows = self.db.read(sql + (f" LIMIT {int(limit)}" if limit else ""), (index, f'$."{field}"', value))
        return [r[0] for r in rows]

    def put(self, index: str, doc_id: str, source: dict[str, Any]) -> Doc:
        """Create or replace; returns the stored doc with its new seq_no and version."""
        with self.db.transaction() as c:
            seq_no = self._next_seq(index)
            row = c.execute("SELECT version FROM docs WHERE idx = ? AND id = ?", (index, doc_id)).fetchone()
            version = row[0] + 1 if row else 1
            c.execute(
                "INSERT OR REPLACE INTO docs (idx, id, seq_no, version, source) VALUES (?, ?, ?, ?, ?)",
                (index, doc_id, seq_no, version, json.dumps(source, separators=(",", ":"))),
            )
        return Doc(index, doc_id, source, seq_no, version)

    def delete(self, index: str, doc_id: str) -> Doc | None:
        """Delete; returns the tombstone (new seq_no, version+1), or None if it was absent."""
        with self.db.transaction() as c:
            row = c.execute("SELECT version FROM docs WHERE idx = ? AND id = ?", (index, doc_id)).fetchone()
            if row is None:
                return None
            seq_no = self._next_seq(index)
            c.execute("DELETE FROM docs WHERE idx = ? AND id = ?", (index, doc_id))
        return Doc(index, doc_id, {}, seq_no, row[0] + 1)

    def _next_seq(self, index: str) -> int:
        with self.db.transaction() as c:
            row = c.execute("SELECT seq_no FROM seq WHERE idx = ?", (index,)).fetchone()
            seq_no = row[0] + 1 if row else 0
            c.execute("INSERT OR REPLACE INTO seq (idx, seq_no) VALUES (?, ?)", (index, seq_no))
        return seq_no
