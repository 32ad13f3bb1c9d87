from __future__ import annotations

import math
from typing import Any

import pytest

from modelnode.errors import IllegalArgument, MapperParsingError, StrictDynamicMappingError
from modelnode.search.mapping import (
    DateFormat,
    Mapping,
    filter_source,
    millis_to_iso,
    parse_date_math,
    parse_number,
    parse_settings,
    settings_to_json,
    update_settings,
)

KNN = {"index.knn": True}

TUTORIAL = {
    "properties": {
        "id": {"type": "text"},
        "passage_text": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "passage_embedding": {
            "type": "knn_vector",
            "dimension": 4,
            "method": {"engine": "lucene", "space_type": "l2", "name": "hnsw", "parameters": {"m": 24}},
        },
        "sparse": {"type": "rank_features"},
        "sv": {"type": "sparse_vector"},
        "passage_chunk_embedding": {
            "type": "nested",
            "properties": {"knn": {"type": "knn_vector", "dimension": 2, "space_type": "cosinesimil"}},
        },
        "user.name": {"type": "keyword"},
        "price": {"type": "scaled_float", "scaling_factor": 100},
        "created": {"type": "date", "format": "yyyy-MM-dd HH:mm:ss||epoch_millis"},
    },
    "_source": {"excludes": ["passage_embedding"]},
}


def mapper_error(body: dict[str, Any], settings: dict[str, Any] | None = None) -> MapperParsingError:
    with pytest.raises(MapperParsingError) as info:
        Mapping.parse(body, settings)
    return info.value


def field(body: dict[str, Any], settings: dict[str, Any] | None = None) -> MapperParsingError:
    return mapper_error({"properties": {"f": body}}, settings)


# -- parsing -----------------------------------------------------------------------------------------


def test_parse_indexed_fields_and_round_trip() -> None:
    m = Mapping.parse(TUTORIAL, KNN)
    fields = dict(m.indexed_fields())
    assert list(fields) == sorted(fields)
    assert fields["passage_text.keyword"]["_source_path"] == "passage_text"
    assert fields["passage_text.keyword"]["ignore_above"] == 256
    assert fields["passage_chunk_embedding.knn"]["_nested_path"] == "passage_chunk_embedding"
    assert fields["passage_chunk_embedding.knn"]["space_type"] == "cosinesimil"
    vec = fields["passage_embedding"]
    assert vec["space_type"] == "l2"
    assert vec["method"] == {
        "name": "hnsw",
        "engine": "lucene",
        "space_type": "l2",
        "parameters": {"m": 24, "ef_construction": 100},
    }
    assert fields["user.name"]["type"] == "keyword"  # "user.name" became an object with a property
    assert fields["passage_text"]["analyzer"] == "standard"
    assert m.object_type("user") == "object" and m.nested_paths() == ["passage_chunk_embedding"]
    js = m.to_json()
    assert js["_source"] == {"excludes": ["passage_embedding"]}
    assert js["properties"]["user"] == {"properties": {"name": {"type": "keyword"}}}
    assert js["properties"]["passage_embedding"]["method"]["parameters"] == {"m": 24}  # as given
    assert Mapping.parse(js, KNN).to_json() == js
    assert Mapping.parse(None).to_json() == {}
    assert Mapping.parse({"_doc": {"properties": {"a": {"type": "long"}}}}).field_type("a") == "long"


def test_knn_defaults() -> None:
    m = Mapping.parse({"properties": {"v": {"type": "knn_vector", "dimension": "3"}}})
    v = m.field("v")
    assert v is not None
    assert v["dimension"] == 3 and v["space_type"] == "l2" and v["data_type"] == "float"
    assert v["method"]["name"] == "hnsw" and v["method"]["engine"] == "faiss"
    assert v["method"]["parameters"] == {"m": 16, "ef_construction": 100}


