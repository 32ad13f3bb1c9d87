"""Request/response plumbing shared by routers: JSON bodies, orjson responses, the caller."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from modelnode.errors import ParseError
from modelnode.security import ANONYMOUS, Principal
from modelnode.services import Services


class JSON(Response):
    """orjson with numpy support: float32 tensors print as float32's shortest form, as Java does."""

    media_type = "application/json; charset=UTF-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


async def body_json(request: Request, *, required: bool = False) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ParseError("request body is required")
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ParseError(f"Failed to parse request body as JSON: {e}") from None
    if not isinstance(data, dict):
        raise ParseError("request body must be a JSON object")
    return data


async def required_json(request: Request) -> dict[str, Any]:
    body = await body_json(request, required=True)
    assert body is not None
    return body


def authenticate(request: Request) -> Principal:
    """The one place that decides who is asking. Security is off: everyone is anonymous."""
    return ANONYMOUS


def flag(request: Request, name: str, default: bool = False) -> bool:
    v = request.query_params.get(name)
    if v is None:
        return default
    if v in ("", "true"):
        return True
    if v == "false":
        return False
    from modelnode.errors import IllegalArgument

    raise IllegalArgument(f"Failed to parse value [{v}] as only [true] or [false] are allowed.")


def services(request: Request) -> Services:
    """The service graph ``build_app`` attached to the app."""
    return request.app.state.services
