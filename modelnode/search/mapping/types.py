"""Field-type tables: which types exist, the parameters each accepts, k-NN options and defaults,
plus the two helpers every tree walk over the properties uses (``_join``, ``_is_object``)."""

from __future__ import annotations

from typing import Any

# -- type tables ------------------------------------------------------------------------------------

INTEGER_TYPES: dict[str, tuple[int, int, str]] = {
    "long": (-(2**63), 2**63 - 1, "a long"),
    "integer": (-(2**31), 2**31 - 1, "an integer"),
    "short": (-(2**15), 2**15 - 1, "a short"),
    "byte": (-(2**7), 2**7 - 1, "a byte"),
    "unsigned_long": (0, 2**64 - 1, "an unsigned long"),
}
FLOAT_TYPES = frozenset({"double", "float", "half_float", "scaled_float"})
NUMERIC_TYPES = frozenset(INTEGER_TYPES) | FLOAT_TYPES
OBJECT_TYPES = frozenset({"object", "nested"})
LEAF_TYPES = frozenset({"text", "keyword", "boolean", "date", "knn_vector", "rank_features", "sparse_vector"}) | (
    NUMERIC_TYPES
)

METADATA_FIELDS = frozenset(
    {"_id", "_index", "_source", "_routing", "_seq_no", "_primary_term", "_version", "_field_names", "_ignored"}
)
# Strings.INVALID_FILENAME_CHARS: a knn_vector field name becomes part of a file name in OpenSearch.
_INVALID_FILENAME_CHARS = ["\\", "/", "*", "?", '"', "<", ">", "|", " ", ","]

_COMMON = frozenset({"type", "meta", "boost", "copy_to", "fields"})
_PARAMS: dict[str, frozenset[str]] = {
    "text": _COMMON
    | {
        "analyzer",
        "search_analyzer",
        "search_quote_analyzer",
        "index",
        "store",
        "norms",
        "similarity",
        "index_options",
        "position_increment_gap",
        "fielddata",
        "fielddata_frequency_filter",
        "eager_global_ordinals",
        "term_vector",
        "index_prefixes",
        "index_phrases",
    },
    "keyword": _COMMON
    | {
        "ignore_above",
        "index",
        "store",
        "doc_values",
        "null_value",
        "normalizer",
        "eager_global_ordinals",
        "similarity",
        "norms",
        "split_queries_on_whitespace",
        "index_options",
    },
    "boolean": _COMMON | {"index", "store", "doc_values", "null_value"},
    "date": _COMMON
    | {"format", "locale", "index", "store", "doc_values", "null_value", "ignore_malformed", "print_format"},
    "knn_vector": frozenset(
        {"type", "dimension", "data_type", "space_type", "method", "mode", "compression_level", "model_id"}
        | {"doc_values", "store", "meta"}
    ),
    "rank_features": frozenset({"type", "positive_score_impact", "meta"}),
    "sparse_vector": frozenset({"type", "method", "meta"}),
}
for _t in NUMERIC_TYPES:
    _PARAMS[_t] = _COMMON | {"index", "store", "doc_values", "null_value", "coerce", "ignore_malformed"}
_PARAMS["scaled_float"] = _PARAMS["scaled_float"] | {"scaling_factor"}
_OBJECT_PARAMS = {"object": frozenset({"type", "properties", "dynamic", "enabled"})}
_OBJECT_PARAMS["nested"] = _OBJECT_PARAMS["object"] | {"include_in_parent", "include_in_root"}

# Parameters PUT _mapping may change on an existing field (everything else must stay as it is).
_UPDATABLE = frozenset(
    {"ignore_above", "meta", "search_analyzer", "search_quote_analyzer", "boost", "fields", "eager_global_ordinals"}
    | {"fielddata", "fielddata_frequency_filter", "ignore_malformed", "coerce", "null_value"}
)

SPACE_TYPES = ("l2", "cosinesimil", "innerproduct", "l1", "linf")
KNN_ENGINES = ("faiss", "lucene", "nmslib")
KNN_METHODS: dict[str, frozenset[str]] = {
    "hnsw": frozenset({"m", "ef_construction", "ef_search", "encoder"}),
    "ivf": frozenset({"nlist", "nprobes", "encoder"}),
    "flat": frozenset({"encoder"}),
}
KNN_MAX_DIMENSION = 16000
KNN_DEFAULT_PARAMETERS = {"hnsw": {"m": 16, "ef_construction": 100}, "ivf": {"nlist": 4, "nprobes": 1}, "flat": {}}

# OpenSearch's built-in analyzers we do not implement (a clearer error than "not configured").
_OPENSEARCH_ANALYZERS = frozenset(
    {
        "stop",
        "pattern",
        "fingerprint",
        "arabic",
        "armenian",
        "basque",
        "bengali",
        "brazilian",
        "bulgarian",
        "catalan",
        "cjk",
        "czech",
        "danish",
        "dutch",
        "english",
        "estonian",
        "finnish",
        "french",
        "galician",
        "german",
        "greek",
        "hindi",
        "hungarian",
        "indonesian",
        "irish",
        "italian",
        "latvian",
        "lithuanian",
        "norwegian",
        "persian",
        "portuguese",
        "romanian",
        "russian",
        "sorani",
        "spanish",
        "swedish",
        "turkish",
        "thai",
    }
)

DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"
_DYNAMIC_SLASH_DATE_FORMAT = "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _is_object(node: dict[str, Any]) -> bool:
    return node.get("type", "object") in OBJECT_TYPES and ("type" in node or "properties" in node)