@pytest.mark.parametrize(
    ("body", "settings", "message"),
    [
        ({"type": "foo"}, None, "No handler for type [foo] declared on field [f]"),
        ({"index": True}, None, "No type specified for field [f]"),
        ({"type": "text", "foo": 1}, None, "unknown parameter [foo] on mapper [f] of type [text]"),
        ({"type": "keyword", "ignore_above": -1}, None, "[ignore_above] must be positive, got [-1]"),
        ({"type": "keyword", "normalizer": "my_norm"}, None, "normalizer [my_norm] not found for field [f]"),
        ({"type": "text", "analyzer": "english"}, None, "analyzer [english] on field [f] is not supported"),
        (
            {"type": "text", "analyzer": "my_analyzer"},
            None,
            "analyzer [my_analyzer] has not been configured in mappings",
        ),
        ({"type": "text", "similarity": "boolean"}, None, "similarity [boolean] on field [f] is not supported"),
        ({"type": "text", "index_options": "all"}, None, "Unknown value [all] for field [index_options]"),
        ({"type": "text", "copy_to": "x"}, None, "[copy_to] is not supported"),
        ({"type": "scaled_float"}, None, "Field [f] misses required parameter [scaling_factor]"),
        ({"type": "date", "format": "yyyy-qq"}, None, "Invalid format: [yyyy-qq]: Unknown pattern letter: q"),
        ({"type": "object", "foo": 1}, None, "Mapping definition for [f] has unsupported parameters:  [foo : 1]"),
        ({"type": "nested", "enabled": False}, None, "[enabled] parameter can't be set to false for nested field [f]"),
        ({"type": "text", "fields": {"x": {"type": "object"}}}, None, "Type [object] cannot be used in multi field"),
        ({"type": "knn_vector"}, KNN, "Dimension value missing for vector: f"),
        (
            {"type": "knn_vector", "dimension": "abc"},
            KNN,
            "Unable to parse [dimension] from provided value [abc] for vector [f]",
        ),
        ({"type": "knn_vector", "dimension": 0}, KNN, "Dimension value must be greater than 0 for vector: f"),
        ({"type": "knn_vector", "dimension": 16001}, KNN, "Dimension value cannot be greater than 16000 for vector: f"),
        (
            {"type": "knn_vector", "dimension": 2, "data_type": "half"},
            KNN,
            "Invalid value provided for [data_type] field",
        ),
        (
            {"type": "knn_vector", "dimension": 2, "data_type": "byte"},
            KNN,
            "[data_type] [byte] on field [f] is not supported",
        ),
        (
            {"type": "knn_vector", "dimension": 2, "space_type": "hamming"},
            KNN,
            "Unable to find space: hamming . Valid values are",
        ),
        (
            {"type": "knn_vector", "dimension": 2, "method": {"name": "hnsw"}},
            None,
            "Cannot set modelId or method parameters when index.knn setting is false",
        ),
        (
            {"type": "knn_vector", "dimension": 2, "method": "hnsw"},
            KNN,
            "Unable to parse mapping into KNNMethodContext",
        ),
        ({"type": "knn_vector", "dimension": 2, "method": {"engine": "faiss"}}, KNN, "name needs to be set"),
        ({"type": "knn_vector", "dimension": 2, "method": {"name": "lsh"}}, KNN, "Invalid method name: lsh"),
        (
            {"type": "knn_vector", "dimension": 2, "method": {"name": "hnsw", "engine": "annoy"}},
            KNN,
            "Invalid engine type: annoy",
        ),
        ({"type": "knn_vector", "dimension": 2, "method": {"name": "hnsw", "size": 1}}, KNN, "Invalid parameter: size"),
        (
            {"type": "knn_vector", "dimension": 2, "method": {"name": "hnsw", "space_type": "dot"}},
            KNN,
            "Unable to find space: dot",
        ),
        (
            {
                "type": "knn_vector",
                "dimension": 2,
                "space_type": "l2",
                "method": {"name": "hnsw", "space_type": "innerproduct"},
            },
            KNN,
            'Space type in "method" and top level space type should be same',
        ),
        (
            {"type": "knn_vector", "dimension": 2, "method": {"name": "hnsw", "parameters": {"k": 1}}},
            KNN,
            "Invalid parameter for method [hnsw]: k",
        ),
        (
            {"type": "knn_vector", "dimension": 2, "method": {"name": "hnsw", "parameters": {"m": 0}}},
            KNN,
            "parameter [m] of method [hnsw] must be a positive integer",
        ),
        ({"type": "knn_vector", "dimension": 2, "model_id": "abc"}, KNN, "trained k-NN models are not supported"),
        (
            {"type": "knn_vector", "dimension": 2, "mode": "on_disk", "method": {"name": "hnsw"}},
            KNN,
            'Compression and mode can not be specified in a "method" mapping',
        ),
        ({"type": "knn_vector", "dimension": 2, "mode": "fast"}, KNN, "Unknown value [fast] for field [mode]"),
        ({"type": "rank_features", "positive_score_impact": "maybe"}, None, "as only [true] or [false] are allowed"),
        (
            {"type": "rank_features", "dimension": 3},
            None,
            "unknown parameter [dimension] on mapper [f] of type [rank_features]",
        ),
    ],
)
def test_field_mapping_errors(body: dict[str, Any], settings: dict[str, Any] | None, message: str) -> None:
    err = field(body, settings)
    assert err.error_type == "mapper_parsing_exception" and err.status == 400
    assert err.reason.startswith("Failed to parse mapping [_doc]: ")
    assert message in err.reason
    assert err.caused_by is not None and message in err.caused_by["reason"]


