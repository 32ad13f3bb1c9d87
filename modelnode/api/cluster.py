"""``/``, ``_cluster/health``, ``_cluster/settings``, and modelnode's own catalog route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelnode import __version__, catalog
from modelnode.api.http import JSON, flag, required_json
from modelnode.api.http import services as _svc

router = APIRouter()

# The OpenSearch release whose ML Commons API modelnode speaks.
COMPAT_VERSION = "2.19.0"


@router.get("/")
async def info(request: Request) -> JSON:
    node = _svc(request).node
    return JSON(
        {
            "name": node.node_name,
            "cluster_name": node.cluster_name,
            "cluster_uuid": node.cluster_uuid,
            "version": {
                "distribution": "opensearch",
                "number": COMPAT_VERSION,
                "build_type": "modelnode",
                "build_hash": f"modelnode-{__version__}",
                "build_date": "2026-11-26T00:00:00.000000Z",
                "build_snapshot": False,
                "lucene_version": "9.12.1",
                "minimum_wire_compatibility_version": "7.10.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "The OpenSearch Project: https://opensearch.org/",
        }
    )


@router.head("/")
async def ping() -> Response:
    return Response(status_code=200)


@router.get("/_cluster/health")
async def health(request: Request) -> JSON:
    svc = _svc(request)
    return JSON(
        {
            "cluster_name": svc.node.cluster_name,
            "status": svc.deployments.health(),
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "discovered_master": True,
            "discovered_cluster_manager": True,
            "active_primary_shards": 0,
            "active_shards": 0,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0,
        }
    )


@router.get("/_cluster/settings")
async def get_settings(request: Request) -> JSON:
    return JSON(
        _svc(request).cluster.render(
            flat=flag(request, "flat_settings"), include_defaults=flag(request, "include_defaults")
        )
    )


@router.put("/_cluster/settings")
async def put_settings(request: Request) -> JSON:
    body = await required_json(request)
    return JSON(_svc(request).cluster.update(body))


@router.get("/_modelnode/catalog")
async def get_catalog() -> JSON:
    models: list[dict[str, Any]] = []
    for m in catalog.CATALOG:
        entry: dict[str, Any] = {
            "name": m.name,
            "versions": list(m.versions),
            "formats": [f.value for f in m.formats],
            "function_name": m.function_name.value,
            "description": m.description,
        }
        for key in ("dimension", "space_type", "pooling_mode", "normalize_result", "model_type"):
            if getattr(m, key) is not None:
                entry[key] = getattr(m, key)
        if m.sparse_prune_ratio:
            entry["sparse_prune_ratio"] = m.sparse_prune_ratio
        models.append(entry)
    return JSON({"models": models})
