"""The 0.42 look-ups of ``rt.devices``, ``rt.processes``, ``rt.interfaces`` and ``rt.services``.

Mixed into the registries; today's way is to iterate the manager (``list(rt.processes)``),
test membership (``name in rt.services``) and read `ServiceSupervisor.status`. ``get`` returns
None for an unknown name, as in 0.42, and is not deprecated.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from . import deprecated

__all__ = ["LegacyRegistryLookups", "LegacySupervisorLookups"]


class LegacyRegistryLookups:
    """``list()`` / ``list(kind=...)`` of a device, process or interface manager."""

    def __iter__(self) -> Any:  # provided by the registry
        raise NotImplementedError

    def list(self, *, kind: str | None = None) -> builtins.list[Any]:
        """0.42: the registered components (devices of ``kind`` only, if given)."""
        deprecated("manager.list()", "list(manager) or iterating the manager")
        items: Iterable[Any] = self
        if kind is not None:
            return [item for item in items if getattr(item, "kind", None) == kind]
        return builtins.list(items)


class LegacySupervisorLookups:
    """``names``, ``list``, ``is_running``, ``running`` and ``stop_all`` of ``rt.services``."""

    def __iter__(self) -> Any:  # provided by the supervisor
        raise NotImplementedError

    def statuses(self) -> builtins.list[Any]:  # provided by the supervisor
        raise NotImplementedError

    def stop(self, name: str) -> None:  # provided by the supervisor
        raise NotImplementedError

    def names(self) -> builtins.list[str]:
        deprecated("rt.services.names()", "[s.name for s in rt.services.statuses()]")
        return [status.name for status in self.statuses()]

    def list(self) -> builtins.list[Any]:
        deprecated("rt.services.list()", "list(rt.services)")
        return builtins.list(self)

    def is_running(self, name: str) -> bool:
        deprecated("rt.services.is_running(name)", "rt.services.status(name).running")
        return any(s.name == name and s.running for s in self.statuses())

    def running(self) -> builtins.list[Any]:
        deprecated("rt.services.running()", "rt.services.statuses()")
        running = {s.name for s in self.statuses() if s.running}
        return [svc for svc in self if svc.component_name in running]

    def stop_all(self) -> None:
        deprecated("rt.services.stop_all()", "rt.services.stop(name) for each service")
        for status in self.statuses():
            self.stop(status.name)