def test_knn_field_name_must_be_a_valid_file_name() -> None:
    err = mapper_error({"properties": {"my vector": {"type": "knn_vector", "dimension": 2}}})
    assert "Provided field name=[my vector] had a disallowed character [ ]" in err.reason


def test_root_mapping_errors() -> None:
    assert "Root mapping definition has unsupported parameters:  [foo : bar]" in mapper_error({"foo": "bar"}).reason
    assert "[dynamic_templates] are not supported" in mapper_error({"dynamic_templates": [{"x": {}}]}).reason
    assert "Could not convert [_doc.dynamic] to boolean" in mapper_error({"dynamic": "sometimes"}).reason
    assert "Mapping definition for [_source] has unsupported parameters" in mapper_error({"_source": {"x": 1}}).reason
    assert "metadata field" in mapper_error({"properties": {"_id": {"type": "keyword"}}}).reason
    assert Mapping.parse({"dynamic_templates": []}).to_json() == {}


# -- dynamic mapping -----------------------------------------------------------------------------------


def test_dynamic_mapping_defaults() -> None:
    m = Mapping.parse({})
    doc = {
        "title": "Hello",
        "count": 3,
        "ratio": 0.5,
        "ok": True,
        "when": "2024-05-01T10:00:00Z",
        "day": "2024/05/01",
        "tags": [None, "a", "b"],
        "nothing": None,
        "empty": [],
        "obj": {"inner": 1, "deep.er": "x"},
        "a.b": 2,
    }
    assert m.prepare_document(doc, "1") is True
    props = m.to_json()["properties"]
    assert props["title"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert props["count"] == {"type": "long"}
    assert props["ratio"] == {"type": "float"}
    assert props["ok"] == {"type": "boolean"}
    assert props["when"] == {"type": "date"}
    assert props["day"] == {"type": "date", "format": "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"}
    assert props["tags"]["type"] == "text"
    assert "nothing" not in props and "empty" not in props
    assert props["obj"] == {"properties": {"deep": {"properties": {"er": props["title"]}}, "inner": {"type": "long"}}}
    assert props["a"] == {"properties": {"b": {"type": "long"}}}
    assert m.prepare_document(doc, "2") is False  # nothing new the second time


def test_dynamic_detection_switches() -> None:
    m = Mapping.parse({"date_detection": False, "numeric_detection": True})
    m.prepare_document({"d": "2024-01-01", "n": "42", "f": "1.5"})
    assert m.field_type("d") == "text" and m.field_type("n") == "long" and m.field_type("f") == "float"


def test_dynamic_false_and_strict() -> None:
    m = Mapping.parse({"dynamic": False, "properties": {"a": {"type": "keyword"}}})
    assert m.prepare_document({"a": "x", "b": {"c": 1}}) is False
    assert m.field("b.c") is None
    strict = Mapping.parse(
        {"dynamic": "strict", "properties": {"a": {"type": "keyword"}, "o": {"type": "object", "properties": {}}}}
    )
    with pytest.raises(StrictDynamicMappingError) as info:
        strict.validate_document({"a": "x", "b": 1})
    assert info.value.reason == "mapping set to strict, dynamic introduction of [b] within [_doc] is not allowed"
    assert info.value.error_type == "strict_dynamic_mapping_exception" and info.value.status == 400
    with pytest.raises(StrictDynamicMappingError, match=r"dynamic introduction of \[z\] within \[o\]"):
        strict.validate_document({"o": {"z": 1}})
    # an object can re-enable dynamic mapping below a strict root
    loose = Mapping.parse({"dynamic": "strict", "properties": {"o": {"dynamic": True, "properties": {}}}})
    assert loose.prepare_document({"o": {"z": 1}}) and loose.field_type("o.z") == "long"
    assert loose.to_json()["dynamic"] == "strict"


def test_refused_document_changes_nothing() -> None:
    m = Mapping.parse({"properties": {"n": {"type": "long"}}})
    version = m.version
    with pytest.raises(MapperParsingError):
        m.prepare_document({"new_field": "x", "n": "not a number"}, "7")
    assert m.field("new_field") is None and m.version == version


def test_total_fields_limit() -> None:
    m = Mapping.parse({}, {"index.mapping.total_fields.limit": 3})
    with pytest.raises(IllegalArgument, match=r"Limit of total fields \[3\] has been exceeded"):
        m.prepare_document({"a": 1, "b": 2, "c": 3, "d": 4})


# -- document validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "reason", "cause"),
    [
        (
            {"n": "abc"},
            "failed to parse field [n] of type [long] in document with id '1'. Preview of field's value: 'abc'",
            ("number_format_exception", 'For input string: "abc"'),
        ),
        (
            {"i": 3_000_000_000},
            "failed to parse field [i] of type [integer]",
            ("illegal_argument_exception", "Value [3000000000] is out of range for an integer"),
        ),
        (
            {"strict_n": 1.5},
            "field [strict_n] of type [long]",
            ("illegal_argument_exception", "Value [1.5] has a decimal part"),
        ),
        ({"n": True}, "field [n] of type [long]", ("json_parse_exception", "Current token (VALUE_TRUE) not numeric")),
        (
            {"b": "yes"},
            "field [b] of type [boolean]",
            ("illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed."),
        ),
        (
            {"d": "yesterday"},
            "field [d] of type [date]",
            (
                "illegal_argument_exception",
                "failed to parse date field [yesterday] with format [strict_date_optional_time||epoch_millis]",
            ),
        ),
        (
            {"t": {"x": 1}},
            "Preview of field's value: '{x=1}'",
            ("illegal_state_exception", "Can't get text on a START_OBJECT"),
        ),
        (
            {"v": [1, 2, 3]},
            "field [v] of type [knn_vector]",
            ("illegal_argument_exception", "Vector dimension mismatch. Expected: 4, Given: 3"),
        ),
        ({"v": [1, 2, "x", 4]}, "field [v] of type [knn_vector]", ("number_format_exception", 'For input string: "x"')),
        (
            {"v": [1, 2, math.nan, 4]},
            "field [v] of type [knn_vector]",
            ("illegal_argument_exception", "KNN vector values cannot be NaN"),
        ),
        (
            {"v": [[1, 2], [3, 4]]},
            "field [v] of type [knn_vector]",
            ("illegal_argument_exception", "Current token (START_ARRAY) not numeric"),
        ),
        (
            {"cos": [0, 0]},
            "field [cos] of type [knn_vector]",
            ("illegal_argument_exception", "zero vector is not supported when space type is [cosinesimil]"),
        ),
        (
            {"rf": {"a": -1}},
            "field [rf] of type [rank_features]",
            (
                "illegal_argument_exception",
                "featureValue must be a positive normal float, got: -1 for feature a on field rf",
            ),
        ),
        (
            {"rf": {"a": 0}},
            "field [rf] of type [rank_features]",
            ("illegal_argument_exception", "featureValue must be a positive normal float"),
        ),
        (
            {"rf": [{"a": 1}]},
            "field [rf] of type [rank_features]",
            (
                "illegal_argument_exception",
                "[rank_features] fields must be json objects, expected a START_OBJECT but got: START_ARRAY",
            ),
        ),
        (
            {"rf": {"a": "x"}},
            "field [rf] of type [rank_features]",
            ("number_format_exception", 'For input string: "x"'),
        ),
        (
            {"rf": {"a": True}},
            "field [rf] of type [rank_features]",
            ("illegal_argument_exception", "unexpected token VALUE_TRUE"),
        ),
    ],
)
def test_document_value_errors(doc: dict[str, Any], reason: str, cause: tuple[str, str]) -> None:
    m = Mapping.parse(
        {
            "properties": {
                "n": {"type": "long"},
                "strict_n": {"type": "long", "coerce": False},
                "i": {"type": "integer"},
                "b": {"type": "boolean"},
                "d": {"type": "date"},
                "t": {"type": "text"},
                "v": {"type": "knn_vector", "dimension": 4},
                "cos": {"type": "knn_vector", "dimension": 2, "space_type": "cosinesimil"},
                "rf": {"type": "rank_features"},
            }
        },
        KNN,
    )
    with pytest.raises(MapperParsingError) as info:
        m.validate_document(doc, "1")
    assert reason in info.value.reason
    assert info.value.caused_by is not None
    assert info.value.caused_by["type"] == cause[0] and cause[1] in info.value.caused_by["reason"]


