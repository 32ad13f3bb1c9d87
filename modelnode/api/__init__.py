"""HTTP only: the app factory, routers, request parsing and the one error handler."""

from modelnode.api.app import build_app

__all__ = ["build_app"]
