"""Every error leaves as OpenSearch's envelope; routes never catch."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from modelnode.api.http import JSON
from modelnode.errors import ModelNodeError

log = logging.getLogger("modelnode.api")


def envelope(error_type: str, reason: str, status: int, caused_by: dict[str, str] | None = None) -> JSON:
    cause = {"type": error_type, "reason": reason}
    error: dict[str, object] = {"root_cause": [cause], **cause}
    if caused_by:
        error["caused_by"] = caused_by
    return JSON({"error": error, "status": status}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(ModelNodeError)
    async def _typed(request: Request, exc: ModelNodeError) -> JSON:
        return envelope(exc.error_type, exc.reason, exc.status, getattr(exc, "caused_by", None))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSON:
        uri, method = request.url.path, request.method
        if exc.status_code == 405:
            allowed = exc.headers.get("Allow", "") if exc.headers else ""
            return envelope(
                "method_not_allowed_exception",
                f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{allowed}]",
                405,
            )
        if exc.status_code == 404:
            return envelope(
                "illegal_argument_exception", f"no handler found for uri [{uri}] and method [{method}]", 400
            )
        return envelope("status_exception", str(exc.detail), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSON:
        return envelope("illegal_argument_exception", str(exc.errors()), 400)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSON:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return envelope("exception", f"{type(exc).__name__}: {exc}", 500)