def test_valid_values_and_coercion() -> None:
    m = Mapping.parse(
        {
            "properties": {
                "n": {"type": "long"},
                "b": {"type": "boolean"},
                "v": {"type": "knn_vector", "dimension": 2},
                "rf": {"type": "sparse_vector"},
                "lax": {"type": "integer", "ignore_malformed": True},
                "d": {"type": "date", "format": "epoch_second"},
            }
        }
    )
    m.validate_document({"n": ["4.7", 5, None], "b": ["", "true", False], "v": [1, "2.5"], "rf": {"a": "0.5"}})
    m.validate_document({"lax": "not a number", "d": 1700000000, "v": None})
    assert parse_number("long", "4.7") == 4 and parse_number("long", -4.7) == -4
    assert parse_number("float", 0.1) == float.fromhex("0x1.99999a0000000p-4")


def test_object_and_metadata_errors() -> None:
    m = Mapping.parse({"properties": {"o": {"properties": {"x": {"type": "long"}}}}})
    with pytest.raises(MapperParsingError, match=r"object mapping for \[o\] tried to parse field \[o\] as object"):
        m.validate_document({"o": "flat"})
    with pytest.raises(MapperParsingError, match=r"Field \[_id\] is a metadata field"):
        m.validate_document({"_id": "1"})
    m.validate_document({"o": [{"x": 1}, {"x": "2"}]})
    with pytest.raises(MapperParsingError, match=r"Existing mapping for \[o\.x\] must be of type object"):
        m.validate_document({"o.x.y": 1})


