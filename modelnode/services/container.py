"""Builds the service graph from Settings (called once by the composition root)."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

from modelnode import runtime
from modelnode.artifacts import ArtifactStore
from modelnode.config import Settings
from modelnode.services.cluster_settings import ClusterSettings
from modelnode.services.common import new_id
from modelnode.services.deployments import Deployments, Loader
from modelnode.services.groups import ModelGroups
from modelnode.services.models import Models
from modelnode.services.monitoring import Monitoring, Tasks
from modelnode.storage import Database, DocStore, SettingsStore
from modelnode.tasks import TaskLog, TaskRunner

log = logging.getLogger("modelnode")


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

    @classmethod
    def open(cls, settings: Settings, *, loader: Loader = runtime.load) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.db_path)
        node_id = db.get_meta("node_id") or _persist(db, "node_id", new_id()[:22])
        cluster_uuid = db.get_meta("cluster_uuid") or _persist(db, "cluster_uuid", new_id()[:22])
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
        )

    def start(self) -> dict[str, Any]:
        """Recover after the previous process (needs a running event loop for redeploys)."""
        failed = self.tasks.log.fail_unfinished()
        self.models.recover()
        self.models.store.sweep()
        redeployed = self.deployments.redeploy_on_start()
        if failed or redeployed:
            log.info("recovered: %d unfinished task(s) failed, %d model(s) redeploying", len(failed), len(redeployed))
        return {"failed_tasks": failed, "redeploying": redeployed}

    async def stop(self) -> None:
        await self.runner.shutdown()
        self.deployments.close()
        self.db.close()


def _persist(db: Database, key: str, value: str) -> str:
    db.set_meta(key, value)
    return value


__all__ = ["NodeInfo", "Services"]
