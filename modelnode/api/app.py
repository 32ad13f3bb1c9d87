"""The composition root: ``build_app(settings)`` wires every component; nothing else does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from modelnode import __version__
from modelnode.api import cluster, documents, errors, indices, ml, pipelines, search
from modelnode.api.errors import envelope
from modelnode.config import Settings
from modelnode.errors import PayloadTooLarge
from modelnode.services import Services


class _Edge:
    """ASGI edge: trailing-slash tolerance (clients call ``/models/{id}/_predict/``) and the body
    size limit (OpenSearch's http.max_content_length), before any route reads the body."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/", raw_path=None)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise PayloadTooLarge(self._reason())  # rendered by the typed error handler
            return message

        await self.app(scope, limited, send)

    def _reason(self) -> str:
        return (
            f"Request body is larger than the limit of {self.max_body} bytes (http.max_content_length); "
            "send a smaller request."
        )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await envelope("content_too_long_exception", self._reason(), 413)(scope, receive, send)


def build_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    svc = services or Services.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.start()
        yield
        await svc.stop()

    app = FastAPI(
        title="modelnode",
        version=__version__,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url="/_modelnode/docs",
        redoc_url=None,
        openapi_url="/_modelnode/openapi.json",
    )
    app.state.services = svc
    errors.install(app)
    app.include_router(cluster.router)
    app.include_router(ml.router)
    # The search engine's routes end in catch-all paths (/{index}/...): every fixed /_... route
    # above and the pipelines' come first; /{index} itself is last.
    app.include_router(pipelines.router)
    app.include_router(search.router)
    app.include_router(documents.router)
    app.include_router(indices.router)
    app.add_middleware(_Edge, max_body=settings.max_body_bytes)
    return app
