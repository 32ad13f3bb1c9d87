"""Document validation: every value of a document checked against its field's type, refused with
OpenSearch's ``mapper_parsing_exception`` wording."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from modelnode.errors import MapperParsingError

from .dynamic import _iter_objects
from .types import NUMERIC_TYPES, _is_object, _join
from .values import DateFormat, ValueProblem, _token_name, java_string, keyword_value, parse_boolean, parse_number

if TYPE_CHECKING:  # annotations only: parse.py imports this module
    from .parse import Mapping


class _Validator:
    """Checks every value of a document against the (tentative) mapping tree."""

    def __init__(self, mapping: Mapping, doc_id: str | None) -> None:
        self.mapping = mapping
        self.doc_id = "null" if doc_id is None else doc_id
        self._date_formats: dict[str, DateFormat] = {}

    def walk(self, obj: dict[str, Any], props: dict[str, Any], path: str) -> None:
        for key, value in obj.items():
            parts = key.split(".")
            cur_props, cur_path = props, path
            for part in parts[:-1]:
                node = cur_props.get(part)
                if node is None or not _is_object(node) or node.get("enabled", True) is False:
                    cur_props = None  # type: ignore[assignment]
                    break
                cur_props, cur_path = node.get("properties", {}), _join(cur_path, part)
            if cur_props is None:
                continue
            name = parts[-1]
            node = cur_props.get(name)
            if node is None:
                continue  # dynamic: false (or nothing to map: null / [])
            full = _join(cur_path, name)
            if _is_object(node):
                if node.get("enabled", True) is False:
                    continue
                for item in _iter_objects(value, full, name):
                    self.walk(item, node.get("properties", {}), full)
                continue
            self.leaf(full, node, value)
            for sub_name, sub in node.get("fields", {}).items():
                self.leaf(_join(full, sub_name), sub, value)

    def fail(self, full: str, ftype: str, value: Any, problem: ValueProblem) -> MapperParsingError:
        preview = java_string(value)
        return MapperParsingError(
            f"failed to parse field [{full}] of type [{ftype}] in document with id '{self.doc_id}'. "
            f"Preview of field's value: '{preview}'",
            caused_by={"type": problem.cause_type, "reason": problem.reason},
        )

    def leaf(self, full: str, node: dict[str, Any], value: Any) -> None:
        ftype = node["type"]
        try:
            if ftype == "knn_vector":
                self._vector(node, value)
                return
            if ftype in ("rank_features", "sparse_vector"):
                self._features(full, value)
                return
        except ValueProblem as problem:
            raise self.fail(full, ftype, value, problem) from None
        for item in _flatten(value):
            try:
                self._scalar(full, node, ftype, item)
            except ValueProblem as problem:
                if ftype in NUMERIC_TYPES | {"date"} and _truthy(node.get("ignore_malformed")):
                    continue
                raise self.fail(full, ftype, item, problem) from None

    def _scalar(self, full: str, node: dict[str, Any], ftype: str, item: Any) -> None:
        if isinstance(item, dict):
            raise ValueProblem(f"Can't get text on a START_OBJECT at {full}", "illegal_state_exception")
        if ftype in ("text", "keyword"):
            keyword_value(item)
        elif ftype == "boolean":
            parse_boolean(item)
        elif ftype == "date":
            fmt = self._date_formats.get(full)
            if fmt is None:
                fmt = self._date_formats[full] = DateFormat(node.get("format"))
            fmt.parse(item)
        elif ftype in NUMERIC_TYPES:
            coerce = _truthy(node.get("coerce", True))
            parse_number(ftype, item, coerce=coerce, scaling_factor=node.get("scaling_factor"))

    def _vector(self, node: dict[str, Any], value: Any) -> None:
        if value is None:
            return
        items = value if isinstance(value, list) else [value]
        dimension = int(node["dimension"])
        space = str(node.get("space_type") or (node.get("method") or {}).get("space_type") or "l2").lower()
        # Fast path for the common case (a list of JSON numbers): one numpy pass instead of a
        # Python loop per element, which dominated bulk indexing of embeddings.
        if all(type(item) is float or type(item) is int for item in items):
            arr = np.asarray(items, dtype=np.float32)  # (dimension,)
            if not np.isfinite(arr).all():
                bad = "NaN" if np.isnan(arr).any() else "infinity"
                raise ValueProblem(f"KNN vector values cannot be {bad}")
            if len(arr) != dimension:
                raise ValueProblem(f"Vector dimension mismatch. Expected: {dimension}, Given: {len(arr)}")
            if space == "cosinesimil" and not arr.any():
                raise ValueProblem(f"zero vector is not supported when space type is [{space}]")
            return
        floats: list[float] = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | float | str):
                raise ValueProblem(
                    f"Current token ({_token_name(item)}) not numeric, can not use numeric value accessors",
                    "illegal_argument_exception",
                )
            try:
                f = float(np.float32(float(item)))
            except (ValueError, OverflowError):
                raise ValueProblem(f'For input string: "{item}"', "number_format_exception") from None
            if math.isnan(f):
                raise ValueProblem("KNN vector values cannot be NaN")
            if math.isinf(f):
                raise ValueProblem("KNN vector values cannot be infinity")
            floats.append(f)
        if len(floats) != dimension:
            raise ValueProblem(f"Vector dimension mismatch. Expected: {dimension}, Given: {len(floats)}")
        if space == "cosinesimil" and not any(floats):
            raise ValueProblem(f"zero vector is not supported when space type is [{space}]")

    def _features(self, full: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise ValueProblem(
                f"[rank_features] fields must be json objects, expected a START_OBJECT but got: {_token_name(value)}"
            )
        for feature, weight in value.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float | str):
                raise ValueProblem(
                    "[rank_features] fields take hashes that map a feature to a strictly positive float, but got "
                    f"unexpected token {_token_name(weight)}"
                )
            try:
                f = float(np.float32(float(weight)))
            except (ValueError, OverflowError):
                raise ValueProblem(f'For input string: "{weight}"', "number_format_exception") from None
            if not math.isfinite(f):
                raise ValueProblem(
                    f"featureValue must be finite, got: {java_string(f)} for feature {feature} on field {full}"
                )
            if f < 1.17549435e-38:
                raise ValueProblem(
                    f"featureValue must be a positive normal float, got: {java_string(weight)} for feature {feature} "
                    f"on field {full} which is less than the minimum positive normal float: 1.17549435E-38"
                )


def _truthy(value: Any) -> bool:
    return value is True or value == "true"


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        yield value
