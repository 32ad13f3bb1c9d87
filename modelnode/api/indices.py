"""Index APIs: ``PUT/GET/HEAD/DELETE /{index}``, ``_mapping``, ``_settings``, ``_refresh``,
``_cat/indices``.

``/{index}`` is a catch-all path: these routers are registered after every ``/_...`` router, and a
name starting with ``_`` (other than ``_all``) is answered as an unknown route.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from modelnode.api.http import JSON, body_json, flag, required_json
from modelnode.api.http import services as _svc
from modelnode.errors import IllegalArgument
from modelnode.services.indices import render_cat

router = APIRouter()


def target(request: Request, index: str) -> str:
    """An index expression from the path; ``/_foo`` is no index route but an unknown one."""
    if index.startswith("_") and index not in ("_all",):
        raise IllegalArgument(f"no handler found for uri [{request.url.path}] and method [{request.method}]")
    return index


# -- cluster-wide forms (registered before /{index}) ---------------------------------------------
@router.get("/_cat/indices")
@router.get("/_cat/indices/{index}")
async def cat_indices(request: Request, index: str | None = None) -> Response:
    rows = _svc(request).indices.cat(index)
    columns = request.query_params.get("h")
    cols = [c for c in columns.split(",") if c] if columns else None
    sort = request.query_params.get("s")
    if sort:
        key, _, order = sort.partition(":")
        rows.sort(key=lambda r: _sort_key(r.get(key, "")), reverse=order == "desc")
    if request.query_params.get("format") == "json":
        return JSON([{c: r.get(c) for c in cols} if cols else r for r in rows])
    text = render_cat(rows, header=flag(request, "v"), columns=cols)
    return PlainTextResponse(text, media_type="text/plain; charset=UTF-8")


def _sort_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


@router.api_route("/_refresh", methods=["GET", "POST"])
async def refresh_all(request: Request) -> JSON:
    return JSON(_svc(request).indices.refresh(None))


@router.post("/_flush")
async def flush_all(request: Request) -> JSON:
    return JSON(_svc(request).indices.flush(None))


@router.get("/_mapping")
async def get_all_mappings(request: Request) -> JSON:
    return JSON(_svc(request).indices.get_mapping(None))


@router.get("/_settings")
async def get_all_settings(request: Request) -> JSON:
    return JSON(
        _svc(request).indices.get_settings(
            None, flat=flag(request, "flat_settings"), include_defaults=flag(request, "include_defaults")
        )
    )


# -- /{index}/... --------------------------------------------------------------------------------
@router.api_route("/{index}/_refresh", methods=["GET", "POST"])
async def refresh(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.refresh(target(request, index)))


@router.post("/{index}/_flush")
async def flush(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.flush(target(request, index)))


@router.get("/{index}/_mapping")
async def get_mapping(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.get_mapping(target(request, index)))


@router.get("/_mapping/field/{fields}")
async def get_all_field_mappings(fields: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.get_field_mapping(None, fields))


@router.get("/{index}/_mapping/field/{fields}")
async def get_field_mapping(index: str, fields: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.get_field_mapping(target(request, index), fields))


@router.api_route("/{index}/_mapping", methods=["PUT", "POST"])
async def put_mapping(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.put_mapping(target(request, index), await required_json(request)))


@router.get("/{index}/_settings")
@router.get("/{index}/_settings/{name}")
async def get_settings(index: str, request: Request, name: str | None = None) -> JSON:
    svc = _svc(request)
    return JSON(
        svc.indices.get_settings(
            target(request, index),
            flat=flag(request, "flat_settings"),
            name_filter=name,
            include_defaults=flag(request, "include_defaults"),
        )
    )


@router.put("/{index}/_settings")
async def put_settings(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.put_settings(target(request, index), await required_json(request)))


@router.put("/{index}")
async def create_index(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.create(target(request, index), await body_json(request)))


@router.get("/{index}")
async def get_index(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.get(target(request, index), flat=flag(request, "flat_settings")))


@router.head("/{index}")
async def index_exists(index: str, request: Request) -> Response:
    exists = _svc(request).indices.exists(target(request, index))
    return Response(status_code=200 if exists else 404)


@router.delete("/{index}")
async def delete_index(index: str, request: Request) -> JSON:
    return JSON(_svc(request).indices.delete(target(request, index)))