# -- PUT _mapping -----------------------------------------------------------------------------------------


def test_add_fields_and_conflicts() -> None:
    m = Mapping.parse({"properties": {"t": {"type": "text"}, "v": {"type": "knn_vector", "dimension": 4}}})
    assert m.add({"properties": {"n": {"type": "integer"}}}) is True
    assert m.add({"properties": {"n": {"type": "integer"}}}) is False
    assert m.add({"properties": {"t": {"type": "text", "fields": {"raw": {"type": "keyword"}}}}}) is True
    assert m.field("t.raw") is not None
    assert m.add({"dynamic": "strict"}) is True and m.dynamic == "strict"
    with pytest.raises(IllegalArgument, match=r"mapper \[t\] cannot be changed from type \[text\] to \[keyword\]"):
        m.add({"properties": {"t": {"type": "keyword"}}})
    with pytest.raises(IllegalArgument) as info:
        m.add({"properties": {"v": {"type": "knn_vector", "dimension": 8}}})
    assert info.value.reason.startswith(
        "Mapper for [v] conflicts with existing mapper:\n\tCannot update parameter [dimension] from [4] to [8]"
    )
    with pytest.raises(
        IllegalArgument, match="Cannot update parameter \\[analyzer\\] from \\[standard\\] to \\[simple\\]"
    ):
        m.add({"properties": {"t": {"type": "text", "analyzer": "simple"}}})
    with pytest.raises(IllegalArgument, match=r"mapper \[t\] cannot be changed from type \[text\] to \[ObjectMapper\]"):
        m.add({"properties": {"t": {"properties": {"x": {"type": "long"}}}}})
    m.add({"properties": {"o": {"type": "nested", "properties": {}}}})
    with pytest.raises(IllegalArgument, match=r"can't merge a non object mapping \[o\] with an object mapping"):
        m.add({"properties": {"o": {"type": "long"}}})
    with pytest.raises(IllegalArgument, match=r"object mapping \[o\] can't be changed from nested to non-nested"):
        m.add({"properties": {"o": {"type": "object", "properties": {}}}})
    with pytest.raises(MapperParsingError, match="No handler for type"):
        m.add({"properties": {"z": {"type": "string"}}})
    assert m.field("z") is None


