"""SQLite, the source of truth for metadata: settings, model groups, models, tasks; and for the
search engine's user indices, documents and pipelines (``indices``).

``Database`` owns the connection (WAL, one writer lock, explicit transactions). ``DocStore``
keeps the ML system indices (``.plugins-ml-model`` ...) as JSON documents with OpenSearch's
``_seq_no``/``_version`` bookkeeping; ``records`` gives them types.
"""

from modelnode.storage.db import Database
from modelnode.storage.docs import Doc, DocStore
from modelnode.storage.indices import DocRow, IndexChanges, IndexRecord, IndexStore, PipelineStore
from modelnode.storage.records import (
    GROUP_INDEX,
    MODEL_INDEX,
    TASK_INDEX,
    MLModel,
    MLModelGroup,
    MLTask,
)
from modelnode.storage.settings import SettingsStore

__all__ = [
    "GROUP_INDEX",
    "MODEL_INDEX",
    "TASK_INDEX",
    "Database",
    "Doc",
    "DocRow",
    "DocStore",
    "IndexChanges",
    "IndexRecord",
    "IndexStore",
    "MLModel",
    "MLModelGroup",
    "MLTask",
    "PipelineStore",
    "SettingsStore",
]
