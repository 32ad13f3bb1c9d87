"""Persistent cluster settings (flat keys -> JSON values). Transient ones live in memory only,
as in OpenSearch, where a full restart drops them."""

from __future__ import annotations

import json
from typing import Any

from modelnode.storage.db import Database


class SettingsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.read("SELECT key, value FROM settings ORDER BY key")}

    def replace(self, values: dict[str, Any]) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM settings")
            c.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in sorted(values.items())],
            )
