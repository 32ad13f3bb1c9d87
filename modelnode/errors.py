"""Typed errors. Each class fixes the HTTP status and the OpenSearch error ``type``.

The API layer renders every ``ModelNodeError`` once, as OpenSearch's envelope:
``{"error": {"root_cause": [{"type", "reason"}], "type", "reason"}, "status": N}``.
Messages follow ML Commons' wording where clients or docs depend on it, and otherwise say
what the caller should do next. Leaf module: imports nothing from modelnode.
"""

from __future__ import annotations


class ModelNodeError(Exception):
    status: int = 500
    error_type: str = "exception"

    def __init__(self, reason: str, *, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type


class IllegalArgument(ModelNodeError):
    """Java's IllegalArgumentException: the request is wrong."""

    status = 400
    error_type = "illegal_argument_exception"


class ParseError(ModelNodeError):
    """The body is not the JSON (or shape) the endpoint reads."""

    status = 400
    error_type = "parse_exception"


class XContentParseError(ParseError):
    error_type = "x_content_parse_exception"


class ParsingError(ParseError):
    """Unknown keys in a search source, as OpenSearch's ParsingException."""

    error_type = "parsing_exception"


class StatusError(ModelNodeError):
    """OpenSearchStatusException: an explicit status chosen by the action."""

    error_type = "status_exception"


class BadRequest(StatusError):
    status = 400


class Forbidden(StatusError):
    status = 403


class NotFound(StatusError):
    status = 404


class Conflict(StatusError):
    status = 409


class TooManyRequests(StatusError):
    status = 429


class PayloadTooLarge(ModelNodeError):
    status = 413
    error_type = "content_too_long_exception"


class MethodNotAllowed(ModelNodeError):
    status = 405
    error_type = "method_not_allowed_exception"


class ResourceNotFound(ModelNodeError):
    """ML Commons' MLResourceNotFoundException."""

    status = 404
    error_type = "m_l_resource_not_found_exception"


class LimitExceeded(ModelNodeError):
    """ML Commons' MLLimitExceededException (circuit breakers, model/task limits)."""

    status = 429
    error_type = "m_l_limit_exceeded_exception"


class ServiceUnavailable(StatusError):
    status = 503


class ArtifactError(IllegalArgument):
    """A model artifact could not be fetched or failed verification.

    Raised inside register tasks; the reason becomes the task's ``error``.
    """


class ModelLoadError(ModelNodeError):
    """An artifact verified fine but the inference engine could not load or warm it up."""

    status = 500
    error_type = "m_l_exception"


class MissingDependency(ModelNodeError):
    """An optional extra (torch, ...) is needed for this artifact but is not installed."""

    status = 500
    error_type = "m_l_exception"


class MapperParsingError(ModelNodeError):
    """OpenSearch's MapperParsingException: a mapping or a document does not fit the index's mapping.

    ``caused_by`` (``{"type", "reason"}``) carries the inner exception OpenSearch reports under
    ``error.caused_by`` (e.g. ``number_format_exception`` for a bad long, or the k-NN plugin's
    ``Vector dimension mismatch. Expected: 4, Given: 3``); the API may render it.
    """

    status = 400
    error_type = "mapper_parsing_exception"

    def __init__(
        self,
        reason: str,
        *,
        caused_by: dict[str, str] | None = None,
        status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(reason, status=status, error_type=error_type)
        self.caused_by = caused_by


class StrictDynamicMappingError(MapperParsingError):
    """A document introduced a field under an object mapped with ``dynamic: strict``."""

    error_type = "strict_dynamic_mapping_exception"


class QueryShardError(IllegalArgument):
    """OpenSearch's QueryShardException: a query cannot run against this index's fields."""

    error_type = "query_shard_exception"
