"""The 0.46 names and import paths that moved: served with a `DeprecationWarning`."""

from __future__ import annotations

from typing import Any

from . import deprecated

__all__ = ["legacy_names"]


def _table() -> dict[tuple[str, str], tuple[Any, str]]:
    from ..message.framework import SinkError
    from ..runtime import Runtime

    return {
        ("bussdcc_framework", "SignalRuntime"): (
            Runtime,
            "bussdcc_framework.Runtime (it handles SIGINT/SIGTERM/SIGHUP itself)",
        ),
        ("bussdcc_framework.runtime", "SignalRuntime"): (
            Runtime,
            "bussdcc_framework.Runtime (it handles SIGINT/SIGTERM/SIGHUP itself)",
        ),
        ("bussdcc_framework.message", "SinkHandlerError"): (
            SinkError,
            "bussdcc_framework.message.SinkError",
        ),
        ("bussdcc_framework.message.framework", "SinkHandlerError"): (
            SinkError,
            "bussdcc_framework.message.SinkError",
        ),
    }


def legacy_names(module_name: str, name: str) -> Any:
    """A module ``__getattr__`` body for the 0.46 names of a module that still exists."""
    if name.startswith("__"):
        raise AttributeError(name)
    found = _table().get((module_name, name))
    if found is None:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    value, replacement = found
    deprecated(f"{module_name}.{name}", replacement, stacklevel=4)
    return value
