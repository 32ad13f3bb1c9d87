"""Model groups: register / get / update / search / delete (ML Commons' MLModelGroupManager)."""

from __future__ import annotations

from typing import Any

from modelnode.errors import Conflict, IllegalArgument, NotFound
from modelnode.search import dsl
from modelnode.security import Principal
from modelnode.services.common import new_id, now_ms, opt_bool, opt_str, opt_str_list, write_response
from modelnode.storage import GROUP_INDEX, MODEL_INDEX, DocStore, MLModelGroup

ACCESS_FIELDS = ("access_mode", "backend_roles", "add_all_backend_roles")
TEXT_FIELDS = ("name", "description")


class ModelGroups:
    def __init__(self, docs: DocStore) -> None:
        self.docs = docs

    # -- reads ----------------------------------------------------------------------------------
    def find(self, group_id: str) -> MLModelGroup | None:
        doc = self.docs.get(GROUP_INDEX, group_id)
        return MLModelGroup.from_source(doc.source) if doc else None

    def require(self, group_id: str) -> MLModelGroup:
        group = self.find(group_id)
        if group is None:
            raise NotFound(f"Failed to find model group with the provided model group id: {group_id}")
        return group

    def find_by_name(self, name: str) -> tuple[str, MLModelGroup] | None:
        ids = self.docs.ids_where(GROUP_INDEX, "name", name, limit=1)
        group = self.find(ids[0]) if ids else None
        return (ids[0], group) if group is not None else None

    def get(self, group_id: str, caller: Principal) -> dict[str, Any]:
        return self.require(group_id).to_source()

    def search(self, body: dict[str, Any] | None, caller: Principal) -> dict[str, Any]:
        hits = [dsl.Hit(d.id, d.source, d.seq_no, d.version) for d in self.docs.all(GROUP_INDEX)]
        return dsl.search(GROUP_INDEX, hits, body, text_fields=TEXT_FIELDS)

    # -- writes ---------------------------------------------------------------------------------
    def _check_access_fields(self, body: dict[str, Any], caller: Principal) -> None:
        if any(body.get(k) is not None for k in ACCESS_FIELDS) and not caller.security_enabled:
            raise IllegalArgument(
                "You cannot specify model access control parameters because the Security plugin or model "
                "access control is disabled on your cluster."
            )

    def _check_name_free(self, name: str, except_id: str | None = None) -> None:
        found = self.find_by_name(name)
        if found and found[0] != except_id:
            raise IllegalArgument(f"The name you provided is already being used by a model group with ID: {found[0]}.")

    def register(self, body: dict[str, Any], caller: Principal) -> dict[str, Any]:
        name = opt_str(body, "name")
        if not name or not name.strip():
            raise IllegalArgument("model group name can't be null or empty")
        self._check_access_fields(body, caller)
        opt_str_list(body, "backend_roles")
        opt_bool(body, "add_all_backend_roles")
        group_id = self.create(name.strip(), opt_str(body, "description"))
        return {"model_group_id": group_id, "status": "CREATED"}

    def create(self, name: str, description: str | None = None) -> str:
        with self.docs.db.transaction():
            self._check_name_free(name)
            group_id = new_id()
            t = now_ms()
            group = MLModelGroup(
                name=name,
                latest_version=0,
                description=description,
                access="public",
                created_time=t,
                last_updated_time=t,
            )
            self.docs.put(GROUP_INDEX, group_id, group.to_source())
        return group_id

    def update(self, group_id: str, body: dict[str, Any], caller: Principal) -> dict[str, Any]:
        self._check_access_fields(body, caller)
        name, description = opt_str(body, "name"), opt_str(body, "description")
        with self.docs.db.transaction():
            group = self.require(group_id)
            if name is not None:
                if not name.strip():
                    raise IllegalArgument("model group name can't be empty")
                self._check_name_free(name.strip(), except_id=group_id)
                group.name = name.strip()
            if description is not None:
                group.description = description
            group.last_updated_time = now_ms()
            self.docs.put(GROUP_INDEX, group_id, group.to_source())
        return {"status": "Updated"}

    def delete(self, group_id: str, caller: Principal) -> dict[str, Any]:
        with self.docs.db.transaction():
            self.require(group_id)
            if self.docs.ids_where(MODEL_INDEX, "model_group_id", group_id, limit=1):
                raise Conflict("Cannot delete the model group when it has associated model versions")
            tombstone = self.docs.delete(GROUP_INDEX, group_id)
        assert tombstone is not None
        return write_response(tombstone, "deleted")

    def next_version(self, group_id: str) -> int:
        """Reserve the next model version of a group (ML Commons increments latest_version)."""
        with self.docs.db.transaction():
            group = self.require(group_id)
            group.latest_version += 1
            group.last_updated_time = now_ms()
            self.docs.put(GROUP_INDEX, group_id, group.to_source())
            return group.latest_version

    def release_version(self, group_id: str, version: int) -> None:
        """Undo ``next_version`` after a failed registration, if nothing registered since."""
        with self.docs.db.transaction():
            group = self.find(group_id)
            if group is not None and group.latest_version == version:
                group.latest_version -= 1
                self.docs.put(GROUP_INDEX, group_id, group.to_source())

    def delete_if_empty(self, group_id: str) -> None:
        with self.docs.db.transaction():
            if not self.docs.ids_where(MODEL_INDEX, "model_group_id", group_id, limit=1):
                self.docs.delete(GROUP_INDEX, group_id)
