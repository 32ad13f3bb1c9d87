"""Register (pretrained / url / local chunks), get, search, update and delete models."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelnode import catalog
from modelnode.artifacts import ArtifactStore, ModelRepository, download, is_sha256, sha256_file
from modelnode.config import Settings
from modelnode.errors import (
    ArtifactError,
    BadRequest,
    Conflict,
    IllegalArgument,
    NotFound,
    PayloadTooLarge,
)
from modelnode.search import dsl
from modelnode.security import Principal
from modelnode.services import model_config
from modelnode.services.cluster_settings import ClusterSettings
from modelnode.services.common import (
    new_id,
    now_ms,
    opt_bool,
    opt_obj,
    opt_str,
    write_response,
)
from modelnode.services.groups import ModelGroups
from modelnode.storage import MODEL_INDEX, DocStore, MLModel, MLTask
from modelnode.tasks import TaskLog, TaskRunner, run_in_thread

log = logging.getLogger("modelnode.models")

CHUNK_BYTES = 10_000_000  # ML Commons splits model content into 10,000,000-byte chunks
DL_FUNCTIONS = tuple(f.value for f in catalog.FunctionName)
FORMATS = tuple(f.value for f in catalog.ModelFormat)
ACTIVE_STATES = ("DEPLOYED", "DEPLOYING", "PARTIALLY_DEPLOYED", "LOADED", "LOADING", "PARTIALLY_LOADED")
TEXT_FIELDS = ("name", "description")
LOCAL_MODEL_DISABLED = (
    "Local Model is disabled. Enable it with the cluster setting plugins.ml_commons.local_model.enabled."
)
NOT_PRETRAINED = "This model is not in the pre-trained model list, please check your parameters."


def parse_function_name(value: Any, default: str = "TEXT_EMBEDDING") -> str:
    if value is None:
        return default
    name = str(value).upper()
    if name not in DL_FUNCTIONS:
        raise IllegalArgument(f"Wrong function name [{value}]; local models support {', '.join(DL_FUNCTIONS)}")
    return name


def parse_format(value: Any) -> str:
    if value is None:
        raise IllegalArgument("model format is null")
    fmt = str(value).upper()
    if fmt not in FORMATS:
        raise IllegalArgument(f"Wrong model format [{value}]; use TORCH_SCRIPT or ONNX")
    return fmt


@dataclass
class _Registration:
    """What a register request resolved to before its task starts."""

    name: str
    version: str | None
    model_format: str
    function_name: str
    group_id: str
    model_version: int
    group_created: bool
    description: str | None
    url: str | None
    content_hash: str | None
    model_config: dict[str, Any] | None
    deploy_setting: dict[str, Any] | None
    is_enabled: bool | None
    rate_limiter: dict[str, Any] | None


class Models:
    def __init__(
        self,
        settings: Settings,
        docs: DocStore,
        cluster: ClusterSettings,
        groups: ModelGroups,
        tasks: TaskLog,
        runner: TaskRunner,
        store: ArtifactStore,
        node_id: str,
    ) -> None:
        self.settings = settings
        self.docs = docs
        self.cluster = cluster
        self.groups = groups
        self.tasks = tasks
        self.runner = runner
        self.store = store
        self.node_id = node_id
        self.downloads = store.incoming_dir
        self.uploads = settings.data_dir / "uploads"
        # Set by the container: deploy after registration (``?deploy=true``).
        self.deploy_after_register: Any = None

    # -- reads ----------------------------------------------------------------------------------
    def find(self, model_id: str) -> MLModel | None:
        doc = self.docs.get(MODEL_INDEX, model_id)
        return MLModel.from_source(doc.source) if doc else None

    def require(self, model_id: str) -> MLModel:
        model = self.find(model_id)
        if model is None:
            raise NotFound(f"Failed to find model with the provided model id: {model_id}")
        return model

    def save(self, model_id: str, model: MLModel) -> None:
        model.last_updated_time = now_ms()
        self.docs.put(MODEL_INDEX, model_id, model.to_source())

    def get(self, model_id: str, caller: Principal) -> dict[str, Any]:
        return self.require(model_id).to_source()

    def search(self, body: dict[str, Any] | None, caller: Principal) -> dict[str, Any]:
        hits = [dsl.Hit(d.id, d.source, d.seq_no, d.version) for d in self.docs.all(MODEL_INDEX)]
        return dsl.search(MODEL_INDEX, hits, body, text_fields=TEXT_FIELDS)

    def artifact_dir(self, model: MLModel) -> Path | None:
        return self.store.get(model.model_content_hash_value) if model.model_content_hash_value else None

    # -- register -------------------------------------------------------------------------------
    def check_local_enabled(self) -> None:
        if not self.cluster.ml("local_model.enabled"):
            raise BadRequest(LOCAL_MODEL_DISABLED)

    def register(self, body: dict[str, Any], caller: Principal, *, deploy: bool) -> dict[str, Any]:
        """Validate, reserve a model version, create the REGISTER_MODEL task, start it."""
        self.check_local_enabled()
        name = opt_str(body, "name")
        if not name:
            raise IllegalArgument("model name is null")
        if body.get("connector") is not None or body.get("connector_id") is not None:
            raise IllegalArgument(
                "Remote models (connectors) are not supported by modelnode; register a local "
                "model with model_format TORCH_SCRIPT or ONNX."
            )
        model_format = parse_format(body.get("model_format"))
        function_name = parse_function_name(body.get("function_name"))
        url = opt_str(body, "url")
        version = opt_str(body, "version") if not isinstance(body.get("version"), int | float) else str(body["version"])
        raw_config = opt_obj(body, "model_config")
        if url is not None:
            if not self.cluster.ml("allow_registering_model_via_url"):
                raise IllegalArgument(
                    "To upload custom model user needs to enable allow_registering_model_via_url settings. "
                    "Otherwise please use OpenSearch pre-trained models."
                )
            if not re.search(self.cluster.ml("trusted_url_regex"), url):
                raise IllegalArgument("URL can't match trusted url regex")
            if raw_config is None and function_name not in ("SPARSE_ENCODING", "SPARSE_TOKENIZE"):
                raise IllegalArgument("model config is null")
            config = model_config.normalize(raw_config, function_name, strict=True)
        else:
            if not version:
                raise IllegalArgument(
                    "model version is null: pre-trained models are registered by name, version and model_format"
                )
            config = None
        group_id, group_created = self._resolve_group(name, opt_str(body, "model_group_id") or None, body, caller)
        reg = _Registration(
            name=name,
            version=version,
            model_format=model_format,
            function_name=function_name,
            group_id=group_id,
            model_version=0,
            group_created=group_created,
            description=opt_str(body, "description"),
            url=url,
            content_hash=opt_str(body, "model_content_hash_value"),
            model_config=config,
            deploy_setting=opt_obj(body, "deploy_setting"),
            is_enabled=opt_bool(body, "is_enabled"),
            rate_limiter=opt_obj(body, "rate_limiter"),
        )
        task_id = new_id()
        with self.docs.db.transaction():
            reg.model_version = self.groups.next_version(group_id)
            self.tasks.save(
                task_id,
                MLTask(
                    task_type="REGISTER_MODEL",
                    function_name=function_name,
                    state="CREATED",
                    worker_node=[self.node_id],
                    create_time=now_ms(),
                    is_async=True,
                ),
            )
            # The model row exists (REGISTERING) from the moment the request is acknowledged, so a
            # search right after _register sees it whatever the task's progress.
            model_id = self._create_registering(reg, function_name, reg.model_config)
            # What a failure must undo, kept until the task ends so a restart can undo it too.
            self._pending_put(
                task_id,
                {
                    "group_id": group_id,
                    "group_created": group_created,
                    "model_version": reg.model_version,
                    "model_id": model_id,
                },
            )
        self.runner.start(
            task_id,
            lambda: self._register_job(task_id, model_id, reg, deploy),
            show_running=False,
            on_failure=lambda _: self._undo_registration(task_id),
        )
        return {"task_id": task_id, "status": "CREATED"}

    def _resolve_group(
        self, name: str, group_id: str | None, body: dict[str, Any], caller: Principal
    ) -> tuple[str, bool]:
        if group_id is not None:
            self.groups.require(group_id)
            return group_id, False
        found = self.groups.find_by_name(name)
        if found is not None:
            return found[0], False
        # ML Commons auto-creates a group named after the model (deleted again if registration fails).
        return self.groups.create(name, None), True

    async def _register_job(self, task_id: str, model_id: str, reg: _Registration, deploy: bool) -> None:
        if reg.url is None:
            entry = catalog.lookup(reg.name, reg.version or "", reg.model_format)
            if entry is None:
                raise IllegalArgument(NOT_PRETRAINED)
            repo = ModelRepository(self.settings.model_repository, max_bytes=self.settings.max_artifact_bytes)
            cfg = await run_in_thread(repo.fetch_config, reg.name, reg.version, reg.model_format)
            function_name = parse_function_name(
                cfg.get("function_name") or cfg.get("model_task_type"), reg.function_name
            )
            expected = cfg.get("model_content_hash_value")
            if not expected:
                raise ArtifactError(
                    f"config.json of {reg.name} {reg.version} has no model_content_hash_value; "
                    "the artifact cannot be verified"
                )
            self.tasks.record(task_id, function_name=function_name)
            config = model_config.normalize(cfg.get("model_config"), function_name, strict=False)
            with self.docs.db.transaction():  # what only the artifact's config.json could tell
                model = self.require(model_id)
                model.algorithm, model.model_config = function_name, config
                self.save(model_id, model)
            self.downloads.mkdir(parents=True, exist_ok=True)
            zip_path = await run_in_thread(
                repo.fetch_zip, reg.name, reg.version, reg.model_format, self.downloads, expected_sha256=expected
            )
            sha256 = expected
        else:
            if not reg.content_hash:
                raise IllegalArgument(
                    "Model content Hash code need to be provided when register via url. "
                    "Please calculate sha 256 Hash code."
                )
            function_name = reg.function_name
            self.downloads.mkdir(parents=True, exist_ok=True)
            zip_path, sha256 = await run_in_thread(
                download,
                reg.url,
                self.downloads,
                expected_sha256=reg.content_hash.lower(),
                max_bytes=self.settings.max_artifact_bytes,
            )
        await self._finish_registration(model_id, zip_path, sha256, function_name, reg.model_format, task_id=task_id)
        if deploy and self.deploy_after_register is not None:
            self.deploy_after_register(model_id)

    def _create_registering(self, reg: _Registration, function_name: str, config: dict[str, Any] | None) -> str:
        model_id = new_id()
        t = now_ms()
        model = MLModel(
            name=reg.name,
            model_group_id=reg.group_id,
            algorithm=function_name,
            model_version=str(reg.model_version),
            description=reg.description,
            model_format=reg.model_format,
            model_state="REGISTERING",
            model_config=config,
            deploy_setting=reg.deploy_setting,
            is_enabled=reg.is_enabled,
            rate_limiter=reg.rate_limiter,
            created_time=t,
            is_hidden=False,
        )
        self.save(model_id, model)
        return model_id

    # A registration in flight, as a meta row ``register_task:<task_id>`` (JSON).
    def _pending_put(self, task_id: str, value: dict[str, Any]) -> None:
        self.docs.db.set_meta(f"register_task:{task_id}", json.dumps(value))

    def _pending_get(self, task_id: str) -> dict[str, Any] | None:
        raw = self.docs.db.get_meta(f"register_task:{task_id}")
        return json.loads(raw) if raw else None

    def _forget_register_task(self, task_id: str) -> None:
        with self.docs.db.transaction() as c:
            c.execute("DELETE FROM meta WHERE key = ?", (f"register_task:{task_id}",))

    def _undo_registration(self, task_id: str) -> None:
        """A failed registration leaves nothing: no model row, no auto-created group, and the
        group's reserved version is released."""
        pending = self._pending_get(task_id)
        if pending is None:
            return
        with self.docs.db.transaction():
            if pending.get("model_id"):
                self.docs.delete(MODEL_INDEX, pending["model_id"])
            if pending.get("group_created"):
                self.groups.delete_if_empty(pending["group_id"])
            else:
                self.groups.release_version(pending["group_id"], pending["model_version"])
            self._forget_register_task(task_id)

    async def _finish_registration(
        self, model_id: str, zip_path: Path, sha256: str, function_name: str, model_format: str, *, task_id: str | None
    ) -> None:
        size = zip_path.stat().st_size
        try:
            await run_in_thread(
                self.store.add,
                zip_path,
                sha256,
                model_format=model_format,
                function_name=function_name,
                max_bytes=self.settings.max_artifact_bytes,
            )
        finally:
            zip_path.unlink(missing_ok=True)
        t = now_ms()
        # The model turns REGISTERED and the task COMPLETED with its model_id in one transaction.
        with self.docs.db.transaction():
            model = self.require(model_id)
            model.model_state = "REGISTERED"
            model.last_registered_time = t
            model.model_content_hash_value = sha256
            model.model_content_size_in_bytes = size
            model.total_chunks = model.total_chunks or max(1, math.ceil(size / CHUNK_BYTES))
            self.save(model_id, model)
            if task_id is not None:
                self.tasks.record(task_id, state="COMPLETED", model_id=model_id)
                self._forget_register_task(task_id)
        log.info("registered model %s (%s %s, %d bytes)", model_id, model.name, model_format, size)

    def recover(self) -> None:
        """After a restart, registrations that were in flight are undone as a failed task's would be."""
        for (key,) in self.docs.db.read("SELECT key FROM meta WHERE key LIKE 'register_task:%'"):
            self._undo_registration(key.split(":", 1)[1])

    # -- register via local file: _register_meta + chunks ----------------------------------------
    def register_meta(self, body: dict[str, Any], caller: Principal) -> dict[str, Any]:
        self.check_local_enabled()
        if not self.cluster.ml("allow_registering_model_via_local_file"):
            raise IllegalArgument(
                "To upload custom model from local file, user needs to enable "
                "allow_registering_model_via_local_file settings."
            )
        name = opt_str(body, "name")
        if not name:
            raise IllegalArgument("model name is null")
        model_format = parse_format(body.get("model_format"))
        function_name = parse_function_name(body.get("function_name"))
        # As ML Commons: any non-empty hash and an optional size are accepted here; the assembled
        # chunks are checked against the hash when the last one arrives ("model content changed").
        content_hash = opt_str(body, "model_content_hash_value")
        if not content_hash:
            raise IllegalArgument("model content hash value is null")
        if is_sha256(content_hash.lower()):
            content_hash = content_hash.lower()
        total_chunks = body.get("total_chunks")
        if isinstance(total_chunks, bool) or not isinstance(total_chunks, int) or not 0 < total_chunks <= 410:
            raise IllegalArgument("total_chunks must be a positive integer (at most 410, i.e. 4 GB of 10 MB chunks)")
        size = body.get("model_content_size_in_bytes")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            raise IllegalArgument("model content size in bytes must be a positive integer")
        if size is not None and size > self.settings.max_artifact_bytes:
            raise IllegalArgument(
                f"Model content size {size} exceeds the limit of {self.settings.max_artifact_bytes} bytes"
            )
        raw_config = opt_obj(body, "model_config")
        if raw_config is None and function_name not in ("SPARSE_ENCODING", "SPARSE_TOKENIZE"):
            raise IllegalArgument("model config is null")
        config = model_config.normalize(raw_config, function_name, strict=True)
        group_id, _ = self._resolve_group(name, opt_str(body, "model_group_id") or None, body, caller)
        version = self.groups.next_version(group_id)
        model_id = new_id()
        model = MLModel(
            name=name,
            model_group_id=group_id,
            algorithm=function_name,
            model_version=str(version),
            description=opt_str(body, "description"),
            model_format=model_format,
            model_state="REGISTERING",
            model_content_size_in_bytes=size,
            model_content_hash_value=content_hash,
            model_config=config,
            deploy_setting=opt_obj(body, "deploy_setting"),
            is_enabled=opt_bool(body, "is_enabled"),
            rate_limiter=opt_obj(body, "rate_limiter"),
            created_time=now_ms(),
            total_chunks=total_chunks,
            is_hidden=False,
        )
        self.save(model_id, model)
        return {"model_id": model_id, "status": "CREATED"}

    async def upload_chunk(self, model_id: str, chunk_number: str, data: bytes, caller: Principal) -> dict[str, Any]:
        model = self.require(model_id)
        try:
            n = int(chunk_number)
        except ValueError:
            raise IllegalArgument(f"chunk number must be an integer, got [{chunk_number}]") from None
        if model.model_state != "REGISTERING" or model.total_chunks is None:
            raise BadRequest(
                f"Model {model_id} is {model.model_state}; chunks can only be uploaded to a model "
                "created with _register_meta that is still REGISTERING"
            )
        if not 0 <= n < model.total_chunks:
            raise IllegalArgument(
                f"chunk number {n} is out of range: the model has {model.total_chunks} chunks "
                f"(0..{model.total_chunks - 1})"
            )
        if not data:
            raise IllegalArgument("Chunk size either 0 or null")
        if len(data) > CHUNK_BYTES:
            raise PayloadTooLarge(f"Chunk size {len(data)} exceeds the limit of {CHUNK_BYTES} bytes")
        folder = self.uploads / model_id
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f"{n}.partial"
        part.write_bytes(data)
        part.replace(folder / str(n))
        if all((folder / str(i)).exists() for i in range(model.total_chunks)):
            await self._assemble(model_id, model, folder)
        return {"status": "Uploaded"}

    async def _assemble(self, model_id: str, model: MLModel, folder: Path) -> None:
        assert model.total_chunks is not None and model.model_content_hash_value is not None
        zip_path = folder / "model.zip"

        def concat() -> None:
            with zip_path.open("wb") as out:
                for i in range(model.total_chunks or 0):
                    with (folder / str(i)).open("rb") as part:
                        shutil.copyfileobj(part, out)

        await run_in_thread(concat)
        digest = await run_in_thread(sha256_file, zip_path)
        if digest != model.model_content_hash_value:
            shutil.rmtree(folder, ignore_errors=True)
            raise BadRequest(
                f"model content changed: the uploaded chunks hash to {digest}, but "
                f"_register_meta declared {model.model_content_hash_value}. Upload all chunks again."
            )
        try:
            await self._finish_registration(
                model_id,
                zip_path,
                digest,
                model.algorithm or "TEXT_EMBEDDING",
                model.model_format or "TORCH_SCRIPT",
                task_id=None,
            )
        except ArtifactError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        shutil.rmtree(folder, ignore_errors=True)

    # -- update / delete ------------------------------------------------------------------------
    def update(self, model_id: str, body: dict[str, Any], caller: Principal) -> dict[str, Any]:
        if body.get("connector") is not None or body.get("connector_id") is not None:
            raise IllegalArgument("Trying to update the connector or connector_id field on a local model.")
        with self.docs.db.transaction():
            model = self.require(model_id)
            if model.model_state == "DEPLOYING":
                raise Conflict("Model is deploying, please wait for it to complete or undeploy it before updating.")
            if (name := opt_str(body, "name")) is not None:
                model.name = name
            if (description := opt_str(body, "description")) is not None:
                model.description = description
            if (enabled := opt_bool(body, "is_enabled")) is not None:
                model.is_enabled = enabled
            if (limiter := opt_obj(body, "rate_limiter")) is not None:
                model.rate_limiter = limiter
            if (setting := opt_obj(body, "deploy_setting")) is not None:
                model.deploy_setting = setting
            if "model_config" in body:
                model.model_config = model_config.normalize(
                    opt_obj(body, "model_config"), model.algorithm or "TEXT_EMBEDDING", strict=True
                )
            if (group_id := opt_str(body, "model_group_id")) is not None and group_id != model.model_group_id:
                self.groups.require(group_id)
                model.model_group_id = group_id
                model.model_version = str(self.groups.next_version(group_id))
            self.save(model_id, model)
            doc = self.docs.get(MODEL_INDEX, model_id)
        assert doc is not None
        return write_response(doc, "updated")

    def delete(self, model_id: str, caller: Principal) -> dict[str, Any]:
        with self.docs.db.transaction():
            model = self.require(model_id)
            if model.model_state in ACTIVE_STATES:
                raise BadRequest(
                    "Model cannot be deleted in deploying or deployed state. Try undeploy model first then delete"
                )
            if model.model_state == "REGISTERING" and model.total_chunks is None:
                raise Conflict("Model is still registering; wait for its register task to finish, then delete it.")
            tombstone = self.docs.delete(MODEL_INDEX, model_id)
        assert tombstone is not None
        sha = model.model_content_hash_value
        stored = sha is not None and is_sha256(sha)  # _register_meta takes any hash
        if stored and not self.docs.ids_where(MODEL_INDEX, "model_content_hash_value", sha, limit=1):
            self.store.remove(sha)
        shutil.rmtree(self.uploads / model_id, ignore_errors=True)
        return write_response(tombstone, "deleted")
