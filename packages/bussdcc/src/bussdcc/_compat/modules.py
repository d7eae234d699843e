"""The 0.42 import paths: a thin module per old subpackage, warning once when imported.

Each legacy module lists in ``__all__`` only names the package exports today (so it adds no
second public surface) and serves the 0.42-only names (``DeviceProtocol``, ``EventBusProtocol``
...) through a module ``__getattr__`` that warns and names the replacement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import deprecated

__all__ = ["legacy_module"]


def legacy_module(
    module_name: str, instead: str, legacy: Mapping[str, tuple[Callable[[], Any], str]]
) -> Callable[[str], Any]:
    """Warn that ``module_name`` is a 0.42 path, and return its module ``__getattr__``.

    ``legacy`` maps each 0.42-only name to (a function returning today's object, the text
    naming the replacement).
    """
    deprecated(f"importing {module_name}", instead, stacklevel=4)

    def __getattr__(name: str) -> Any:
        try:
            resolve, replacement = legacy[name]
        except KeyError:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}") from None
        deprecated(f"{module_name}.{name}", replacement)
        return resolve()

    # Cache nothing: each access warns, as the module-level warning fires only once.
    return __getattr__


def _table() -> dict[tuple[str, str], tuple[Any, str]]:
    import bussdcc

    from ..bus import EventBus, Subscription
    from ..runtime import Runtime
    from ..state import StateStore
    from ..version import __version__

    return {
        ("bussdcc", "DeviceProtocol"): (bussdcc.Device, "bussdcc.Device"),
        ("bussdcc", "RuntimeProtocol"): (Runtime, "bussdcc.Runtime"),
        ("bussdcc", "get_version"): (lambda: __version__, "bussdcc.__version__"),
        ("bussdcc.runtime", "RuntimeProtocol"): (Runtime, "bussdcc.Runtime"),
        ("bussdcc.runtime", "ReplayRuntime"): (bussdcc.ReplayRuntime, "bussdcc.ReplayRuntime"),
        ("bussdcc.event", "EventBus"): (EventBus, "bussdcc.EventBus"),
        ("bussdcc.event", "EventBusProtocol"): (EventBus, "bussdcc.EventBus"),
        ("bussdcc.event", "SubscriptionProtocol"): (Subscription, "bussdcc.Subscription"),
        ("bussdcc.event", "EventHandler"): (
            Callable[[bussdcc.Event[Any]], None],
            "Callable[[bussdcc.Event[T]], None]",
        ),
        ("bussdcc.state", "StateStoreProtocol"): (StateStore, "bussdcc.StateStore"),
    }


def legacy_names(module_name: str, name: str) -> Any:
    """A module ``__getattr__`` body for the 0.42 names of a module that still exists."""
    if name.startswith("__"):
        raise AttributeError(name)
    found = _table().get((module_name, name))
    if found is None:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    value, replacement = found
    deprecated(f"{module_name}.{name}", replacement, stacklevel=4)
    return value