# -- _source ----------------------------------------------------------------------------------------------


def test_source_filtering() -> None:
    src = {"a": {"b": 1, "c": 2}, "d": [{"e": 1, "f": 2}, {"e": 3}], "g": 3, "emb": [0.1]}
    assert filter_source(src, ["a.b", "d.e"], []) == {"a": {"b": 1}, "d": [{"e": 1}, {"e": 3}]}
    assert filter_source(src, [], ["a.c", "*f", "emb"]) == {"a": {"b": 1}, "d": [{"e": 1}, {"e": 3}], "g": 3}
    assert filter_source(src, ["a*"], []) == {"a": {"b": 1, "c": 2}}
    assert filter_source(src, ["a"], ["a.c"]) == {"a": {"b": 1}}
    assert filter_source(src, ["x"], []) == {}
    m = Mapping.parse({"_source": {"excludes": ["emb"]}})
    assert m.stored_source(src) == {"a": {"b": 1, "c": 2}, "d": [{"e": 1, "f": 2}, {"e": 3}], "g": 3}
    assert Mapping.parse({"_source": {"enabled": False}}).stored_source(src) is None
    assert Mapping.parse({}).stored_source(src) is src


# -- dates -------------------------------------------------------------------------------------------------


def test_date_formats_and_math() -> None:
    iso = DateFormat()
    assert iso.millis("2015-01-01") == 1420070400000
    assert iso.millis("2015-01-01T12:10:30Z") == 1420114230000
    assert iso.millis("2015-01-01T12:10:30.123+01:00") == 1420110630123
    assert iso.millis(1420070400001) == 1420070400001
    assert DateFormat("yyyy/MM/dd HH:mm:ss").millis("2015/01/01 12:10:30") == 1420114230000
    assert DateFormat("epoch_second").millis(1420070400) == 1420070400000
    fmt = DateFormat()
    assert millis_to_iso(parse_date_math("2014-11-18||/M", fmt)) == "2014-11-01T00:00:00.000Z"
    assert millis_to_iso(parse_date_math("2014-11-18||/M", fmt, round_up=True)) == "2014-11-30T23:59:59.999Z"
    assert millis_to_iso(parse_date_math("2020-01-01", fmt, round_up=True)) == "2020-01-01T23:59:59.999Z"
    assert millis_to_iso(parse_date_math("2020-01-31||+1M", fmt)) == "2020-02-29T00:00:00.000Z"
    now = 1420114230000  # 2015-01-01T12:10:30Z
    assert millis_to_iso(parse_date_math("now-1d/d", fmt, now_ms=now)) == "2014-12-31T00:00:00.000Z"
    assert millis_to_iso(parse_date_math("now+2h", fmt, now_ms=now)) == "2015-01-01T14:10:30.000Z"


