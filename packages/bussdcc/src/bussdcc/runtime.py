"""The `Runtime`: owns the context, boots and shuts down components in a deterministic order.

Also the variants that own a thread (`ThreadedRuntime`) or the process's POSIX signals
(`SignalRuntime`). Other layers extend a runtime through `RuntimeExtension` hooks, never by
overriding its private methods.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Literal, Self, TypeVar

from ._compat.runtime import LegacyRuntimeAPI, adopt_bus, reboot
from .bus import EventBus, describe_failure
from .clock import ClockProtocol, SystemClock
from .component import Device, Process, Service
from .components import DeviceManager, InterfaceManager, ProcessManager, _BootFailure
from .context import Context
from .event import Event
from .extension import RuntimeExtension
from .message import (
    Message,
    RuntimeBooted,
    RuntimeBooting,
    RuntimeExtensionError,
    RuntimeShutdown,
    RuntimeShuttingDown,
)
from .signals import SignalHandling, _Latch
from .state import StateStore
from .supervisor import ServiceSupervisor, _current_service
from .version import __version__

__all__ = ["BootError", "Phase", "Runtime", "SignalRuntime", "ThreadedRuntime"]


def __getattr__(name: str) -> object:
    # 0.42 names of this path (bussdcc._compat.modules); deprecated.
    from ._compat.modules import legacy_names

    return legacy_names(__name__, name)


_D = TypeVar("_D", bound=Device)
_P = TypeVar("_P", bound=Process)
_S = TypeVar("_S", bound=Service)
_X = TypeVar("_X", bound=RuntimeExtension)

Phase = Literal["created", "booting", "running", "stopping", "stopped"]
"""Where a runtime is in its life (`Runtime.phase`); it only moves forward, in this order."""


class BootError(RuntimeError):
    """Boot was aborted because a ``required`` component (or an extension's boot hook)
    failed; everything already up was shut down again.

    ``component`` names what failed (``"device 'gps'"``, ``"service 'web'"``,
    ``"extension 'Recorder'"``); ``cause`` is the exception it raised, also chained as
    ``__cause__``, so a caller tests it instead of parsing text (``isinstance(exc.cause,
    OSError) and exc.cause.errno == errno.EADDRINUSE``); ``error`` is the cause as
    ``"TypeName: text"``.
    """

    def __init__(self, component: str, cause: BaseException | str) -> None:
        # A str cause is the 0.42 form (component, error text); there is no exception then.
        error = cause if isinstance(cause, str) else describe_failure(cause)[0]
        super().__init__(f"boot aborted: required {component} failed: {error}")
        self.component = component
        self.cause: BaseException | None = None if isinstance(cause, str) else cause
        self.error = error


class Runtime(LegacyRuntimeAPI):
    """The coordination authority: owns the `Context` and every component's lifecycle.

    `boot()`: ``runtime.booting``; devices attach in registration order; processes attach and
    start; interfaces attach and start; ``runtime.booted``; services start under supervision.
    `shutdown(reason)` runs the exact reverse and ends with ``runtime.shutdown``. Both are
    idempotent. A component that fails during boot is reported and boot continues, unless it
    is ``required``: then what already started is shut down in reverse and `boot` raises
    `BootError` naming it.

    `shutdown` may be called from any thread, a handler, a service's own tick or a signal
    handler, and always completes: from inside a handler or a service thread it is handed to
    a separate thread (nothing waits on itself) and returns at once.

    To add behaviour at fixed points of boot and shutdown, register a `RuntimeExtension`
    with `extend` (the supported seam; the private methods are not).
    """

    def __init__(
        self,
        *,
        clock: ClockProtocol | None = None,
        events: EventBus | None = None,
        state: StateStore | None = None,
    ) -> None:
        """``events`` and ``state`` are the 0.42 injection points (deprecated; the runtime
        builds its own bus and store)."""
        self.clock: ClockProtocol = clock or SystemClock()
        self.state = StateStore() if state is None else state
        self.events = EventBus(self.clock) if events is None else adopt_bus(events, self.clock)
        self.ctx = Context(self.clock, self.events, self.state, self)
        self.devices = DeviceManager(self.ctx)
        self.processes = ProcessManager(self.ctx)
        self.interfaces = InterfaceManager(self.ctx)
        self.services = ServiceSupervisor(self.ctx, on_critical=self.shutdown)
        self.shutdown_reason: str | None = None
        self._phase: Phase = "created"
        self._lifecycle = threading.RLock()
        self._stopped = _Latch()
        self._extensions: list[RuntimeExtension] = []
        self._adopt_legacy_hooks()  # 0.42 subclasses' _on_boot/_on_shutdown (bussdcc._compat)

    # -- extensions --------------------------------------------------------------------------

    def extend(self, extension: _X) -> _X:
        """Register ``extension``'s lifecycle hooks (see `RuntimeExtension` for their order
        and failure policy); returns it.

        Raises:
            TypeError: if ``extension`` is not a `RuntimeExtension`.
            ValueError: if it is already registered.
            RuntimeError: if the runtime has already booted (its boot hooks would never run).
        """
        if not isinstance(extension, RuntimeExtension):
            raise TypeError(f"extension must be a RuntimeExtension, got {type(extension).__name__}")
        with self._lifecycle:
            if self._phase != "created":
                raise RuntimeError(
                    f"extensions must be added before boot (runtime is {self._phase})"
                )
            if any(known is extension for known in self._extensions):
                raise ValueError(f"extension {extension.extension_name!r} is already registered")
            self._extensions.append(extension)
        return extension

    @property
    def extensions(self) -> tuple[RuntimeExtension, ...]:
        """The registered extensions, in registration order."""
        return tuple(self._extensions)

    def _report_extension(self, extension: RuntimeExtension, hook: str, exc: Exception) -> None:
        error, tb = describe_failure(exc)
        self.ctx.emit(
            RuntimeExtensionError(
                extension=extension.extension_name, hook=hook, error=error, traceback=tb
            )
        )

    def _boot_hook(self, hook: str) -> None:
        for extension in list(self._extensions):
            try:
                getattr(extension, hook)(self)
            except Exception as exc:
                self._report_extension(extension, hook, exc)
                raise _BootFailure(f"extension {extension.extension_name!r}", exc) from exc

    def _shutdown_hook(self, hook: str, reason: str | None) -> None:
        for extension in reversed(self._extensions):
            try:
                getattr(extension, hook)(self, reason)
            except Exception as exc:
                self._report_extension(extension, hook, exc)

    # -- registration (seed-style forms of the manager calls) -------------------------------

    # Each returns its argument typed as given, so `p = rt.register_process(MyProc())` keeps
    # MyProc's own attributes visible to a type checker.

    def attach_device(self, device: _D) -> _D:
        return self.devices.attach(device)

    def register_process(self, process: _P) -> _P:
        return self.processes.register(process)

    def register_interface(self, interface: _P) -> _P:
        return self.interfaces.register(interface)

    def register_service(self, service: _S) -> _S:
        return self.services.register(service)

    def emit(self, message: Message) -> Event[Message]:
        """Emit through the bus (same as ``rt.ctx.emit``)."""
        return self.ctx.emit(message)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def is_running(self) -> bool:
        return self._phase == "running"

    def boot(self) -> None:
        """Bring everything up in order (no-op when already booted).

        Raises:
            BootError: a required component or an extension's boot hook failed; the runtime
                is shut down again. ``cause`` holds the original exception.
            RuntimeError: the runtime is shutting down right now.

        Booting a runtime again after it has shut down works as in 0.42, with a
        `DeprecationWarning` (create a new runtime instead).
        """
        with self._lifecycle:
            if self._phase == "stopped":
                reboot(self)
            if self._phase == "stopping":
                raise RuntimeError("this runtime is shutting down; create a new one")
            if self._phase != "created":
                return
            self._phase = "booting"
            try:
                self._boot_hook("before_boot")
                self.ctx.emit(RuntimeBooting(version=__version__))
                self.devices.boot()
                self.processes.boot()
                self.interfaces.boot()
                self.ctx.emit(RuntimeBooted(version=__version__))
                self._boot_hook("before_services")
                failures = self.services.boot()
                if failures:
                    service, error = failures[0]
                    raise _BootFailure(f"service {service.component_name!r}", error)
                self._phase = "running"
                self._boot_hook("booted")
            except _BootFailure as failure:
                self._teardown(f"boot aborted: {failure.component} failed")
                raise BootError(failure.component, failure.cause) from failure.cause
            except BaseException:
                self._teardown("boot aborted by an unexpected error")
                raise

    def shutdown(self, reason: str | None = None) -> None:
        """Bring everything down in reverse order (no-op when already down)."""
        if self._must_defer():
            threading.Thread(
                target=self._shutdown, args=(reason,), name="bussdcc-shutdown", daemon=False
            ).start()
            return
        self._shutdown(reason)

    def _must_defer(self) -> bool:
        # Inside a handler we hold the bus; in a service thread the supervisor would join us;
        # during our own boot we hold the lifecycle lock. Each would wait on itself.
        return (
            self.events.in_dispatch()
            or _current_service() is not None
            or self._lifecycle._is_owned()  # type: ignore[attr-defined]
        )

    def _shutdown(self, reason: str | None) -> None:
        with self._lifecycle:
            if self._phase in ("stopping", "stopped"):
                return
            if self._phase == "created":
                self._phase = "stopped"
                self.shutdown_reason = reason
                self._stopped.set()
                return
            self._teardown(reason)

    def _teardown(self, reason: str | None) -> None:
        # Caller holds the lifecycle lock.
        self._phase = "stopping"
        self.shutdown_reason = reason
        try:
            self._shutdown_hook("shutting_down", reason)
            self.ctx.emit(RuntimeShuttingDown(reason=reason))
            self.services.shutdown()
            self.interfaces.teardown()
            self.processes.teardown()
            self.devices.teardown()
            self.ctx.emit(RuntimeShutdown(reason=reason))
            self._shutdown_hook("after_shutdown", reason)
        finally:
            self._phase = "stopped"
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the runtime has shut down; False if ``timeout`` passed first.

        In the main thread the wait never delays a signal handler, whichever thread the OS
        delivered the signal to (see `SignalHandling`), and it does not wake periodically.
        """
        return self._stopped.wait(timeout)

    def run(self) -> None:
        """Boot (if needed) and block until shutdown; returns at once if already shut down."""
        self._boot_unless_stopped()
        self.wait()

    def _boot_unless_stopped(self) -> None:
        # A shutdown (a signal, a handler) may land between boot() and run(): that is a
        # finished run, not an attempt to reboot. Checked under the lifecycle lock, which a
        # shutdown in progress holds, so the answer cannot change before boot() looks.
        with self._lifecycle:
            if self._phase not in ("stopping", "stopped"):
                self.boot()

    def __enter__(self) -> Self:
        self.boot()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown("context exited" if exc is None else f"context exited: {exc!r}")
        if self._phase != "stopped":
            self.wait()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._phase}>"


