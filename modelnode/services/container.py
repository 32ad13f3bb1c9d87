"""Builds the service graph from Settings (called once by the composition root)."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

from modelnode import runtime
from modelnode.artifacts import ArtifactStore
from modelnode.config import Settings
from modelnode.search.rewrite import EmbeddingCache
from modelnode.services.cluster_settings import ClusterSettings
from modelnode.services.common import new_id
from modelnode.services.deployments import Deployments, Loader
from modelnode.services.documents import Documents
from modelnode.services.encoder import ModelEncoder, SparseAnalyzers
from modelnode.services.groups import ModelGroups
from modelnode.services.indices import Indices
from modelnode.services.models import Models
from modelnode.services.monitoring import Monitoring, Tasks
from modelnode.services.pipelines import Pipelines
from modelnode.services.search import Search
from modelnode.storage import Database, DocStore, IndexStore, PipelineStore, SettingsStore
from modelnode.tasks import TaskLog, TaskRunner

log = logging.getLogger("modelnode")

# Query-time embeddings kept per (kind, model, text) for neural / neural_sparse queries.
QUERY_CACHE_ENTRIES = 4096


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    node_name: str
    cluster_name: str
    cluster_uuid: str
    host: str


@dataclass
class Services:
    settings: Settings
    db: Database
    node: NodeInfo
    cluster: ClusterSettings
    groups: ModelGroups
    models: Models
    deployments: Deployments
    tasks: Tasks
    monitoring: Monitoring
    runner: TaskRunner
    indices: Indices
    pipelines: Pipelines
    documents: Documents
    search: Search
    analyzers: SparseAnalyzers

    @classmethod
    def open(cls, settings: Settings, *, loader: Loader = runtime.load) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.db_path)
        node_id = db.get_meta("node_id") or _persist(db, "node_id", new_id())
        cluster_uuid = db.get_meta("cluster_uuid") or _persist(db, "cluster_uuid", new_id())
        node = NodeInfo(node_id, settings.node_name, settings.cluster_name, cluster_uuid, socket.gethostname())
        docs = DocStore(db)
        cluster = ClusterSettings(SettingsStore(db))
        task_log = TaskLog(docs)
        runner = TaskRunner(task_log)
        store = ArtifactStore(settings.artifact_dir)
        groups = ModelGroups(docs)
        models = Models(settings, docs, cluster, groups, task_log, runner, store, node_id)
        deployments = Deployments(settings, models, cluster, task_log, runner, node_id, loader)
        models.deploy_after_register = deployments.start_deploy
        # the embedded search engine: SQLite is its source of truth, rebuilt into memory by start()
        encoder = ModelEncoder(models, deployments)
        cache = EmbeddingCache(QUERY_CACHE_ENTRIES)
        deployments.on_undeploy.append(cache.drop_model)
        analyzers = SparseAnalyzers(store, loader, settings.inference_backend)
        indices = Indices(IndexStore(db), settings.data_dir / "indices")
        pipelines = Pipelines(PipelineStore(db), encoder)
        documents = Documents(indices, pipelines, encoder)
        search = Search(indices, pipelines, encoder.for_queries(), analyzers=analyzers, cache=cache)
        return cls(
            settings,
            db,
            node,
            cluster,
            groups,
            models,
            deployments,
            Tasks(docs, task_log, runner),
            Monitoring(docs, deployments, runner, node_id),
            runner,
            indices,
            pipelines,
            documents,
            search,
            analyzers,
        )

    def start(self) -> dict[str, Any]:
        """Recover after the previous process (needs a running event loop for redeploys)."""
        failed = self.tasks.log.fail_unfinished()
        self.models.recover()
        self.models.store.sweep()
        redeployed = self.deployments.redeploy_on_start()
        self.pipelines.load()
        self.indices.load()
        if failed or redeployed:
            log.info("recovered: %d unfinished task(s) failed, %d model(s) redeploying", len(failed), len(redeployed))
        return {"failed_tasks": failed, "redeploying": redeployed}

    async def stop(self) -> None:
        await self.runner.shutdown()
        self.indices.save_snapshots()  # derived search structures, loaded instead of rebuilt next start
        self.deployments.close()
        self.analyzers.close()
        self.db.close()


def _persist(db: Database, key: str, value: str) -> str:
    db.set_meta(key, value)
    return value


__all__ = ["NodeInfo", "Services"]
