"""Error helpers: the OpenSearch exception types ingest raises, Java type names for messages, and
the error JSON shape (``error_json``) used by verbose ``_simulate`` and the services layer."""

from __future__ import annotations

from typing import Any

from modelnode.errors import ModelNodeError, ParseError


def config_error(processor_type: str | None, prop: str | None, message: str) -> ParseError:
    """OpenSearch's ConfigurationUtils.newConfigurationException: a parse_exception."""
    return ParseError(f"[{prop}] {message}" if prop else message)


class ScriptError(ModelNodeError):
    status = 400
    error_type = "script_exception"


class FailProcessorError(ModelNodeError):
    status = 500
    error_type = "fail_processor_exception"


class IngestProcessorError(ModelNodeError):
    """A processor's runtime failure (Java: IllegalArgumentException / IllegalStateException ...)."""

    status = 400
    error_type = "illegal_argument_exception"


def _state_error(reason: str) -> ModelNodeError:
    return ModelNodeError(reason, status=500, error_type="illegal_state_exception")


_JAVA_TYPES = {
    str: "java.lang.String",
    int: "java.lang.Integer",
    float: "java.lang.Double",
    bool: "java.lang.Boolean",
    list: "java.util.ArrayList",
    dict: "java.util.LinkedHashMap",
}


def java_type(value: Any) -> str:
    return _JAVA_TYPES.get(type(value), type(value).__name__)


def error_json(error: ModelNodeError) -> dict[str, Any]:
    cause = {"type": error.error_type, "reason": error.reason}
    return {"root_cause": [cause], **cause}