class ThreadedRuntime(Runtime):
    """A runtime that lives in its own background thread.

    `start()` boots it there and returns once boot finished (re-raising a boot failure);
    `run()` blocks until shutdown; `stop(reason)` shuts it down and joins the thread.
    """

    def __init__(self, *, clock: ClockProtocol | None = None) -> None:
        super().__init__(clock=clock)
        self._thread: threading.Thread | None = None
        self._booted = threading.Event()
        self._boot_error: BaseException | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name="bussdcc-runtime", daemon=True)
        self._thread.start()
        self._booted.wait()
        if self._boot_error is not None:
            raise self._boot_error

    def _main(self) -> None:
        try:
            self.boot()
        except BaseException as exc:
            self._boot_error = exc
            return
        finally:
            self._booted.set()
        self.wait()

    def run(self) -> None:
        self.start()
        self.wait()

    def stop(self, reason: str | None = None, timeout: float | None = None) -> None:
        self.shutdown(reason)
        self.wait(timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class SignalRuntime(Runtime):
    """A runtime driven by POSIX signals: a `Runtime` with the `SignalHandling` extension.

    From the main thread, `boot()` installs the handlers (so a signal arriving at any point
    after boot is handled): SIGINT and SIGTERM shut it down; SIGHUP emits ``system.reload``;
    SIGUSR1 and SIGUSR2 emit ``system.signal``. The previous handlers are restored when the
    runtime has shut down (by `run()` returning, or by a shutdown run in the main thread).
    The extension is ``rt.signals``.
    """

    shutdown_signals = SignalHandling.shutdown_signals
    handled_signals = SignalHandling.handled_signals

    def __init__(self, *, clock: ClockProtocol | None = None) -> None:
        super().__init__(clock=clock)
        self.signals = self.extend(SignalHandling())

    def run(self) -> None:
        """Boot, block until shutdown, restore the previous handlers.

        Raises:
            RuntimeError: when not called from the main thread (Python delivers signals there).
        """
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("SignalRuntime.run() must be called from the main thread")
        try:
            super().run()
        finally:
            self.signals.restore()
