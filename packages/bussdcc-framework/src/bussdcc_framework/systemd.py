"""`SystemdNotifier`: speaks systemd's sd_notify protocol for a runtime (READY, STOPPING, WATCHDOG).

The protocol is one datagram of ``KEY=value`` lines sent to the AF_UNIX socket named by
``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace); it is written here rather
than taken from a dependency because that is all there is to it.

The watchdog ping means "every supervised service is making progress", not merely "the
process exists": `judge_services` decides that from the supervisor's public statuses and the
clock alone (tested without threads in ``tests/test_systemd.py``), so a collector stuck in a
system call stops the pings and systemd restarts the process.

The framework `Runtime` adds a `SystemdNotifier` by itself when ``NOTIFY_SOCKET`` is set, so
every bussdcc application started by systemd with ``Type=notify`` gets this without code.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bussdcc.component import Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import RuntimeShuttingDown
from bussdcc.supervisor import ServiceStatus

from .message.framework import FrameworkBooted
from .message.systemd import SystemdNotifyFailed, WatchdogResumed, WatchdogWithheld

__all__ = [
    "DEFAULT_GRACE",
    "NOTIFY_SOCKET",
    "SystemdNotifier",
    "TickProgress",
    "WatchdogVerdict",
    "judge_services",
    "notify_address",
    "sd_notify",
    "watchdog_period",
]

log = logging.getLogger("bussdcc_framework.systemd")

NOTIFY_SOCKET = "NOTIFY_SOCKET"
DEFAULT_GRACE = 10.0
"""Seconds a service may go without a tick before it counts as hung, whatever its interval
(a 1 s collector reading a slow disk is late, not hung)."""

# States in which a service is supposed to tick; "stopped" is a deliberate stop (or a service
# built with restart=False ending after an error), which is not the watchdog's business.
_WATCHED = frozenset({"registered", "starting", "running", "backoff"})
_DEAD = frozenset({"failed", "abandoned"})


def notify_address(value: str) -> str | bytes:
    """The socket address for a ``NOTIFY_SOCKET`` value.

    An absolute path is returned as is; ``@name`` becomes the abstract-namespace address
    (a leading NUL byte).

    Raises:
        TypeError: if ``value`` is not a string.
        ValueError: if it is neither an absolute path nor ``@name``.
    """
    if not isinstance(value, str):
        raise TypeError(f"value must be a string, got {type(value).__name__}")
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    raise ValueError(f"NOTIFY_SOCKET must be an absolute path or an @abstract name, got {value!r}")


def sd_notify(address: str | bytes, state: str) -> None:
    """Send ``state`` (newline-separated ``KEY=value`` lines) as one datagram to ``address``.

    Raises:
        OSError: if the datagram cannot be sent (no such socket, permission denied, ...).
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.sendto(state.encode(), address)


