"""``/_plugins/_ml``: model groups, models, deploy/undeploy, tasks, predict, profile, stats."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from modelnode.api.http import JSON, authenticate, body_json, flag, required_json
from modelnode.api.http import services as _svc
from modelnode.errors import IllegalArgument
from modelnode.security import Principal

router = APIRouter(prefix="/_plugins/_ml")
Caller = Depends(authenticate)


# -- model groups -------------------------------------------------------------------------------
@router.post("/model_groups/_register")
async def register_group(request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).groups.register(await required_json(request), caller))


@router.api_route("/model_groups/_search", methods=["GET", "POST"])
async def search_groups(request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).groups.search(await body_json(request), caller))


@router.get("/model_groups/{group_id}")
async def get_group(group_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).groups.get(group_id, caller))


@router.put("/model_groups/{group_id}")
async def update_group(group_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).groups.update(group_id, await required_json(request), caller))


@router.delete("/model_groups/{group_id}")
async def delete_group(group_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).groups.delete(group_id, caller))


# -- models -------------------------------------------------------------------------------------
@router.post("/models/_register")
@router.post("/models/_upload")
async def register_model(request: Request, caller: Principal = Caller) -> JSON:
    body = await required_json(request)
    return JSON(_svc(request).models.register(body, caller, deploy=flag(request, "deploy")))


@router.post("/models/_register_meta")
@router.post("/models/meta")
async def register_meta(request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).models.register_meta(await required_json(request), caller))


@router.post("/models/{model_id}/chunk/{chunk_number}")
@router.post("/models/{model_id}/upload_chunk/{chunk_number}")
async def upload_chunk(model_id: str, chunk_number: str, request: Request, caller: Principal = Caller) -> JSON:
    data = await request.body()
    return JSON(await _svc(request).models.upload_chunk(model_id, chunk_number, data, caller))


@router.api_route("/models/_search", methods=["GET", "POST"])
async def search_models(request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).models.search(await body_json(request), caller))


@router.post("/models/_undeploy")
@router.post("/models/_unload")
async def undeploy_many(request: Request, caller: Principal = Caller) -> JSON:
    body = await body_json(request) or {}
    model_ids, node_ids = body.get("model_ids"), body.get("node_ids")
    if not isinstance(model_ids, list) or not model_ids or not all(isinstance(m, str) for m in model_ids):
        raise IllegalArgument("[model_ids] must be a non-empty array of model ids")
    return JSON(_svc(request).deployments.undeploy(model_ids, _str_list(node_ids, "node_ids"), caller))


@router.get("/models/{model_id}")
async def get_model(model_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).models.get(model_id, caller))


@router.put("/models/{model_id}")
async def update_model(model_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).models.update(model_id, await required_json(request), caller))


@router.delete("/models/{model_id}")
async def delete_model(model_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).models.delete(model_id, caller))


@router.post("/models/{model_id}/_deploy")
@router.post("/models/{model_id}/_load")
async def deploy_model(model_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).deployments.deploy(model_id, await body_json(request), caller))


@router.post("/models/{model_id}/_undeploy")
@router.post("/models/{model_id}/_unload")
async def undeploy_model(model_id: str, request: Request, caller: Principal = Caller) -> JSON:
    body = await body_json(request) or {}
    node_ids = _str_list(body.get("node_ids"), "node_ids")
    return JSON(_svc(request).deployments.undeploy([model_id], node_ids, caller))


# -- predict ------------------------------------------------------------------------------------
@router.post("/_predict/{algorithm}/{model_id}")
async def predict_by_algorithm(algorithm: str, model_id: str, request: Request, caller: Principal = Caller) -> JSON:
    body = await required_json(request)
    return JSON(await _svc(request).deployments.predict(algorithm, model_id, body, caller))


@router.post("/models/{model_id}/_predict")
async def predict(model_id: str, request: Request, caller: Principal = Caller) -> JSON:
    body = await required_json(request)
    return JSON(await _svc(request).deployments.predict(None, model_id, body, caller))


# -- tasks --------------------------------------------------------------------------------------
@router.api_route("/tasks/_search", methods=["GET", "POST"])
async def search_tasks(request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).tasks.search(await body_json(request), caller))


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).tasks.get(task_id, caller))


@router.delete("/tasks/{task_id}")
async def delete_task(task_id: str, request: Request, caller: Principal = Caller) -> JSON:
    return JSON(_svc(request).tasks.delete(task_id, caller))


# -- profile & stats ----------------------------------------------------------------------------
@router.get("/profile")
@router.get("/profile/{kind}")
@router.get("/profile/{kind}/{ids}")
async def profile(
    request: Request, kind: str | None = None, ids: str | None = None, caller: Principal = Caller
) -> JSON:
    if kind not in (None, "models", "tasks"):
        raise IllegalArgument(f"no handler found for uri [{request.url.path}] and method [GET]")
    view = request.query_params.get("view", "node")
    if view not in ("node", "model"):
        raise IllegalArgument(f"Wrong view type [{view}]; use node or model")
    id_list = [i for i in ids.split(",") if i] if ids else None
    return JSON(_svc(request).monitoring.profile(kind, id_list, await body_json(request), view))


@router.get("/stats")
@router.get("/stats/{stat}")
@router.get("/{node_id}/stats")
@router.get("/{node_id}/stats/{stat}")
async def stats(
    request: Request, node_id: str | None = None, stat: str | None = None, caller: Principal = Caller
) -> JSON:
    return JSON(_svc(request).monitoring.stats(node_id, stat))


def _str_list(value: object, key: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IllegalArgument(f"[{key}] must be an array of strings")
    return value
