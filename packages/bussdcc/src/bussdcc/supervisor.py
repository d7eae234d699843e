"""`ServiceSupervisor`: runs each service in its own thread at a fixed rate and restarts it."""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeVar

from ._compat.managers import LegacySupervisorLookups
from ._validate import (
    boolean,
    name_string,
    non_negative_int,
    non_negative_number,
    positive_number,
)
from .bus import Subscription, describe_failure
from .component import Service, _overrides
from .event import Event
from .message import (
    Message,
    ServiceError,
    ServiceFailure,
    ServiceRestart,
    ServiceStarted,
    ServiceStopped,
    wire_name,
)

if TYPE_CHECKING:
    from .context import Context

__all__ = ["ServiceState", "ServiceStatus", "ServiceSupervisor"]

ServiceState = Literal[
    "registered", "starting", "running", "backoff", "stopped", "failed", "abandoned"
]

_S = TypeVar("_S", bound=Service)

_owner = threading.local()


def _current_service() -> str | None:
    """The name of the service whose thread is calling, or None."""
    name: str | None = getattr(_owner, "service", None)
    return name


def _check_settings(service: Service) -> None:
    """Validate a service's class-level settings once, at registration."""
    where = f"service {service.component_name!r}:"
    positive_number(service.interval, f"{where} interval")
    for attr in ("restart_window", "backoff_cap", "stop_timeout"):
        non_negative_number(getattr(service, attr), f"{where} {attr}")
    non_negative_int(service.max_restarts, f"{where} max_restarts")
    for attr in ("restart", "critical", "required", "enabled"):
        boolean(getattr(service, attr), f"{where} {attr}")


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """A snapshot of one supervised service."""

    name: str
    state: ServiceState
    enabled: bool
    running: bool
    restarts: int
    ticks: int
    last_error: str | None
    last_tick: datetime | None


