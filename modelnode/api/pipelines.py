"""Ingest pipelines (``/_ingest/pipeline``, ``_simulate``) and search pipelines (``/_search/pipeline``).

A GET that finds nothing answers ``404 {}``, as OpenSearch does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from modelnode.api.http import JSON, flag, required_json
from modelnode.api.http import services as _svc

router = APIRouter()


def _found(result: dict[str, object] | None) -> JSON:
    return JSON({}, status_code=404) if result is None else JSON(result)


# -- ingest --------------------------------------------------------------------------------------
@router.get("/_ingest/pipeline")
async def get_all_ingest(request: Request) -> JSON:
    return _found(_svc(request).pipelines.get("ingest", None))


@router.api_route("/_ingest/pipeline/_simulate", methods=["GET", "POST"])
async def simulate_inline(request: Request) -> JSON:
    body = await required_json(request)
    return JSON(await _svc(request).pipelines.simulate(None, body, verbose=flag(request, "verbose")))


@router.api_route("/_ingest/pipeline/{pipeline_id}/_simulate", methods=["GET", "POST"])
async def simulate(pipeline_id: str, request: Request) -> JSON:
    body = await required_json(request)
    return JSON(await _svc(request).pipelines.simulate(pipeline_id, body, verbose=flag(request, "verbose")))


@router.get("/_ingest/pipeline/{pipeline_id}")
async def get_ingest(pipeline_id: str, request: Request) -> JSON:
    return _found(_svc(request).pipelines.get("ingest", pipeline_id))


@router.put("/_ingest/pipeline/{pipeline_id}")
async def put_ingest(pipeline_id: str, request: Request) -> JSON:
    return JSON(_svc(request).pipelines.put_ingest(pipeline_id, await required_json(request)))


@router.delete("/_ingest/pipeline/{pipeline_id}")
async def delete_ingest(pipeline_id: str, request: Request) -> JSON:
    return JSON(_svc(request).pipelines.delete("ingest", pipeline_id))


# -- search --------------------------------------------------------------------------------------
@router.get("/_search/pipeline")
async def get_all_search(request: Request) -> JSON:
    return _found(_svc(request).pipelines.get("search", None))


@router.get("/_search/pipeline/{pipeline_id}")
async def get_search(pipeline_id: str, request: Request) -> JSON:
    return _found(_svc(request).pipelines.get("search", pipeline_id))


@router.put("/_search/pipeline/{pipeline_id}")
async def put_search(pipeline_id: str, request: Request) -> JSON:
    return JSON(_svc(request).pipelines.put_search(pipeline_id, await required_json(request)))


@router.delete("/_search/pipeline/{pipeline_id}")
async def delete_search(pipeline_id: str, request: Request) -> JSON:
    return JSON(_svc(request).pipelines.delete("search", pipeline_id))
