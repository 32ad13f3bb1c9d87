"""``Mapping``: parsing a ``mappings`` body, the resolved per-field views the indexes read,
``PUT _mapping`` merges, and the document entry points (validation and dynamic mapping)."""

from __future__ import annotations

import copy
from typing import Any

from modelnode.errors import IllegalArgument, MapperParsingError

from .dynamic import _Dynamic
from .params import (
    _FIELD_VALIDATORS,
    _check_numeric_params,
    _dynamic_value,
    _no_check,
    _parse_source_option,
    _resolve_knn,
    _unsupported,
)
from .source import filter_source, wildcard_regex
from .types import (
    _OBJECT_PARAMS,
    _PARAMS,
    _UPDATABLE,
    DEFAULT_DATE_FORMAT,
    LEAF_TYPES,
    METADATA_FIELDS,
    NUMERIC_TYPES,
    OBJECT_TYPES,
    _is_object,
    _join,
)
from .validate import _Validator
from .values import _Problem, java_string, parse_bool_param


class Mapping:
    """An index's mapping: a tree of properties plus root options (``dynamic``, ``_source``, ...)."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings: dict[str, Any] = dict(settings or {})
        self._props: dict[str, Any] = {}
        self._root: dict[str, Any] = {}  # dynamic, _source, _meta, date_detection, ...
        self._leaves: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, str] = {}
        self._indexed: list[tuple[str, dict[str, Any]]] = []
        self.version = 0  # bumped on every change, so callers know when to persist

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def parse(cls, body: dict[str, Any] | None, settings: dict[str, Any] | None = None) -> Mapping:
        """The mapping of a new index (``mappings`` of ``PUT /{index}``, or a stored ``to_json()``)."""
        mapping = cls(settings)
        if body:
            root, props = mapping._parse_root(body)
            mapping._root = root
            mapping._set_props(props)
        return mapping

    @property
    def knn_enabled(self) -> bool:
        return bool(self.settings.get("index.knn", False))

    def _wrap(self, problem: _Problem) -> MapperParsingError:
        return MapperParsingError(
            f"Failed to parse mapping [_doc]: {problem.reason}",
            caused_by={"type": problem.cause_type, "reason": problem.reason},
        )

    def _parse_root(self, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            if not isinstance(body, dict):
                raise _Problem(f"Expected map for property [mappings] but got a {type(body).__name__}")
            if set(body) == {"_doc"} and isinstance(body["_doc"], dict):
                body = body["_doc"]
            root: dict[str, Any] = {}
            extra = {}
            for key, value in body.items():
                if key == "properties":
                    continue
                if key == "dynamic":
                    root["dynamic"] = _dynamic_value(value, "_doc")
                elif key == "_source":
                    root["_source"] = _parse_source_option(value)
                elif key in ("_meta", "_routing"):
                    if not isinstance(value, dict):
                        raise _Problem(f"[{key}] must be an object")
                    root[key] = copy.deepcopy(value)
                elif key in ("date_detection", "numeric_detection"):
                    root[key] = parse_bool_param(value, "mapper_parsing_exception")
                elif key == "dynamic_date_formats":
                    root[key] = copy.deepcopy(value)
                elif key == "dynamic_templates":
                    if value:
                        raise _Problem("[dynamic_templates] are not supported by modelnode's search engine")
                    root[key] = []
                else:
                    extra[key] = value
            if extra:
                listed = ", ".join(f"{k} : {java_string(v)}" for k, v in extra.items())
                raise _Problem(f"Root mapping definition has unsupported parameters:  [{listed}]")
            props = self._parse_properties(body.get("properties", {}), "")
            return root, props
        except _Problem as problem:
            raise self._wrap(problem) from None

    def _parse_properties(self, props: Any, prefix: str) -> dict[str, Any]:
        if not isinstance(props, dict):
            raise _Problem(f"Expected map for property [properties] on field [{prefix or '_doc'}] but got a {props!r}")
        out: dict[str, Any] = {}
        for raw_name, node in props.items():
            if not isinstance(raw_name, str) or not raw_name.strip():
                raise _Problem("field name cannot be an empty string")
            parts = raw_name.split(".")
            if any(not p for p in parts):
                raise _Problem(f"Invalid field name [{raw_name}]: field names cannot contain empty path segments")
            if not prefix and parts[0] in METADATA_FIELDS:
                raise _Problem(f"Field [{parts[0]}] is a metadata field and cannot be added inside a document.")
            # "a.b": {...} is shorthand for a: {properties: {b: {...}}}
            target, path = out, prefix
            for part in parts[:-1]:
                path = _join(path, part)
                existing = target.setdefault(part, {"properties": {}})
                if not _is_object(existing):
                    raise _Problem(f"Field [{path}] is defined both as an object and a field")
                target = existing.setdefault("properties", {})
            name = parts[-1]
            full = _join(path, name)
            parsed = self._parse_field(full, node)
            if name in target and _is_object(target[name]) and _is_object(parsed):
                target[name]["properties"].update(parsed.get("properties", {}))
            else:
                target[name] = parsed
        return out

    def _parse_field(self, full: str, node: Any) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise _Problem(f"Expected map for property [fields] on field [{full}] but got a {java_string(node)}")
        ftype = node.get("type")
        if ftype is None:
            if "properties" in node:
                ftype = "object"
            else:
                raise _Problem(f"No type specified for field [{full}]")
        if not isinstance(ftype, str):
            raise _Problem(f"No handler for type [{java_string(ftype)}] declared on field [{full}]")
        if ftype in OBJECT_TYPES:
            return self._parse_object(full, ftype, node)
        if ftype not in LEAF_TYPES:
            raise _Problem(f"No handler for type [{ftype}] declared on field [{full}]")
        unknown = [k for k in node if k not in _PARAMS[ftype]]
        if unknown:
            raise _Problem(f"unknown parameter [{unknown[0]}] on mapper [{full}] of type [{ftype}]")
        if "copy_to" in node:
            raise _Problem("[copy_to] is not supported by modelnode's search engine")
        out = {k: copy.deepcopy(v) for k, v in node.items() if k != "fields"}
        _FIELD_VALIDATORS.get(ftype, _no_check)(self, full, out)
        if ftype in NUMERIC_TYPES:
            _check_numeric_params(full, ftype, out)
        if "fields" in node:
            fields = node["fields"]
            if not isinstance(fields, dict):
                raise _Problem(f"Expected map for property [fields] on field [{full}] but got a {java_string(fields)}")
            subs: dict[str, Any] = {}
            for sub_name, sub in fields.items():
                if isinstance(sub, dict) and sub.get("type", "object") in OBJECT_TYPES:
                    raise _Problem(f"Type [{sub.get('type', 'object')}] cannot be used in multi field")
                if isinstance(sub, dict) and "fields" in sub:
                    raise _Problem(f"Field [{full}.{sub_name}] cannot define multi-fields inside a multi-field")
                subs[sub_name] = self._parse_field(_join(full, sub_name), sub)
            out["fields"] = subs
        return out

    def _parse_object(self, full: str, ftype: str, node: dict[str, Any]) -> dict[str, Any]:
        extra = {k: v for k, v in node.items() if k not in _OBJECT_PARAMS[ftype]}
        if extra:
            raise _unsupported(full, extra)
        out: dict[str, Any] = {}
        if ftype == "nested" or "type" in node:
            out["type"] = ftype
        if "dynamic" in node:
            out["dynamic"] = _dynamic_value(node["dynamic"], full)
        if "enabled" in node:
            out["enabled"] = parse_bool_param(node["enabled"], "mapper_parsing_exception")
            if ftype == "nested" and not out["enabled"]:
                raise _Problem(f"[enabled] parameter can't be set to false for nested field [{full}]")
        for key in ("include_in_parent", "include_in_root"):
            if key in node:
                out[key] = parse_bool_param(node[key], "mapper_parsing_exception")
        out["properties"] = self._parse_properties(node.get("properties", {}), full)
        return out

    # -- derived views -----------------------------------------------------------------------------
    def _set_props(self, props: dict[str, Any]) -> None:
        leaves: dict[str, dict[str, Any]] = {}
        objects: dict[str, str] = {}

        def walk(node_props: dict[str, Any], prefix: str, nested: str | None) -> None:
            for name, node in node_props.items():
                full = _join(prefix, name)
                if _is_object(node):
                    kind = node.get("type", "object")
                    objects[full] = kind
                    if node.get("enabled", True):
                        walk(node.get("properties", {}), full, full if kind == "nested" else nested)
                    continue
                leaves[full] = self._resolve(full, node, full, nested)
                for sub_name, sub in node.get("fields", {}).items():
                    leaves[_join(full, sub_name)] = self._resolve(_join(full, sub_name), sub, full, nested)

        walk(props, "", None)
        limit = int(self.settings.get("index.mapping.total_fields.limit", 1000))
        if len(leaves) + len(objects) > limit:
            raise IllegalArgument(f"Limit of total fields [{limit}] has been exceeded")
        self._props = props
        self._leaves = leaves
        self._objects = objects
        self._indexed = sorted(leaves.items())
        self.version += 1

    def _resolve(self, path: str, node: dict[str, Any], source_path: str, nested: str | None) -> dict[str, Any]:
        """The mapping of one leaf with every default filled in (what the field indexes read)."""
        ftype = node["type"]
        out = {k: v for k, v in node.items() if k != "fields"}
        if source_path != path:
            out["_source_path"] = source_path
        if nested:
            out["_nested_path"] = nested
        out.setdefault("index", True)
        if ftype == "text":
            out.setdefault("analyzer", "standard")
            out.setdefault("search_analyzer", out["analyzer"])
            out.setdefault("search_quote_analyzer", out["search_analyzer"])
            out.setdefault("position_increment_gap", 100)
            out.setdefault("norms", True)
            out.setdefault("index_options", "positions")
            out.setdefault("fielddata", False)
        elif ftype == "keyword":
            out.setdefault("ignore_above", 2147483647)
        elif ftype == "date":
            out.setdefault("format", DEFAULT_DATE_FORMAT)
        elif ftype in NUMERIC_TYPES:
            out.setdefault("coerce", True)
            out.setdefault("ignore_malformed", False)
        elif ftype == "knn_vector":
            out.update(_resolve_knn(node))
        elif ftype in ("rank_features", "sparse_vector"):
            out.setdefault("positive_score_impact", True)
        if ftype in ("date", *NUMERIC_TYPES):
            out.setdefault("ignore_malformed", False)
        for key in ("index", "norms", "fielddata", "coerce", "ignore_malformed", "positive_score_impact"):
            if key in out and isinstance(out[key], str):
                out[key] = out[key] == "true"
        return out

    def indexed_fields(self) -> list[tuple[str, dict[str, Any]]]:
        """Every leaf field as ``(dotted path, resolved mapping)``, multi-fields (``title.keyword``) and
        nested sub-fields (``passage_chunk_embedding.knn``) included. A multi-field's dict has
        ``_source_path`` (where its values are in ``_source``); a field under a ``nested`` object has
        ``_nested_path``. Do not mutate the dicts."""
        return self._indexed

    def field(self, path: str) -> dict[str, Any] | None:
        """The resolved mapping of a leaf field (or multi-field), or None."""
        return self._leaves.get(path)

    def field_type(self, path: str) -> str | None:
        leaf = self._leaves.get(path)
        if leaf is not None:
            return str(leaf["type"])
        return self._objects.get(path)

    def object_type(self, path: str) -> str | None:
        """``object`` / ``nested`` for an object path, else None."""
        return self._objects.get(path)

    def nested_paths(self) -> list[str]:
        return sorted(p for p, kind in self._objects.items() if kind == "nested")

    def leaf_paths(self, pattern: str = "*") -> list[str]:
        """Leaf fields whose path matches a simple ``*`` wildcard pattern (``title*``, ``*.keyword``)."""
        if pattern == "*":
            return [p for p, _ in self._indexed]
        regex = wildcard_regex(pattern)
        return [p for p, _ in self._indexed if regex.fullmatch(p)]

    def source_path(self, path: str) -> str:
        leaf = self._leaves.get(path)
        return str(leaf.get("_source_path", path)) if leaf else path

    @property
    def dynamic(self) -> str:
        return str(self._root.get("dynamic", "true"))

    @property
    def source_enabled(self) -> bool:
        return bool(self._root.get("_source", {}).get("enabled", True))

    @property
    def source_includes(self) -> list[str]:
        return list(self._root.get("_source", {}).get("includes", []))

    @property
    def source_excludes(self) -> list[str]:
        return list(self._root.get("_source", {}).get("excludes", []))

    def stored_source(self, source: dict[str, Any]) -> dict[str, Any] | None:
        """The ``_source`` OpenSearch would store and return for a document (the mapping's
        ``_source`` includes/excludes applied; None when ``_source`` is disabled)."""
        if not self.source_enabled:
            return None
        includes, excludes = self.source_includes, self.source_excludes
        if not includes and not excludes:
            return source
        return filter_source(source, includes, excludes)

    def to_json(self) -> dict[str, Any]:
        """The ``mappings`` object of ``GET /{index}/_mapping`` (properties sorted by name)."""
        out: dict[str, Any] = {}
        for key in ("dynamic", "_meta", "_routing", "_source", "date_detection", "numeric_detection"):
            if key in self._root:
                out[key] = copy.deepcopy(self._root[key])
        if "dynamic_date_formats" in self._root:
            out["dynamic_date_formats"] = copy.deepcopy(self._root["dynamic_date_formats"])
        if self._props:
            out["properties"] = _props_json(self._props)
        return out

    # -- PUT _mapping -------------------------------------------------------------------------------
    def add(self, body: dict[str, Any]) -> bool:
        """Merge a ``PUT /{index}/_mapping`` body. Atomic: on any error nothing changes.
        Returns True when the mapping changed."""
        root, props = self._parse_root(body)
        merged = copy.deepcopy(self._props)
        _merge_props(merged, props, "")
        new_root = copy.deepcopy(self._root)
        for key, value in root.items():
            if key == "_source" and value != new_root.get("_source", value):
                raise IllegalArgument(
                    "Mapper for [_source] conflicts with existing mapper:\n\t"
                    f"Cannot update parameter [_source] from [{java_string(new_root.get('_source'))}] "
                    f"to [{java_string(value)}]"
                )
            new_root[key] = value
        if merged == self._props and new_root == self._root:
            return False
        self._set_props(merged)
        self._root = new_root
        return True

    # -- documents ---------------------------------------------------------------------------------
    def validate_document(self, source: dict[str, Any], doc_id: str | None = None) -> None:
        """Raise ``MapperParsingError`` (or ``StrictDynamicMappingError``) when ``source`` cannot be
        indexed: a value a field cannot take, a strict object, ... Changes nothing."""
        tree = self._plan(source, doc_id)
        if tree is not None:
            Mapping(self.settings)._set_props(tree)  # the total-fields limit, on a throwaway mapping

    def merge_dynamic(self, source: dict[str, Any]) -> bool:
        """Add the mappings OpenSearch's dynamic mapping creates for ``source``'s new fields.
        Returns True when the mapping changed. Validate the document first (``prepare_document``)."""
        tree = self._dynamic_tree(source)
        if tree is None:
            return False
        self._set_props(tree)
        return True

    def prepare_document(self, source: dict[str, Any], doc_id: str | None = None) -> bool:
        """Validate ``source`` and apply its dynamic mappings, atomically (nothing changes when the
        document is refused). Returns True when the mapping changed (persist it)."""
        tree = self._plan(source, doc_id)
        if tree is None:
            return False
        self._set_props(tree)
        return True

    def _plan(self, source: Any, doc_id: str | None) -> dict[str, Any] | None:
        if not isinstance(source, dict):
            raise MapperParsingError("failed to parse, document is empty")
        for key in source:
            if key in METADATA_FIELDS:
                raise MapperParsingError(
                    f"Field [{key}] is a metadata field and cannot be added inside a document. "
                    "Use the index API request parameters."
                )
        tree = self._dynamic_tree(source)
        _Validator(self, doc_id).walk(source, tree if tree is not None else self._props, "")
        return tree  # the total-fields limit: ``_set_props`` checks it before changing anything

    def _dynamic_tree(self, source: dict[str, Any]) -> dict[str, Any] | None:
        """The properties tree with ``source``'s dynamic additions, or None when nothing is new."""
        dyn = _Dynamic(self)
        if not dyn.walk(source, self._props, "", self.dynamic, mutate=False):
            return None
        tree = copy.deepcopy(self._props)
        dyn.walk(source, tree, "", self.dynamic, mutate=True)
        return tree


