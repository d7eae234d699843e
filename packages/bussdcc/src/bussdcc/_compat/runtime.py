"""The 0.42 parts of `Runtime`: ``booted``, ``version``, injected bus and state, the
``_on_boot``/``_on_shutdown`` subclass hooks, and booting again after a shutdown.

The hooks are mapped onto the public `RuntimeExtension` seam: a 0.42 subclass that overrides
``_on_boot`` gets it called from ``before_boot`` (0.42 called it just after
``runtime.booting``, before the devices), and ``_on_shutdown(reason)`` from ``after_shutdown``
(0.42: after the devices, before ``runtime.shutdown``). The class gets one `DeprecationWarning`
when it is defined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..extension import RuntimeExtension
from . import deprecated

if TYPE_CHECKING:
    from ..bus import EventBus
    from ..clock import ClockProtocol
    from ..runtime import Runtime

__all__ = ["LegacyRuntimeAPI", "adopt_bus", "reboot"]


def _overridden(cls: type, hook: str) -> bool:
    return getattr(cls, hook, None) is not getattr(LegacyRuntimeAPI, hook)


class _LegacyHooks(RuntimeExtension):
    name = "legacy _on_boot/_on_shutdown"

    def before_boot(self, runtime: Runtime) -> None:
        runtime._on_boot()

    def after_shutdown(self, runtime: Runtime, reason: str | None) -> None:
        runtime._on_shutdown(reason)


class LegacyRuntimeAPI:
    """Mixed into `Runtime`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for hook in ("_on_boot", "_on_shutdown"):
            if hook in cls.__dict__ and _overridden(cls, hook):
                deprecated(
                    f"overriding Runtime.{hook} ({cls.__qualname__})",
                    "a RuntimeExtension registered with rt.extend(...)",
                )

    def _on_boot(self) -> None:
        """0.42 subclass hook (deprecated): runs at the start of boot."""

    def _on_shutdown(self, reason: str | None = None) -> None:
        """0.42 subclass hook (deprecated): runs at the end of shutdown."""

    def _adopt_legacy_hooks(self) -> None:
        cls = type(self)
        if _overridden(cls, "_on_boot") or _overridden(cls, "_on_shutdown"):
            self.extend(_LegacyHooks())  # type: ignore[attr-defined]

    @property
    def booted(self) -> bool:
        """0.42: whether the runtime is up (deprecated: `Runtime.is_running`)."""
        deprecated("Runtime.booted", "Runtime.is_running (or Runtime.phase)")
        return bool(self.is_running)  # type: ignore[attr-defined]

    @property
    def version(self) -> str:
        """0.42: the bussdcc version (deprecated: ``bussdcc.__version__``)."""
        from ..version import __version__

        deprecated("Runtime.version", "bussdcc.__version__")
        return __version__


def adopt_bus(bus: EventBus, clock: ClockProtocol) -> EventBus:
    """0.42 ``Runtime(events=bus)``: the bus now stamps events, so it takes the runtime's
    clock (0.42 stamped with ``ctx.clock`` too)."""
    deprecated("Runtime(events=...)", "Runtime(clock=...); the runtime builds its own bus")
    bus._stamp = getattr(clock, "timestamp", clock.now_utc)
    return bus


def reboot(runtime: Runtime) -> None:
    """0.42 let ``boot()`` bring a shut-down runtime up again; it still does, with a warning.
    Components are brought up afresh; ``seq`` keeps counting."""
    deprecated("booting a runtime again after shutdown", "a new Runtime", stacklevel=4)
    runtime._phase = "created"
    runtime.shutdown_reason = None
    runtime._stopped.clear()
