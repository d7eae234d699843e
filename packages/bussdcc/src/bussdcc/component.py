"""The component contracts: `Device`, `Process`, `Interface` and `Service` base classes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._validate import name_string
from .message import Message

if TYPE_CHECKING:
    from .context import ContextProtocol
    from .event import Event

__all__ = ["Device", "Interface", "Process", "Service"]


def _overrides(obj: object, method: str, base: type) -> bool:
    """Whether ``obj``'s class replaces ``base.method`` (only then is it subscribed to the bus)."""
    return getattr(type(obj), method, None) is not getattr(base, method)


class Device:
    """Hardware, an external resource or a system boundary.

    The runtime calls `attach` (which calls `connect`) at boot and `detach` (which calls
    `disconnect`) at shutdown. At run time a device reports honestly with `set_online` and
    `set_offline(error)`. ``config`` is free-form; narrow it in a subclass
    (``config: SensorConfig``) for typed configuration.
    """

    kind: ClassVar[str] = "device"
    required: bool = False
    """When True, a failure to attach aborts boot."""

    def __init__(self, id: str, config: Any = None) -> None:
        """Raises ``TypeError`` if ``id`` is not a str, ``ValueError`` if it is blank."""
        self.id = name_string(id, "device id")
        self.config = config
        self.ctx: ContextProtocol | None = None
        self.online = False

    def attach(self, ctx: ContextProtocol) -> None:
        self.ctx = ctx
        self.connect()

    def detach(self) -> None:
        try:
            self.disconnect()
        finally:
            self.ctx = None

    def connect(self) -> None:
        """Open the resource. Raise to report `device.failed`."""

    def disconnect(self) -> None:
        """Release the resource."""

    def set_online(self) -> None:
        """Report that the device works (emits `device.online` on a change)."""
        from .message import DeviceOnline

        if not self.online and self.ctx is not None:
            self.online = True
            self.ctx.emit(DeviceOnline(device=self.id, kind=self.kind))
        self.online = True

    def set_offline(self, error: str | BaseException | None = None) -> None:
        """Report that the device stopped working (emits `device.offline` on a change).

        ``error`` says why, as text. An exception (the 0.42 form) is still taken, with a
        `DeprecationWarning`, and written as ``"TypeName: text"``.
        """
        from .message import DeviceOffline

        if isinstance(error, BaseException):
            from ._compat.devices import error_text

            error = error_text(error)

        if self.online and self.ctx is not None:
            self.online = False
            self.ctx.emit(DeviceOffline(device=self.id, kind=self.kind, error=error))
        self.online = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}:{self.id}>"


class Process:
    """Synchronous, event-driven logic.

    Lifecycle: `attach(ctx)`, `start(ctx)`, then `handle_event(ctx, evt)` for every message of
    the types in ``subscriptions`` (all messages by default), `stop(ctx)`, `detach()`. An
    exception in any hook becomes ``process.error`` and later events still arrive. Handlers
    never run concurrently, so a process needs no locks of its own.
    """

    name: str = ""
    """Unique among processes; defaults to the class name."""
    required: bool = False
    """When True, a failure to attach or start aborts boot."""
    subscriptions: tuple[type[Message], ...] = (Message,)

    ctx: ContextProtocol | None = None

    @property
    def component_name(self) -> str:
        return self.name or type(self).__name__

    def attach(self, ctx: ContextProtocol) -> None:
        self.ctx = ctx

    def start(self, ctx: ContextProtocol) -> None:
        """Called once everything before it in boot order is up."""

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        """React to one event; runs in the emitter's thread, one dispatch at a time."""

    def stop(self, ctx: ContextProtocol) -> None:
        """Called at shutdown, in reverse boot order."""

    def detach(self) -> None:
        self.ctx = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.component_name}>"


class Interface(Process):
    """A process by role: translates the outside world (HTTP, CLI, UI) into messages and back.

    Same lifecycle as `Process`; registered separately, started after processes, and its
    failures are reported as ``interface.error``.
    """


class Service:
    """A supervised, time-driven worker running in its own thread.

    `start(ctx)`, then `tick(ctx)` every ``interval`` seconds at a fixed rate on the monotonic
    clock (an overrun skips the missed slots), then `stop(ctx)`. `handle_event` works as for a
    process. A tick that raises reports ``service.error``; with ``restart`` the service comes
    back after an exponential backoff (from ``interval`` up to ``backoff_cap``, with jitter),
    and more than ``max_restarts`` restarts within ``restart_window`` seconds is a
    ``service.failure``. A ``critical`` service's failure shuts the runtime down. Shutdown
    waits at most ``stop_timeout`` seconds for the thread.
    """

    name: str = ""
    """Unique among services; defaults to the class name."""
    interval: float = 1.0
    restart: bool = True
    critical: bool = False
    required: bool = False
    """When True, a failure of `start` during boot aborts boot."""
    max_restarts: int = 5
    restart_window: float = 60.0
    backoff_cap: float = 60.0
    stop_timeout: float = 5.0
    enabled: bool = True
    """A disabled service is registered but not started until enabled."""
    subscriptions: tuple[type[Message], ...] = (Message,)

    ctx: ContextProtocol | None = None
    """The runtime's context, set when the service is registered."""

    @property
    def component_name(self) -> str:
        return self.name or type(self).__name__

    def start(self, ctx: ContextProtocol) -> None:
        """Runs in the service's thread before the first tick."""

    def tick(self, ctx: ContextProtocol) -> None:
        """One unit of periodic work."""

    def stop(self, ctx: ContextProtocol) -> None:
        """Runs in the service's thread after the last tick."""

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        """React to one event (only subscribed when a subclass overrides it)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.component_name}>"
