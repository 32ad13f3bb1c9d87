"""``_search`` and ``_count``, on one index, several (comma lists, wildcards) or all."""

from __future__ import annotations

from fastapi import APIRouter, Request

from modelnode.api.http import JSON, body_json
from modelnode.api.http import services as _svc
from modelnode.api.indices import target

router = APIRouter()


@router.api_route("/_search", methods=["GET", "POST"])
async def search_all(request: Request) -> JSON:
    body = await body_json(request)
    return JSON(await _svc(request).search.search(None, body, request.query_params))


@router.api_route("/_count", methods=["GET", "POST"])
async def count_all(request: Request) -> JSON:
    body = await body_json(request)
    return JSON(await _svc(request).search.count(None, body, request.query_params))


@router.api_route("/{index}/_search", methods=["GET", "POST"])
async def search(index: str, request: Request) -> JSON:
    body = await body_json(request)
    return JSON(await _svc(request).search.search(target(request, index), body, request.query_params))


@router.api_route("/{index}/_count", methods=["GET", "POST"])
async def count(index: str, request: Request) -> JSON:
    body = await body_json(request)
    return JSON(await _svc(request).search.count(target(request, index), body, request.query_params))
