"""Who is asking. Every request passes through ``api``'s one ``authenticate`` dependency, which
returns a ``Principal``; with security off (today) that is ``ANONYMOUS`` and, as in ML Commons
without the Security plugin, everything is public and access-control fields are rejected."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    name: str | None = None
    backend_roles: tuple[str, ...] = ()
    roles: tuple[str, ...] = field(default_factory=tuple)

    @property
    def security_enabled(self) -> bool:
        return self.name is not None

    @property
    def is_admin(self) -> bool:
        return "all_access" in self.roles


ANONYMOUS = Principal()
