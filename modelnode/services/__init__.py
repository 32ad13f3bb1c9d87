"""Use-cases without HTTP types. ``Services.open(settings)`` is built once by the composition
root (``api.app.build_app``); routes call these methods and never touch storage directly."""

from modelnode.services.container import Services

__all__ = ["Services"]