class _Supervised:
    """The supervisor's bookkeeping for one service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.name = service.component_name
        self.enabled = service.enabled
        self.state: ServiceState = "registered"
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.started = threading.Event()  # set once start() has returned or failed
        self.start_error: Exception | None = None
        self.restart_times: deque[float] = deque()
        self.restarts = 0
        self.ticks = 0
        self.last_error: str | None = None
        self.last_tick: datetime | None = None
        self.subscription: Subscription | None = None

    def status(self) -> ServiceStatus:
        return ServiceStatus(
            name=self.name,
            state=self.state,
            enabled=self.enabled,
            running=self.thread is not None and self.thread.is_alive(),
            restarts=self.restarts,
            ticks=self.ticks,
            last_error=self.last_error,
            last_tick=self.last_tick,
        )


class ServiceSupervisor(LegacySupervisorLookups):
    """Owns the services of one runtime (``rt.services``).

    Each service runs `start`, then `tick` every ``interval`` seconds on fixed slots of the
    clock's monotonic time (slot k is at start + k * interval, so there is no drift; a tick
    that overruns skips the slots it missed instead of bursting to catch up), then `stop`.
    """

    def __init__(
        self,
        ctx: Context,
        *,
        on_critical: Callable[[str], None],
        rng: random.Random | None = None,
    ) -> None:
        self._ctx = ctx
        self._on_critical = on_critical
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._entries: dict[str, _Supervised] = {}
        self._active = False  # between boot() and shutdown()

    # -- registration ----------------------------------------------------------------------

    def register(self, service: _S) -> _S:
        """Add a service; it starts at once if the runtime is running (and it is enabled).

        Raises:
            TypeError: if ``service`` is not a `Service`, or a setting has the wrong type
                (``interval``, ``restart_window``, ``backoff_cap``, ``stop_timeout``: numbers;
                ``max_restarts``: int; ``restart``, ``critical``, ``required``, ``enabled``:
                bool).
            ValueError: if the name is taken or a setting is out of range (``interval`` > 0,
                the others >= 0).
        """
        if not isinstance(service, Service):
            raise TypeError(f"expected a Service, got {type(service).__name__}")
        name = name_string(service.component_name, "service name")
        _check_settings(service)
        with self._lock:
            if name in self._entries:
                raise ValueError(f"a service named {name!r} is already registered")
            entry = self._entries[name] = _Supervised(service)
            service.ctx = self._ctx
            if self._active and entry.enabled:
                self._launch(entry)
        return service

    def unregister(self, name: str) -> Service:
        """Stop the named service (if running) and forget it."""
        entry = self._get(name)
        self._halt(entry)
        with self._lock:
            del self._entries[name]
        return entry.service

    def __contains__(self, name: object) -> bool:
        """Whether a service of that name is registered."""
        return name in self._entries

    def __iter__(self) -> Iterator[Service]:
        """The registered services, in registration order (like ``rt.processes``)."""
        return iter([entry.service for entry in list(self._entries.values())])

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> Service | None:
        """The service registered as ``name``, or None (as in 0.42)."""
        entry = self._entries.get(name)
        return None if entry is None else entry.service

    def _get(self, name: str) -> _Supervised:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no service named {name!r}") from None

    # -- control at run time ---------------------------------------------------------------

    def status(self, name: str) -> ServiceStatus:
        return self._get(name).status()

    def statuses(self) -> list[ServiceStatus]:
        return [e.status() for e in list(self._entries.values())]

    def enable(self, name: str) -> None:
        """Allow the service to run, starting it now if the runtime is running."""
        entry = self._get(name)
        with self._lock:
            entry.enabled = True
            if self._active and not self._alive(entry):
                self._launch(entry)

    def disable(self, name: str) -> None:
        """Stop the service and keep it stopped until enabled."""
        entry = self._get(name)
        with self._lock:
            entry.enabled = False
        self._halt(entry)

    def start(self, name: str) -> None:
        """Start the service now (clearing its restart history).

        Raises:
            RuntimeError: if the service is disabled or the runtime is not running.
        """
        entry = self._get(name)
        with self._lock:
            if not entry.enabled:
                raise RuntimeError(f"service {name!r} is disabled; enable it instead")
            if not self._active:
                raise RuntimeError(f"cannot start service {name!r}: the runtime is not running")
            if not self._alive(entry):
                entry.restart_times.clear()
                self._launch(entry)

    def stop(self, name: str) -> None:
        """Stop the service now; it stays registered and enabled."""
        self._halt(self._get(name))

    # -- runtime hooks ---------------------------------------------------------------------

    def boot(self) -> list[tuple[Service, Exception]]:
        """Start every enabled service; return (service, exception) for required ones that
        failed to start."""
        with self._lock:
            self._active = True
            entries = [e for e in self._entries.values() if e.enabled]
            for entry in entries:
                self._launch(entry)
        failures = []
        for entry in entries:
            if entry.service.required:
                entry.started.wait(entry.service.stop_timeout or None)
                if entry.start_error is not None:
                    failures.append((entry.service, entry.start_error))
        return failures

    def shutdown(self) -> None:
        """Stop every service in reverse registration order, each bounded by its stop_timeout."""
        with self._lock:
            self._active = False
            entries = list(self._entries.values())
        for entry in entries:
            entry.stop.set()  # ask all at once; wait for each in reverse order
        for entry in reversed(entries):
            self._halt(entry)

    # -- the service thread ----------------------------------------------------------------

    def _threads(self) -> list[threading.Thread]:
        """The threads of the services running now."""
        with self._lock:
            return [e.thread for e in self._entries.values() if e.thread is not None]

    def _alive(self, entry: _Supervised) -> bool:
        return entry.thread is not None and entry.thread.is_alive()

    def _launch(self, entry: _Supervised) -> None:
        # Caller holds self._lock.
        entry.stop = threading.Event()
        entry.started = threading.Event()
        entry.start_error = None
        entry.state = "starting"
        thread = threading.Thread(
            target=self._run,
            args=(entry, entry.stop),
            name=f"bussdcc-service-{entry.name}",
            daemon=True,
        )
        entry.thread = thread
        thread.start()

    def _halt(self, entry: _Supervised) -> None:
        entry.stop.set()
        thread = entry.thread
        if thread is None or thread is threading.current_thread():
            return
        if self._ctx.events.in_dispatch():
            # Called from a handler: the service may need the bus (held by us) to emit
            # service.stopped, so waiting here would wait on ourselves. Wait elsewhere.
            threading.Thread(
                target=self._join, args=(entry, thread), name=f"bussdcc-stop-{entry.name}"
            ).start()
            return
        self._join(entry, thread)

    def _join(self, entry: _Supervised, thread: threading.Thread) -> None:
        thread.join(entry.service.stop_timeout)
        if thread.is_alive():
            entry.state = "abandoned"
            entry.last_error = f"did not stop within {entry.service.stop_timeout} s; abandoned"
            self._ctx.emit(ServiceError(service=entry.name, error=entry.last_error))

    def _report(self, entry: _Supervised, exc: Exception, event: str = "") -> None:
        error, tb = describe_failure(exc)
        entry.last_error = error
        self._ctx.emit(ServiceError(service=entry.name, error=error, traceback=tb, event=event))

    def _run(self, entry: _Supervised, stop: threading.Event) -> None:
        _owner.service = entry.name
        service, clock = entry.service, self._ctx.clock
        while not stop.is_set():
            clean = self._run_once(entry, stop)
            if clean or stop.is_set():
                entry.state = "stopped"
                return
            # The run ended in an error: decide between restart, stop and failure.
            if not service.restart:
                entry.state = "stopped"
                self._escalate(entry, f"stopped after error: {entry.last_error}", failed=False)
                return
            now = clock.monotonic()
            window = entry.restart_times
            while window and now - window[0] > service.restart_window:
                window.popleft()
            if len(window) >= service.max_restarts:
                entry.state = "failed"
                reason = (
                    f"more than {service.max_restarts} restarts within "
                    f"{service.restart_window} s; last error: {entry.last_error}"
                )
                self._ctx.emit(ServiceFailure(service=entry.name, reason=reason))
                self._escalate(entry, reason, failed=True)
                return
            window.append(now)
            entry.restarts += 1
            delay = self._backoff(service, len(window))
            entry.state = "backoff"
            self._ctx.emit(ServiceRestart(service=entry.name, attempt=len(window), delay=delay))
            if clock.sleep(delay, cancel=stop):
                entry.state = "stopped"
                return

    def _backoff(self, service: Service, attempt: int) -> float:
        # Exponential from interval to the cap, with "equal jitter": half fixed, half random,
        # so restarts of many services after one shared failure spread out.
        base = min(float(service.backoff_cap), float(service.interval) * 2.0 ** (attempt - 1))
        return base / 2 + self._rng.uniform(0.0, base / 2)

    def _escalate(self, entry: _Supervised, reason: str, *, failed: bool) -> None:
        if entry.service.critical:
            outcome = "failed" if failed else "stopped"
            self._on_critical(f"critical service {entry.name!r} {outcome}: {reason}")

    def _run_once(self, entry: _Supervised, stop: threading.Event) -> bool:
        """Start, tick until stopped or an error, stop. True when it ended without error."""
        service, ctx, clock = entry.service, self._ctx, self._ctx.clock
        try:
            service.start(ctx)
        except Exception as exc:
            self._report(entry, exc)
            entry.start_error = exc
            entry.started.set()
            return False
        entry.started.set()
        if _overrides(service, "handle_event", Service):
            entry.subscription = ctx.events.subscribe(
                service.subscriptions,
                lambda evt: service.handle_event(ctx, evt),
                on_error=lambda evt, exc: self._event_error(entry, evt, exc),
                label=f"service:{entry.name}",
            )
        entry.state = "running"
        ctx.emit(ServiceStarted(service=entry.name))
        interval = float(service.interval)
        origin = clock.monotonic()
        slot = 0
        clean = True
        try:
            while not stop.is_set():
                try:
                    service.tick(ctx)
                except Exception as exc:
                    self._report(entry, exc)
                    clean = False
                    break
                entry.ticks += 1
                entry.last_tick = clock.now_utc()
                now = clock.monotonic()
                slot += 1
                if origin + slot * interval < now:
                    # Overran: skip every slot already in the past rather than bursting.
                    slot = math.floor((now - origin) / interval) + 1
                if clock.sleep(origin + slot * interval - now, cancel=stop):
                    break
        finally:
            if entry.subscription is not None:
                entry.subscription.cancel()
                entry.subscription = None
            try:
                service.stop(ctx)
            except Exception as exc:
                self._report(entry, exc)
            reason = None if clean else entry.last_error
            ctx.emit(ServiceStopped(service=entry.name, reason=reason))
        return clean

    def _event_error(self, entry: _Supervised, evt: Event[Message], exc: Exception) -> Message:
        error, tb = describe_failure(exc)
        entry.last_error = error
        return ServiceError(
            service=entry.name, error=error, traceback=tb, event=wire_name(evt.payload)
        )
