"""Per-type checks of mapping parameters (``analyzer``, ``format``, ``knn_vector`` methods, ...) run
while a mapping is parsed, with OpenSearch's error wording, and the root options' parsers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelnode.search.analysis import ANALYZERS

from .types import (
    _INVALID_FILENAME_CHARS,
    _OPENSEARCH_ANALYZERS,
    KNN_DEFAULT_PARAMETERS,
    KNN_ENGINES,
    KNN_MAX_DIMENSION,
    KNN_METHODS,
    SPACE_TYPES,
)
from .values import DateFormat, _Problem, java_string, parse_bool_param

if TYPE_CHECKING:  # annotations only: parse.py imports this module
    from .parse import Mapping


def _unsupported(name: str, extra: dict[str, Any]) -> _Problem:
    listed = ", ".join(f"{k} : {java_string(v)}" for k, v in extra.items())
    return _Problem(f"Mapping definition for [{name}] has unsupported parameters:  [{listed}]")


def _int_param(value: Any, param: str, field: str) -> int:
    if isinstance(value, bool):
        raise _Problem(f"Failed to parse value [{java_string(value)}] for [{param}] of field [{field}]")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Problem(f"Failed to parse value [{java_string(value)}] for [{param}] of field [{field}]") from None


def _no_check(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    return None


def _dynamic_value(value: Any, name: str) -> str:
    if value in (True, "true"):
        return "true"
    if value in (False, "false"):
        return "false"
    if value == "strict":
        return "strict"
    raise _Problem(f"Could not convert [{name}.dynamic] to boolean: [{java_string(value)}] (use true, false or strict)")


def _parse_source_option(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem("[_source] must be an object")
    out: dict[str, Any] = {}
    extra = {}
    for key, v in value.items():
        if key == "enabled":
            out["enabled"] = parse_bool_param(v, "mapper_parsing_exception")
        elif key in ("includes", "excludes"):
            items = [v] if isinstance(v, str) else v
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise _Problem(f"[_source.{key}] must be a list of strings")
            out[key] = list(items)
        else:
            extra[key] = v
    if extra:
        raise _unsupported("_source", extra)
    return out


def _check_text(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    for key in ("analyzer", "search_analyzer", "search_quote_analyzer"):
        if key in node:
            _check_analyzer(node[key], full)
    if "search_analyzer" in node and "analyzer" not in node:
        pass  # allowed: the index analyzer stays standard
    for key in ("index", "norms", "fielddata", "store", "index_phrases", "eager_global_ordinals"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")
    if "index_options" in node and node["index_options"] not in ("docs", "freqs", "positions", "offsets"):
        raise _Problem(
            f"Unknown value [{java_string(node['index_options'])}] for field [index_options] - accepted values are "
            "[positions, docs, freqs, offsets]"
        )
    if "position_increment_gap" in node:
        gap = _int_param(node["position_increment_gap"], "position_increment_gap", full)
        if gap < 0:
            raise _Problem("[position_increment_gap] cannot be negative")
        node["position_increment_gap"] = gap
    _check_similarity(node, full)


def _check_analyzer(name: Any, full: str) -> None:
    if isinstance(name, str) and name in ANALYZERS:
        return
    if isinstance(name, str) and name in _OPENSEARCH_ANALYZERS:
        supported = ", ".join(sorted(k for k in ANALYZERS if k != "default"))
        raise _Problem(
            f"analyzer [{name}] on field [{full}] is not supported by modelnode's search engine "
            f"(supported: {supported})"
        )
    raise _Problem(f"analyzer [{java_string(name)}] has not been configured in mappings")


def _check_similarity(node: dict[str, Any], full: str) -> None:
    sim = node.get("similarity")
    if sim is None or sim in ("BM25", "default"):
        return
    if sim == "boolean":
        raise _Problem(f"similarity [boolean] on field [{full}] is not supported by modelnode's search engine")
    raise _Problem(f"Unknown Similarity type [{java_string(sim)}] for field [{full}]")


def _check_keyword(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "ignore_above" in node:
        value = _int_param(node["ignore_above"], "ignore_above", full)
        if value < 0:
            raise _Problem(f"[ignore_above] must be positive, got [{value}]")
        node["ignore_above"] = value
    normalizer = node.get("normalizer")
    if normalizer is not None and normalizer != "lowercase":
        raise _Problem(f"normalizer [{java_string(normalizer)}] not found for field [{full}]")
    for key in ("index", "store", "doc_values", "norms", "split_queries_on_whitespace", "eager_global_ordinals"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")
    _check_similarity(node, full)


def _check_boolean(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    for key in ("index", "store", "doc_values"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")


def _check_date(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "format" in node:
        if not isinstance(node["format"], str) or not node["format"].strip():
            raise _Problem(f"Invalid format: [{java_string(node['format'])}]")
        DateFormat(node["format"])
    for key in ("index", "store", "doc_values", "ignore_malformed"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")


def _check_numeric_params(full: str, ftype: str, node: dict[str, Any]) -> None:
    for key in ("index", "store", "doc_values", "coerce", "ignore_malformed"):
        if key in node:
            node[key] = parse_bool_param(node[key], "mapper_parsing_exception")
    if ftype == "scaled_float":
        if "scaling_factor" not in node:
            raise _Problem(f"Field [{full}] misses required parameter [scaling_factor]", "illegal_argument_exception")
        sf = node["scaling_factor"]
        if isinstance(sf, bool) or not isinstance(sf, int | float) or not math.isfinite(sf) or sf <= 0:
            raise _Problem(f"[scaling_factor] must be a positive number, got [{java_string(sf)}]")


def _check_rank_features(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "positive_score_impact" in node:
        node["positive_score_impact"] = parse_bool_param(node["positive_score_impact"], "mapper_parsing_exception")


def _check_sparse_vector(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    if "method" in node and not isinstance(node["method"], dict):
        raise _Problem(f"[method] of sparse_vector field [{full}] must be an object")


def _check_knn(mapping: Mapping, full: str, node: dict[str, Any]) -> None:
    """The k-NN plugin's checks on a knn_vector mapping (KNNVectorFieldMapper.TypeParser)."""
    bad = next((c for c in full if c in _INVALID_FILENAME_CHARS), None)
    if bad is not None:
        listed = ", ".join(f"'{c}'" for c in _INVALID_FILENAME_CHARS)
        raise _Problem(
            f"Vector field name must not include invalid characters of [{listed}]. "
            f"Provided field name=[{full}] had a disallowed character [{bad}]",
            "illegal_argument_exception",
        )
    if "model_id" in node:
        if "method" in node:
            raise _Problem(
                f"Method and model can not be both specified in the mapping: {full}", "illegal_argument_exception"
            )
        raise _Problem(
            f"[model_id] on field [{full}]: trained k-NN models are not supported by modelnode; "
            "use [method] (hnsw or flat) instead"
        )
    if "dimension" not in node or node["dimension"] is None:
        raise _Problem(f"Dimension value missing for vector: {full}", "illegal_argument_exception")
    dim_raw = node["dimension"]
    try:
        if isinstance(dim_raw, bool):
            raise ValueError
        dimension = int(dim_raw) if not isinstance(dim_raw, str) else int(dim_raw.strip())
    except (TypeError, ValueError):
        raise _Problem(
            f"Unable to parse [dimension] from provided value [{java_string(dim_raw)}] for vector [{full}]",
            "illegal_argument_exception",
        ) from None
    if dimension <= 0:
        raise _Problem(f"Dimension value must be greater than 0 for vector: {full}", "illegal_argument_exception")
    if dimension > KNN_MAX_DIMENSION:
        raise _Problem(
            f"Dimension value cannot be greater than {KNN_MAX_DIMENSION} for vector: {full}",
            "illegal_argument_exception",
        )
    node["dimension"] = dimension
    data_type = node.get("data_type", "float")
    if not isinstance(data_type, str) or data_type.lower() not in ("float", "byte", "binary"):
        raise _Problem(
            "Invalid value provided for [data_type] field. Supported values are [float,byte,binary]",
            "illegal_argument_exception",
        )
    if data_type.lower() != "float":
        raise _Problem(
            f"[data_type] [{data_type}] on field [{full}] is not supported by modelnode's search engine; "
            "only [float] vectors are"
        )
    top_space = node.get("space_type")
    if top_space is not None:
        _check_space(top_space)
    choices = (("mode", ("in_memory", "on_disk")), ("compression_level", ("1x", "2x", "4x", "8x", "16x", "32x")))
    for key, allowed in choices:
        if key in node and node[key] is not None and node[key] not in allowed:
            raise _Problem(
                f"Unknown value [{java_string(node[key])}] for field [{key}] - accepted values are "
                f"[{', '.join(allowed)}]"
            )
    mode_set = node.get("mode") is not None or node.get("compression_level") is not None
    if not mapping.knn_enabled:
        if "method" in node:
            raise _Problem(
                "Cannot set modelId or method parameters when index.knn setting is false",
                "illegal_argument_exception",
            )
        if mode_set:
            raise _Problem(
                f"Compression and mode can not be specified in a flat mapping configuration for field: {full}"
            )
        return
    if "method" not in node:
        return
    if mode_set:
        raise _Problem(
            f'Compression and mode can not be specified in a "method" mapping configuration for field: {full}'
        )
    method = node["method"]
    if not isinstance(method, dict):
        raise _Problem('Unable to parse mapping into KNNMethodContext. Object not of type "Map"')
    for key, value in method.items():
        if key == "engine":
            if not isinstance(value, str):
                raise _Problem('"engine" must be a string')
            if value.lower() not in KNN_ENGINES:
                raise _Problem(f"Invalid engine type: {value}", "illegal_argument_exception")
        elif key == "space_type":
            if not isinstance(value, str):
                raise _Problem('"space_type" must be a string')
            _check_space(value)
        elif key == "name":
            if not isinstance(value, str):
                raise _Problem("name has to be a string")
        elif key == "parameters":
            if value is not None and not isinstance(value, dict):
                raise _Problem("Unable to parse parameters for main method component")
        else:
            raise _Problem(f"Invalid parameter: {key}")
    name = method.get("name")
    if not name:
        raise _Problem("name needs to be set")
    if name not in KNN_METHODS:
        raise _Problem(
            f"Validation Failed: 1: Invalid method name: {name}. Valid values are: [{', '.join(KNN_METHODS)}];",
            "validation_exception",
        )
    method_space = method.get("space_type")
    if top_space is not None and method_space is not None and top_space != method_space:
        raise _Problem(
            'Space type in "method" and top level space type should be same or one of them should be defined'
        )
    for pname, pvalue in (method.get("parameters") or {}).items():
        if pname not in KNN_METHODS[name]:
            raise _Problem(
                f"Validation Failed: 1: Invalid parameter for method [{name}]: {pname};", "validation_exception"
            )
        if pname == "encoder":
            if not isinstance(pvalue, dict):
                raise _Problem("Validation Failed: 1: [encoder] must be an object;", "validation_exception")
            continue
        if isinstance(pvalue, bool) or not isinstance(pvalue, int) or pvalue <= 0:
            raise _Problem(
                f"Validation Failed: 1: parameter [{pname}] of method [{name}] must be a positive integer, "
                f"got [{java_string(pvalue)}];",
                "validation_exception",
            )


def _check_space(value: Any) -> None:
    if not isinstance(value, str) or value.lower() not in SPACE_TYPES:
        raise _Problem(
            f"Unable to find space: {java_string(value)} . Valid values are: [{', '.join(SPACE_TYPES)}]",
            "illegal_argument_exception",
        )


def _resolve_knn(node: dict[str, Any]) -> dict[str, Any]:
    method = node.get("method") or {}
    space = str(method.get("space_type") or node.get("space_type") or "l2").lower()
    name = method.get("name") or "hnsw"
    params = {**KNN_DEFAULT_PARAMETERS.get(name, {}), **(method.get("parameters") or {})}
    return {
        "dimension": int(node["dimension"]),
        "data_type": "float",
        "space_type": space,
        "method": {
            "name": name,
            "engine": str(method.get("engine") or "faiss").lower(),
            "space_type": space,
            "parameters": params,
        },
    }


_FIELD_VALIDATORS: dict[str, Callable[[Mapping, str, dict[str, Any]], None]] = {
    "text": _check_text,
    "keyword": _check_keyword,
    "boolean": _check_boolean,
    "date": _check_date,
    "knn_vector": _check_knn,
    "rank_features": _check_rank_features,
    "sparse_vector": _check_sparse_vector,
}