def search_analyzer(field: dict[str, Any] | None, *, quote: bool = False) -> str:
    """The analyzer a query analyzes its text with for a field (``field``: the resolved mapping
    ``Mapping.field`` gives): a text field's ``search_analyzer`` (``search_quote_analyzer`` for
    phrases; ``_resolve`` fills both in), else ``standard``."""
    if not field:
        return "standard"
    name = field.get("search_quote_analyzer" if quote else "search_analyzer")
    return str(name or field.get("analyzer") or "standard")


def _props_json(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(props):
        node = props[name]
        if _is_object(node):
            obj: dict[str, Any] = {}
            kind = node.get("type", "object")
            sub = node.get("properties", {})
            if kind == "nested" or not sub:
                obj["type"] = kind
            for key in ("dynamic", "enabled", "include_in_parent", "include_in_root"):
                if key in node:
                    obj[key] = node[key]
            if sub:
                obj["properties"] = _props_json(sub)
            out[name] = obj
        else:
            leaf = {k: copy.deepcopy(v) for k, v in node.items() if k != "fields"}
            if node.get("fields"):
                leaf["fields"] = _props_json(node["fields"])
            out[name] = leaf
    return out


def _resolved_params(node: dict[str, Any]) -> dict[str, Any]:
    """A leaf's non-updatable parameters with defaults, for PUT _mapping conflict checks."""
    defaults: dict[str, Any] = {"index": True}
    ftype = node["type"]
    if ftype == "text":
        defaults.update(analyzer="standard", norms=True, index_options="positions", position_increment_gap=100)
    if ftype == "knn_vector":
        return {"type": ftype, **_resolve_knn(node)}
    if ftype == "date":
        defaults["format"] = DEFAULT_DATE_FORMAT
    out = {**defaults, **{k: v for k, v in node.items() if k not in _UPDATABLE}}
    return out


def _merge_props(target: dict[str, Any], incoming: dict[str, Any], prefix: str) -> None:
    for name, new in incoming.items():
        full = _join(prefix, name)
        old = target.get(name)
        if old is None:
            target[name] = new
            continue
        old_obj, new_obj = _is_object(old), _is_object(new)
        if old_obj and not new_obj:
            raise IllegalArgument(f"can't merge a non object mapping [{full}] with an object mapping")
        if new_obj and not old_obj:
            raise IllegalArgument(f"mapper [{full}] cannot be changed from type [{old['type']}] to [ObjectMapper]")
        if old_obj:
            old_kind, new_kind = old.get("type", "object"), new.get("type", "object")
            if old_kind != new_kind:
                which = "nested to non-nested" if old_kind == "nested" else "non-nested to nested"
                raise IllegalArgument(f"object mapping [{full}] can't be changed from {which}")
            if "enabled" in new and new["enabled"] != old.get("enabled", True):
                raise IllegalArgument(f"the [enabled] parameter can't be updated for the object mapping [{full}]")
            if "dynamic" in new:
                old["dynamic"] = new["dynamic"]
            _merge_props(old.setdefault("properties", {}), new.get("properties", {}), full)
            continue
        if old["type"] != new["type"]:
            raise IllegalArgument(f"mapper [{full}] cannot be changed from type [{old['type']}] to [{new['type']}]")
        old_params, new_params = _resolved_params(old), _resolved_params(new)
        conflicts = [
            f"Cannot update parameter [{key}] from [{java_string(old_params.get(key, 'default'))}] "
            f"to [{java_string(new_params.get(key, 'default'))}]"
            for key in sorted(set(old_params) | set(new_params))
            if old_params.get(key) != new_params.get(key)
        ]
        if conflicts:
            raise IllegalArgument(f"Mapper for [{full}] conflicts with existing mapper:\n\t" + "\n\t".join(conflicts))
        for key, value in new.items():
            if key in _UPDATABLE and key != "fields":
                old[key] = value
        if "fields" in new:
            _merge_props(old.setdefault("fields", {}), new["fields"], full)