def watchdog_period(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between watchdog pings for process ``pid``: half of ``WATCHDOG_USEC``.

    None when no watchdog is asked for, or when ``WATCHDOG_PID`` names another process
    (the variables were inherited from a parent that systemd watches).

    Raises:
        ValueError: if ``WATCHDOG_USEC`` or ``WATCHDOG_PID`` is not a positive integer.
    """
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner and _positive_int("WATCHDOG_PID", owner) != pid:
        return None
    return _positive_int("WATCHDOG_USEC", usec) / 2_000_000


def _positive_int(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class TickProgress:
    """A service's tick count and the monotonic time it was first seen at that count."""

    ticks: int
    seen: float


@dataclass(frozen=True, slots=True)
class WatchdogVerdict:
    """What `judge_services` concluded: the hung services, and the progress to pass next time."""

    hung: tuple[str, ...]
    progress: Mapping[str, TickProgress]

    @property
    def healthy(self) -> bool:
        return not self.hung


def judge_services(
    statuses: Iterable[ServiceStatus],
    intervals: Mapping[str, float],
    now: float,
    progress: Mapping[str, TickProgress],
    *,
    grace: float = DEFAULT_GRACE,
) -> WatchdogVerdict:
    """Which enabled services are hung at monotonic time ``now``.

    A service is hung when it has given up (``failed``, or ``abandoned`` after not stopping),
    or when it should be ticking (registered, starting, running or in restart backoff) but its
    tick count has not moved for more than ``max(2 * interval, grace)`` seconds. Progress is
    measured by the tick counter on the monotonic clock, not by ``last_tick`` (wall time),
    because a Raspberry Pi's clock jumps by months when NTP first syncs. A service seen for
    the first time starts its count at ``now``. Disabled and deliberately stopped services are
    not watched. ``intervals`` maps service names to their tick interval (a missing one counts
    as 1 s); the verdict's ``hung`` keeps the order of ``statuses``.

    Raises:
        ValueError: if ``grace`` is negative.
    """
    if grace < 0:
        raise ValueError(f"grace must be >= 0, got {grace}")
    hung: list[str] = []
    seen: dict[str, TickProgress] = {}
    for status in statuses:
        if not status.enabled:
            continue
        before = progress.get(status.name)
        current = before if before is not None and before.ticks == status.ticks else None
        if current is None:
            current = TickProgress(status.ticks, now)
        seen[status.name] = current
        if status.state in _DEAD:
            hung.append(status.name)
        elif status.state in _WATCHED:
            limit = max(2.0 * intervals.get(status.name, 1.0), grace)
            if now - current.seen > limit:
                hung.append(status.name)
    return WatchdogVerdict(tuple(hung), seen)


class SystemdNotifier(Process):
    """Tells systemd the runtime's state through ``NOTIFY_SOCKET``.

    Sends ``READY=1`` on ``framework.booted`` (after every service has started, so "ready"
    includes them) and ``STOPPING=1`` on ``runtime.shutting_down``. When systemd asks for a
    watchdog (``WATCHDOG_USEC``, and ``WATCHDOG_PID`` unset or this process), a thread judges
    the services every half ``WATCHDOG_USEC`` (on the runtime's clock) and sends
    ``WATCHDOG=1`` only while `judge_services` finds none hung; while it withholds the ping
    it says why in ``STATUS=`` and emits ``systemd.watchdog.withheld`` (once per change of the
    hung set), then ``systemd.watchdog.resumed``. A send that fails is reported as
    ``systemd.notify.failed`` once per failure streak; it never stops the runtime.

    ``environ`` (default `os.environ`, read at `attach`) supplies ``NOTIFY_SOCKET``,
    ``WATCHDOG_USEC`` and ``WATCHDOG_PID``. Without ``NOTIFY_SOCKET`` it does nothing.

    Raises:
        ValueError: from `attach` (reported as ``process.error``), when a variable is malformed;
            from the constructor, when ``grace`` is negative.
    """

    name = "systemd"
    subscriptions = (FrameworkBooted, RuntimeShuttingDown)

    def __init__(
        self, environ: Mapping[str, str] | None = None, *, grace: float = DEFAULT_GRACE
    ) -> None:
        if isinstance(grace, bool) or not isinstance(grace, int | float):
            raise TypeError(f"grace must be a number, got {grace!r}")
        if not grace >= 0:
            raise ValueError(f"grace must be >= 0, got {grace}")
        self.grace = float(grace)
        self._environ = environ
        self.address: str | bytes | None = None
        self.period: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._lock = threading.Lock()

    def attach(self, ctx: ContextProtocol) -> None:
        super().attach(ctx)
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(NOTIFY_SOCKET)
        self.address = notify_address(value) if value else None
        self.period = watchdog_period(environ, os.getpid()) if value else None

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if self.address is None:
            return
        if isinstance(evt.payload, FrameworkBooted):
            self.notify(ctx, "READY=1\nSTATUS=running")
            if self.period is not None and self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._watch,
                    args=(ctx, self.period, self._stop),
                    name="bussdcc-systemd-watchdog",
                    daemon=True,
                )
                self._thread.start()
        elif isinstance(evt.payload, RuntimeShuttingDown):
            # Only ask: the watchdog thread may be waiting to emit on the bus we hold.
            self._stop.set()
            self.notify(ctx, "STOPPING=1\nSTATUS=stopping")

    def stop(self, ctx: ContextProtocol) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def notify(self, ctx: ContextProtocol, state: str) -> bool:
        """Send ``state`` now; False (and ``systemd.notify.failed`` once per streak) on failure."""
        if self.address is None:
            return False
        try:
            sd_notify(self.address, state)
        except OSError as exc:
            with self._lock:
                first, self._failing = not self._failing, True
            if first:
                log.warning("cannot notify systemd (%s): %s", state.splitlines()[0], exc)
                ctx.emit(SystemdNotifyFailed(state=state, error=f"{type(exc).__name__}: {exc}"))
            return False
        with self._lock:
            self._failing = False
        return True

    def _watch(self, ctx: ContextProtocol, period: float, stop: threading.Event) -> None:
        services = ctx.runtime.services
        progress: Mapping[str, TickProgress] = {}
        hung: tuple[str, ...] = ()
        while not stop.is_set():
            intervals: dict[str, float] = {}
            statuses = services.statuses()
            for status in statuses:
                service = services.get(status.name)
                if service is not None:  # None: unregistered since statuses() was taken
                    intervals[status.name] = float(service.interval)
            verdict = judge_services(
                statuses, intervals, ctx.clock.monotonic(), progress, grace=self.grace
            )
            progress = verdict.progress
            if verdict.hung != hung:
                if verdict.hung:
                    log.error("withholding the systemd watchdog: %s hung", ", ".join(verdict.hung))
                    ctx.emit(WatchdogWithheld(services=verdict.hung))
                else:
                    ctx.emit(WatchdogResumed())
            if verdict.healthy:
                self.notify(ctx, "WATCHDOG=1" if not hung else "WATCHDOG=1\nSTATUS=running")
            elif verdict.hung != hung:
                self.notify(ctx, f"STATUS=not ticking: {', '.join(verdict.hung)}")
            hung = verdict.hung
            if ctx.clock.sleep(period, cancel=stop):
                return
