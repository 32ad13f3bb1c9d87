"""Document APIs: ``_doc``, ``_create``, ``_update``, ``_bulk``, ``_mget``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelnode.api.http import JSON, body_json, required_json
from modelnode.api.http import services as _svc
from modelnode.api.indices import target
from modelnode.errors import IllegalArgument, ModelNodeError
from modelnode.services.common import int_param
from modelnode.services.documents import parse_source_params

router = APIRouter()


def _int(request: Request, name: str) -> int | None:
    return int_param(request.query_params.get(name), name)


def _no_versioning(request: Request) -> None:
    if request.query_params.get("version") is not None or request.query_params.get("version_type") not in (
        None,
        "internal",
    ):
        raise IllegalArgument("external versioning (version, version_type) is not supported by modelnode")


def _source_spec(request: Request) -> object:
    q = request.query_params
    return parse_source_params(q.get("_source"), q.get("_source_includes"), q.get("_source_excludes"))


# -- bulk / mget (registered before /{index}/...) ----------------------------------------------
@router.post("/_bulk")
@router.put("/_bulk")
async def bulk(request: Request) -> JSON:
    q = request.query_params
    body = await request.body()
    return JSON(
        await _svc(request).documents.bulk(body, index=None, pipeline=q.get("pipeline"), refresh=q.get("refresh"))
    )


@router.api_route("/_mget", methods=["GET", "POST"])
async def mget(request: Request) -> JSON:
    return JSON(_svc(request).documents.mget(None, await required_json(request), source_filter=_source_spec(request)))


@router.post("/{index}/_bulk")
@router.put("/{index}/_bulk")
async def bulk_index(index: str, request: Request) -> JSON:
    q = request.query_params
    body = await request.body()
    docs = _svc(request).documents
    return JSON(
        await docs.bulk(body, index=target(request, index), pipeline=q.get("pipeline"), refresh=q.get("refresh"))
    )


@router.api_route("/{index}/_mget", methods=["GET", "POST"])
async def mget_index(index: str, request: Request) -> JSON:
    docs = _svc(request).documents
    return JSON(docs.mget(target(request, index), await required_json(request), source_filter=_source_spec(request)))


# -- single documents --------------------------------------------------------------------------
async def _index_doc(request: Request, index: str, doc_id: str | None, op_type: str | None) -> JSON:
    _no_versioning(request)
    q = request.query_params
    result, status = await _svc(request).documents.index(
        target(request, index),
        doc_id,
        await body_json(request, required=True),
        op_type=op_type or q.get("op_type"),
        pipeline=q.get("pipeline"),
        refresh=q.get("refresh"),
        if_seq_no=_int(request, "if_seq_no"),
        if_primary_term=_int(request, "if_primary_term"),
    )
    return JSON(result, status_code=status)


@router.post("/{index}/_doc")
async def index_auto_id(index: str, request: Request) -> JSON:
    return await _index_doc(request, index, None, None)


@router.api_route("/{index}/_doc/{doc_id}", methods=["PUT", "POST"])
async def index_doc(index: str, doc_id: str, request: Request) -> JSON:
    return await _index_doc(request, index, doc_id, None)


@router.api_route("/{index}/_create/{doc_id}", methods=["PUT", "POST"])
async def create_doc(index: str, doc_id: str, request: Request) -> JSON:
    return await _index_doc(request, index, doc_id, "create")


@router.get("/{index}/_doc/{doc_id}")
async def get_doc(index: str, doc_id: str, request: Request) -> JSON:
    result, status = _svc(request).documents.get(target(request, index), doc_id, source_filter=_source_spec(request))
    return JSON(result, status_code=status)


@router.get("/{index}/_source/{doc_id}")
async def get_source(index: str, doc_id: str, request: Request) -> JSON:
    result, status = _svc(request).documents.get(target(request, index), doc_id, source_filter=_source_spec(request))
    if status != 200:
        raise ModelNodeError(
            f"Document not found [{index}]/[{doc_id}]", status=404, error_type="resource_not_found_exception"
        )
    return JSON(result.get("_source", {}))


@router.head("/{index}/_doc/{doc_id}")
async def doc_exists(index: str, doc_id: str, request: Request) -> Response:
    docs = _svc(request).documents
    try:
        _, status = docs.get(target(request, index), doc_id, source_filter=False)
    except ModelNodeError:
        status = 404
    return Response(status_code=status)


@router.delete("/{index}/_doc/{doc_id}")
async def delete_doc(index: str, doc_id: str, request: Request) -> JSON:
    _no_versioning(request)
    result, status = await _svc(request).documents.delete(
        target(request, index),
        doc_id,
        refresh=request.query_params.get("refresh"),
        if_seq_no=_int(request, "if_seq_no"),
        if_primary_term=_int(request, "if_primary_term"),
    )
    return JSON(result, status_code=status)


@router.post("/{index}/_update/{doc_id}")
async def update_doc(index: str, doc_id: str, request: Request) -> JSON:
    result, status = await _svc(request).documents.update(
        target(request, index),
        doc_id,
        await required_json(request),
        refresh=request.query_params.get("refresh"),
        if_seq_no=_int(request, "if_seq_no"),
        if_primary_term=_int(request, "if_primary_term"),
    )
    return JSON(result, status_code=status)
