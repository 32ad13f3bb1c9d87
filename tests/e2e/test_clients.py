"""The clients users already run against OpenSearch, unchanged, against a real modelnode process:
opensearch-py-ml's ``MLCommonClient`` (1.3.0) and plain opensearch-py (``transport``, ``cluster``,
and the generated ``plugins.ml`` namespace of opensearch-py 3.x)."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearch_py_ml.ml_commons import MLCommonClient
from opensearch_py_ml.ml_commons import model_uploader as py_ml_uploader
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

from tests.e2e.server import ServerProcess
from tests.support import MINILM, fake_artifact_zip

pytestmark = pytest.mark.slow

ML = "/_plugins/_ml"
DIM = 384
LOCAL_FILE_SETTING = "plugins.ml_commons.allow_registering_model_via_local_file"
NOT_CHUNKS = {"must_not": [{"exists": {"field": "chunk_number"}}]}


@pytest.fixture(scope="module")
def client(module_server: ServerProcess) -> Iterator[OpenSearch]:
    c = OpenSearch(
        hosts=[{"host": "127.0.0.1", "port": module_server.port}], use_ssl=False, verify_certs=False, timeout=30
    )
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def ml(client: OpenSearch) -> MLCommonClient:
    return MLCommonClient(client)


def new_group(client: OpenSearch, name: str, description: str | None = None) -> str:
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    r = client.transport.perform_request("POST", f"{ML}/model_groups/_register", body=body)
    assert r["status"] == "CREATED", r
    return r["model_group_id"]


def wait_task(client: OpenSearch, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = client.transport.perform_request("GET", f"{ML}/tasks/{task_id}")
        if task["state"] not in ("CREATED", "RUNNING"):
            return task
        assert time.monotonic() < deadline, f"task {task_id} still {task['state']}"
        time.sleep(0.05)


def embedding(result: dict[str, Any], i: int = 0) -> list[float]:
    tensor = result["inference_results"][i]["output"][0]
    assert tensor["name"] == "sentence_embedding"
    assert tensor["data_type"] == "FLOAT32"
    assert tensor["shape"] == [DIM]
    data = tensor["data"]
    assert len(data) == DIM and all(isinstance(x, float) for x in data)
    return data


def error_of(exc: Any) -> dict[str, Any]:
    info = exc.value.info
    assert isinstance(info, dict), info
    return info["error"]


# -- plain opensearch-py ------------------------------------------------------------------------
def test_info_ping_health(client: OpenSearch) -> None:
    assert client.ping() is True
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].count(".") == 2
    assert info["tagline"] == "The OpenSearch Project: https://opensearch.org/"
    assert client.cluster.health()["status"] in ("green", "yellow")


def test_cluster_settings(client: OpenSearch) -> None:
    r = client.cluster.put_settings(
        body={
            "persistent": {"plugins.ml_commons.only_run_on_ml_node": False},
            "transient": {"plugins": {"ml_commons": {"native_memory_threshold": 99}}},
        }
    )
    assert r["acknowledged"] is True
    assert r["persistent"] == {"plugins": {"ml_commons": {"only_run_on_ml_node": "false"}}}
    assert r["transient"] == {"plugins": {"ml_commons": {"native_memory_threshold": "99"}}}

    nested = client.cluster.get_settings()
    assert nested["persistent"]["plugins"]["ml_commons"]["only_run_on_ml_node"] == "false"
    assert nested["transient"]["plugins"]["ml_commons"]["native_memory_threshold"] == "99"
    flat = client.cluster.get_settings(flat_settings=True)
    assert flat["persistent"]["plugins.ml_commons.only_run_on_ml_node"] == "false"
    defaults = client.cluster.get_settings(include_defaults=True, flat_settings=True)["defaults"]
    assert defaults["plugins.ml_commons.model_auto_redeploy.enable"] == "true"

    with pytest.raises(RequestError) as bad:
        client.cluster.put_settings(body={"persistent": {"plugins.ml_commons.no_such_setting": 1}})
    assert error_of(bad)["type"] == "illegal_argument_exception"

    client.cluster.put_settings(body={"transient": {"plugins.ml_commons.native_memory_threshold": None}})
    assert "native_memory_threshold" not in json.dumps(client.cluster.get_settings()["transient"])


# -- MLCommonClient -----------------------------------------------------------------------------
def test_register_pretrained_model_without_group(ml: MLCommonClient, client: OpenSearch) -> None:
    """Without a group the client sends ``"model_group_id": ""``; ML Commons treats an empty id as
    absent and auto-creates a group named after the model."""
    model_id = ml.register_pretrained_model(
        model_name=MINILM, model_version="1.0.2", model_format="ONNX", deploy_model=False
    )
    info = ml.get_model_info(model_id)
    assert info["model_state"] == "REGISTERED" and info["model_version"] == "1"
    group = client.transport.perform_request("GET", f"{ML}/model_groups/{info['model_group_id']}")
    assert group["name"] == MINILM and group["latest_version"] == 1
    assert ml.delete_model(model_id)["result"] == "deleted"
    assert ml.model_access_control.delete_model_group(info["model_group_id"])["result"] == "deleted"


def test_pretrained_model_lifecycle(ml: MLCommonClient, client: OpenSearch) -> None:
    group_id = new_group(client, "e2e client lifecycle")
    model_id = ml.register_pretrained_model(
        model_name=MINILM,
        model_version="1.0.2",
        model_format="TORCH_SCRIPT",
        model_group_id=group_id,
        deploy_model=True,
        wait_until_deployed=True,
    )
    assert isinstance(model_id, str) and model_id

    info = ml.get_model_info(model_id)
    assert info["model_state"] == "DEPLOYED"
    assert info["name"] == MINILM and info["model_group_id"] == group_id
    assert info["algorithm"] == "TEXT_EMBEDDING" and info["model_format"] == "TORCH_SCRIPT"
    assert info["model_version"] == "1"

    # generate_embedding: POST _predict/text_embedding/{id} with target_response sentence_embedding
    result = ml.generate_embedding(model_id, ["today is sunny"])
    assert len(result["inference_results"]) == 1 and len(result["inference_results"][0]["output"]) == 1
    vector = embedding(result)
    assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-4)  # normalize_result
    two = ml.generate_embedding(model_id, ["today is sunny", "a different sentence"])
    assert embedding(two, 0) == vector and embedding(two, 1) != vector
    # generate_model_inference / predict: POST models/{id}/_predict/ (trailing slash)
    same = ml.generate_model_inference(
        model_id, {"text_docs": ["today is sunny"], "target_response": ["sentence_embedding"]}
    )
    assert embedding(same) == vector
    full = ml.predict(model_id, {"text_docs": ["today is sunny"]})
    names = [t["name"] for t in full["inference_results"][0]["output"]]
    assert "sentence_embedding" in names and len(names) == 4  # TorchScript returns its whole feature dict

    # Tasks: search_task sends GET with a body; get_task_info by id.
    tasks = ml.search_task({"query": {"term": {"model_id": model_id}}, "sort": [{"create_time": "asc"}]})
    hits = tasks["hits"]["hits"]
    assert [h["_source"]["task_type"] for h in hits] == ["REGISTER_MODEL", "DEPLOY_MODEL"]
    register_task_id, deploy_task_id = (h["_id"] for h in hits)
    reg = ml.get_task_info(register_task_id)
    assert reg["state"] == "COMPLETED" and reg["model_id"] == model_id and reg["task_type"] == "REGISTER_MODEL"
    assert ml.get_task_info(deploy_task_id, wait_until_task_done=True)["state"] == "COMPLETED"
    assert (
        ml.search_task(json.dumps({"query": {"term": {"task_type": "REGISTER_MODEL"}}}))["hits"]["total"]["value"] >= 1
    )
    assert ml.search_task("[]") == "Invalid JSON object passed as argument."  # client-side check

    # search_model: POST models/_search, dict or JSON string
    found = ml.search_model({"query": {"bool": {"filter": [{"term": {"model_group_id": group_id}}], **NOT_CHUNKS}}})
    assert [h["_id"] for h in found["hits"]["hits"]] == [model_id]
    assert "model_content" not in found["hits"]["hits"][0]["_source"]
    by_name = ml.search_model(json.dumps({"query": {"match": {"name": "all-MiniLM-L6-v2"}}, "size": 100}))
    assert model_id in {h["_id"] for h in by_name["hits"]["hits"]}

    # Profile (GET with an optional body)
    profile = ml.get_profile(profile_type="model", ids=[model_id])
    node_models = [n["models"] for n in profile.get("nodes", {}).values() if "models" in n]
    assert any(model_id in m and m[model_id]["model_state"] == "DEPLOYED" for m in node_models), profile

    # Undeploy, then predict is refused, then delete.
    undeployed = ml.undeploy_model(model_id)
    assert [node["stats"] for node in undeployed.values()] == [{model_id: "undeployed"}]
    assert ml.get_model_info(model_id)["model_state"] == "UNDEPLOYED"
    with pytest.raises(RequestError) as not_ready:
        ml.generate_embedding(model_id, ["today is sunny"])
    assert "deploy the model first" in error_of(not_ready)["reason"]

    deleted = ml.delete_model(model_id)
    assert deleted["result"] == "deleted" and deleted["_id"] == model_id
    with pytest.raises(NotFoundError):
        ml.get_model_info(model_id)
    for task_id in (register_task_id, deploy_task_id):
        assert ml.delete_task(task_id)["result"] == "deleted"
        with pytest.raises(NotFoundError):
            ml.get_task_info(task_id)
    assert ml.model_access_control.delete_model_group(group_id)["result"] == "deleted"


def test_register_pretrained_model_failure_is_raised(ml: MLCommonClient, client: OpenSearch) -> None:
    """A FAILED register task makes the client raise with the task's error (it polls until the
    state leaves CREATED, then reads ``error``)."""
    group_id = new_group(client, "e2e client failure")
    with pytest.raises(Exception, match="not in the pre-trained model list"):
        ml.register_pretrained_model(
            model_name=MINILM, model_version="9.9.9", model_format="TORCH_SCRIPT", model_group_id=group_id
        )
    ml.model_access_control.delete_model_group(group_id)


def test_model_group_helpers(ml: MLCommonClient, client: OpenSearch) -> None:
    mac = ml.model_access_control
    # The helper always sends access-control fields (access_mode defaults to "private" and
    # add_all_backend_roles is always present); without the Security plugin ML Commons refuses
    # them, and so does modelnode.
    for kwargs in ({}, {"access_mode": None}, {"access_mode": "public"}):
        with pytest.raises(RequestError) as refused:
            mac.register_model_group("e2e refused group", description="d", **kwargs)
        err = error_of(refused)
        assert err["type"] == "illegal_argument_exception"
        assert "model access control parameters" in err["reason"]

    alpha = new_group(client, "alpha e2e group", "first")
    beta = new_group(client, "beta e2e group", "second")
    # get_model_group_id_by_name: GET model_groups/_search {"query": {"match": {"name": ...}}, "size": 1}
    assert mac.get_model_group_id_by_name("beta e2e group") == beta
    assert mac.get_model_group_id_by_name("alpha e2e group") == alpha
    assert mac.get_model_group_id_by_name("zzzunknownzzz") is None

    res = mac.search_model_group_by_name("alpha e2e group", _source=["name"], size=5)
    hits = res["hits"]["hits"]
    assert hits[0]["_id"] == alpha and hits[0]["_source"] == {"name": "alpha e2e group"}
    assert {h["_id"] for h in hits} >= {alpha, beta}  # match is an OR of the terms, best first
    exact = mac.search_model_group({"query": {"term": {"name.keyword": "beta e2e group"}}})
    assert [h["_id"] for h in exact["hits"]["hits"]] == [beta]

    assert mac.update_model_group({"description": "updated"}, model_group_id=alpha) == {"status": "Updated"}
    group = client.transport.perform_request("GET", f"{ML}/model_groups/{alpha}")
    assert group["description"] == "updated" and group["access"] == "public" and group["latest_version"] == 0

    # A group with a model cannot be deleted (409), an empty one can.
    task_id = client.transport.perform_request(
        "POST",
        f"{ML}/models/_register",
        body={"name": MINILM, "version": "1.0.1", "model_format": "ONNX", "model_group_id": beta},
    )["task_id"]
    model_id = wait_task(client, task_id)["model_id"]
    with pytest.raises(ConflictError):
        mac.delete_model_group(beta)
    client.transport.perform_request("DELETE", f"{ML}/models/{model_id}")
    assert mac.delete_model_group(beta)["result"] == "deleted"
    assert mac.delete_model_group_by_name("alpha e2e group")["result"] == "deleted"
    with pytest.raises(NotFoundError):
        mac.delete_model_group(alpha)
    # match is an OR of terms: another group sharing a word may come back, but never the deleted one
    assert mac.get_model_group_id_by_name("alpha e2e group") != alpha


@pytest.fixture
def local_model(tmp_path: Path) -> tuple[Path, Path]:
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(fake_artifact_zip("TORCH_SCRIPT"))
    config = {
        "name": "e2e-uploaded-minilm",
        "version": "1.0.0",
        "description": "uploaded from a local zip by opensearch-py-ml",
        "model_format": "TORCH_SCRIPT",
        "function_name": "TEXT_EMBEDDING",
        "model_config": {
            "model_type": "bert",
            "embedding_dimension": DIM,
            "framework_type": "sentence_transformers",
            "pooling_mode": "MEAN",
            "normalize_result": True,
        },
    }
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    return zip_path, config_path


# ModelUploader._register_model opens the config json and never closes it.
@pytest.mark.filterwarnings(r"ignore:unclosed file <_io\.TextIOWrapper name='[^']*config\.json'.*:ResourceWarning")
def test_register_model_from_local_zip(
    ml: MLCommonClient, client: OpenSearch, local_model: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    zip_path, config_path = local_model
    try:  # not pytest.raises: its excinfo would keep the client's leaked file alive past the test
        ml.register_model(str(zip_path), str(config_path), deploy_model=False)
    except RequestError as e:
        reason = e.info["error"]["reason"]
    else:
        pytest.fail("registering from a local file must need allow_registering_model_via_local_file")
    assert "allow_registering_model_via_local_file" in reason

    client.cluster.put_settings(body={"transient": {LOCAL_FILE_SETTING: True}})
    # The client splits the zip into MODEL_CHUNK_MAX_SIZE (10 MB) chunks; a smaller size makes this
    # small zip arrive in several chunks, so reassembly is exercised too.
    chunk = 64 * 1024
    monkeypatch.setattr(py_ml_uploader, "MODEL_CHUNK_MAX_SIZE", chunk)
    expected_chunks = math.ceil(zip_path.stat().st_size / chunk)
    assert expected_chunks > 1
    try:
        # No model_group_id: the client sends "", and a group named after the model is created.
        model_id = ml.register_model(str(zip_path), str(config_path), deploy_model=True, wait_until_deployed=True)
    finally:
        client.cluster.put_settings(body={"transient": {LOCAL_FILE_SETTING: None}})

    info = ml.get_model_info(model_id)
    assert info["model_state"] == "DEPLOYED"
    assert info["name"] == "e2e-uploaded-minilm" and info["model_version"] == "1"
    group_id = info["model_group_id"]
    assert client.transport.perform_request("GET", f"{ML}/model_groups/{group_id}")["name"] == "e2e-uploaded-minilm"
    assert info["total_chunks"] == expected_chunks
    assert info["model_content_size_in_bytes"] == zip_path.stat().st_size
    assert embedding(ml.generate_embedding(model_id, ["uploaded"]))

    ml.undeploy_model(model_id)
    assert ml.delete_model(model_id)["result"] == "deleted"
    ml.model_access_control.delete_model_group(group_id)


# -- opensearch-py 3.x generated namespace: client.plugins.ml -----------------------------------
@pytest.fixture(scope="module")
def ml_ns(client: OpenSearch) -> Any:
    plugins = getattr(client, "plugins", None)
    namespace = getattr(plugins, "ml", None)
    if namespace is None:
        import opensearchpy

        pytest.skip(f"opensearch-py {opensearchpy.__versionstr__} has no client.plugins.ml namespace")
    return namespace


def test_opensearch_py_plugins_ml_namespace(ml_ns: Any, client: OpenSearch) -> None:
    group_id = ml_ns.register_model_group(body={"name": "e2e namespace group"})["model_group_id"]
    assert ml_ns.get_model_group(model_group_id=group_id)["name"] == "e2e namespace group"
    groups = ml_ns.search_model_group(body={"query": {"term": {"name.keyword": "e2e namespace group"}}})
    assert [h["_id"] for h in groups["hits"]["hits"]] == [group_id]

    task_id = ml_ns.register_model(
        body={"name": MINILM, "version": "1.0.2", "model_format": "ONNX", "model_group_id": group_id}
    )["task_id"]
    deadline = time.monotonic() + 30
    while (task := ml_ns.get_task(task_id=task_id))["state"] == "CREATED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert task["state"] == "COMPLETED", task
    model_id = task["model_id"]
    assert ml_ns.get_model(model_id=model_id)["model_state"] == "REGISTERED"
    models = ml_ns.search_models(body={"query": {"term": {"model_group_id": group_id}}})
    assert [h["_id"] for h in models["hits"]["hits"]] == [model_id]

    deployed = ml_ns.deploy_model(model_id=model_id)
    assert deployed["task_type"] == "DEPLOY_MODEL"
    assert wait_task(client, deployed["task_id"])["state"] == "COMPLETED"
    tasks = ml_ns.search_tasks(body={"query": {"term": {"model_id": model_id}}})
    assert {h["_source"]["task_type"] for h in tasks["hits"]["hits"]} == {"REGISTER_MODEL", "DEPLOY_MODEL"}

    by_algorithm = ml_ns.predict(algorithm_name="text_embedding", model_id=model_id, body={"text_docs": ["hi"]})
    by_model = ml_ns.predict_model(model_id=model_id, body={"text_docs": ["hi"]})
    assert by_algorithm == by_model
    assert embedding(by_model)  # ONNX: exactly one tensor, sentence_embedding

    stats = ml_ns.get_stats()
    assert "nodes" in stats
    updated = ml_ns.update_model(model_id=model_id, body={"description": "via plugins.ml"})
    assert updated["result"] == "updated"
    undeployed = ml_ns.undeploy_model(model_id=model_id)
    assert [node["stats"] for node in undeployed.values()] == [{model_id: "undeployed"}]
    assert ml_ns.delete_model(model_id=model_id)["result"] == "deleted"
    assert ml_ns.delete_task(task_id=task_id)["result"] == "deleted"
    assert ml_ns.delete_model_group(model_group_id=group_id)["result"] == "deleted"


def test_opensearch_py_plugins_ml_meta_and_upload_chunk(ml_ns: Any, client: OpenSearch) -> None:
    """``register_model_meta`` (models/_register_meta) and ``upload_chunk`` (models/{id}/upload_chunk/{n})."""
    data = fake_artifact_zip("ONNX")
    half = len(data) // 2
    client.cluster.put_settings(body={"transient": {LOCAL_FILE_SETTING: True}})
    try:
        meta = ml_ns.register_model_meta(
            body={
                "name": "e2e-namespace-upload",
                "version": "1",
                "model_format": "ONNX",
                "model_content_hash_value": hashlib.sha256(data).hexdigest(),
                "model_content_size_in_bytes": len(data),
                "total_chunks": 2,
                "model_config": {
                    "model_type": "bert",
                    "embedding_dimension": DIM,
                    "framework_type": "sentence_transformers",
                },
            }
        )
    finally:
        client.cluster.put_settings(body={"transient": {LOCAL_FILE_SETTING: None}})
    assert meta["status"] == "CREATED"
    model_id = meta["model_id"]
    assert ml_ns.get_model(model_id=model_id)["model_state"] == "REGISTERING"
    assert ml_ns.upload_chunk(model_id=model_id, chunk_number=0, body=data[:half]) == {"status": "Uploaded"}
    assert ml_ns.upload_chunk(model_id=model_id, chunk_number=1, body=data[half:]) == {"status": "Uploaded"}
    assert ml_ns.get_model(model_id=model_id)["model_state"] == "REGISTERED"
    group_id = ml_ns.get_model(model_id=model_id)["model_group_id"]
    assert ml_ns.delete_model(model_id=model_id)["result"] == "deleted"
    ml_ns.delete_model_group(model_group_id=group_id)


def deprecated(method: Any, **kwargs: Any) -> Any:
    """Call one of the ``plugins.ml`` methods opensearch-py marks deprecated (it warns)."""
    with pytest.warns(UserWarning, match="Deprecated"):
        return method(**kwargs)


def test_opensearch_py_plugins_ml_deprecated_and_profile(ml_ns: Any, client: OpenSearch) -> None:
    """The rest of ``plugins.ml`` for what modelnode serves: ``update_model_group``, the deprecated
    ``upload_model`` / ``load_model`` / ``unload_model`` / ``create_model_meta`` / ``chunk_model``,
    ``get_profile*`` and ``get_stats`` by node and stat (the same operations as the API-spec stories)."""
    group_id = ml_ns.register_model_group(body={"name": "e2e deprecated group"})["model_group_id"]
    assert ml_ns.update_model_group(model_group_id=group_id, body={"description": "updated"}) == {"status": "Updated"}
    assert ml_ns.get_model_group(model_group_id=group_id)["description"] == "updated"

    body = {"name": MINILM, "version": "1.0.2", "model_format": "TORCH_SCRIPT", "model_group_id": group_id}
    task = wait_task(client, deprecated(ml_ns.upload_model, body=body)["task_id"])
    assert task["state"] == "COMPLETED", task
    model_id, node_id = task["model_id"], task["worker_node"][0]
    loaded = deprecated(ml_ns.load_model, model_id=model_id)
    load_task_id = loaded["task_id"]
    assert wait_task(client, load_task_id)["state"] == "COMPLETED"

    assert model_id in ml_ns.get_profile_models(model_id=model_id)["nodes"][node_id]["models"]
    assert load_task_id in ml_ns.get_profile_tasks(task_id=load_task_id)["nodes"][node_id]["tasks"]
    everything = ml_ns.get_profile(body={"node_ids": [node_id], "return_all_tasks": True, "return_all_models": True})
    assert model_id in everything["nodes"][node_id]["models"]
    assert node_id in ml_ns.get_stats(node_id=node_id)["nodes"]
    assert "ml_model_index_status" in ml_ns.get_stats(stat="ml_model_index_status")
    assert node_id in ml_ns.get_stats(node_id=node_id, stat="ml_task_index_status")["nodes"]  # a cluster-level stat

    unloaded = deprecated(ml_ns.unload_model, model_id=model_id)
    assert [node["stats"] for node in unloaded.values()] == [{model_id: "undeployed"}]
    assert ml_ns.delete_model(model_id=model_id)["result"] == "deleted"

    data = fake_artifact_zip("ONNX")
    client.cluster.put_settings(body={"transient": {LOCAL_FILE_SETTING: True}})
    try:
        meta = deprecated(
            ml_ns.create_model_meta,
            body={
                "name": "e2e-namespace-chunks",
                "version": "1",
                "model_format": "ONNX",
                "model_group_id": group_id,
                "model_content_hash_value": hashlib.sha256(data).hexdigest(),
                "total_chunks": 1,
                "model_config": {
                    "model_type": "bert",
                    "embedding_dimension": DIM,
                    "framework_type": "sentence_transformers",
                },
            },
        )
    finally:
        client.cluster.put_settings(body={"transient": {LOCAL_FILE_SETTING: None}})
    assert deprecated(ml_ns.chunk_model, model_id=meta["model_id"], chunk_number=0, body=data) == {"status": "Uploaded"}
    assert ml_ns.get_model(model_id=meta["model_id"])["model_state"] == "REGISTERED"
    assert ml_ns.delete_model(model_id=meta["model_id"])["result"] == "deleted"
    assert ml_ns.delete_model_group(model_group_id=group_id)["result"] == "deleted"