# -- settings ------------------------------------------------------------------------------------------------


def test_parse_settings_shapes() -> None:
    flat = parse_settings(
        {
            "index": {"knn": "true", "knn.algo_param": {"ef_search": 100}, "number_of_shards": 1},
            "default_pipeline": "nlp-ingest-pipeline",
            "index.search.default_pipeline": "nlp-search-pipeline",
            "number_of_replicas": "0",
        }
    )
    assert flat == {
        "index.knn": True,
        "index.knn.algo_param.ef_search": 100,
        "index.number_of_shards": 1,
        "index.default_pipeline": "nlp-ingest-pipeline",
        "index.search.default_pipeline": "nlp-search-pipeline",
        "index.number_of_replicas": 0,
    }
    assert settings_to_json(flat) == {
        "index": {
            "default_pipeline": "nlp-ingest-pipeline",
            "knn": "true",
            "knn.algo_param": {"ef_search": "100"},
            "number_of_replicas": "0",
            "number_of_shards": "1",
            "search": {"default_pipeline": "nlp-search-pipeline"},
        }
    }
    assert parse_settings(None) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"index.foo": 1},
            "unknown setting [index.foo] please check that any required plugins are installed, or check the "
            "breaking changes documentation for removed settings",
        ),
        ({"knn": "yes"}, "Failed to parse value [yes] as only [true] or [false] are allowed."),
        ({"number_of_shards": 0}, "Failed to parse value [0] for setting [index.number_of_shards] must be >= 1"),
        ({"number_of_shards": "many"}, "Failed to parse value [many] for setting [index.number_of_shards]"),
        ({"index.knn.algo_param.ef_search": 1}, "must be >= 2"),
        ({"index.uuid": "x"}, "private index setting [index.uuid] can not be set explicitly"),
        (
            {"analysis": {"analyzer": {"a": {"type": "custom"}}}},
            "custom analysis and similarity settings are not supported",
        ),
        ({"refresh_interval": "soon"}, "as a time value"),
    ],
)
def test_settings_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(IllegalArgument) as info:
        parse_settings(body)
    assert message in info.value.reason


def test_update_settings() -> None:
    current = parse_settings({"index.knn": True, "number_of_shards": 1, "default_pipeline": "a"})
    updated = update_settings(current, {"index": {"default_pipeline": "b", "knn.algo_param.ef_search": 50}}, "i/uuid")
    assert updated["index.default_pipeline"] == "b" and updated["index.knn.algo_param.ef_search"] == 50
    assert update_settings(updated, {"index.default_pipeline": None}, "i") == {
        "index.knn": True,
        "index.number_of_shards": 1,
        "index.knn.algo_param.ef_search": 50,
    }
    assert update_settings(current, {"index.knn": True}, "i") == current  # unchanged static settings are fine
    with pytest.raises(
        IllegalArgument, match=r"Can't update non dynamic settings \[\[index.knn\]\] for open indices \[\[i/uuid\]\]"
    ):
        update_settings(current, {"index.knn": False}, "i/uuid")
    with pytest.raises(IllegalArgument, match=r"final index setting \[index.number_of_shards\], not updateable"):
        update_settings(current, {"number_of_shards": 2}, "i")
