"""`SignalHandling`: POSIX signals drive a runtime (a `RuntimeExtension`, usable by any runtime)."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from .extension import RuntimeExtension
from .message import SystemReload, SystemSignal

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["SignalHandling"]


class SignalHandling(RuntimeExtension):
    """Turns POSIX signals into runtime actions while the runtime runs.

    Booted from the main thread, it installs handlers before ``runtime.booting`` (so a signal
    arriving at any point after boot is handled): SIGINT and SIGTERM shut the runtime down
    (reason ``"signal SIGTERM"``); SIGHUP emits ``system.reload``; SIGUSR1 and SIGUSR2 emit
    ``system.signal``. The previous handlers come back after shutdown when it ends in the
    main thread, or when the main thread calls `restore` (``SignalRuntime.run`` does). Booted
    from another thread it does nothing: Python only lets the main thread handle signals.

    Use it through ``SignalRuntime`` or on any runtime: ``rt.extend(SignalHandling())``.
    """

    shutdown_signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
    handled_signals: tuple[signal.Signals, ...] = (
        *shutdown_signals,
        signal.SIGHUP,
        signal.SIGUSR1,
        signal.SIGUSR2,
    )

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._runtime: Runtime | None = None

    @property
    def installed(self) -> bool:
        """Whether this extension's handlers are installed right now."""
        return bool(self._previous)

    def before_boot(self, runtime: Runtime) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._runtime = runtime
        for sig in self.handled_signals:
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def after_shutdown(self, runtime: Runtime, reason: str | None) -> None:
        self.restore()

    def restore(self) -> None:
        """Put the previous handlers back (idempotent; only the main thread can, so elsewhere
        this does nothing and the main thread's later call does it)."""
        if threading.current_thread() is not threading.main_thread():
            return
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # A signal handler interrupts the main thread at any point, so it only hands work to
        # a fresh thread and never takes a lock itself.
        runtime = self._runtime
        if runtime is None:
            return
        name = signal.Signals(signum).name
        work: Callable[[], object]
        if signum in self.shutdown_signals:
            work = functools.partial(runtime.shutdown, f"signal {name}")
        elif signum == signal.SIGHUP:
            work = functools.partial(runtime.emit, SystemReload(signal=signum))
        else:
            work = functools.partial(runtime.emit, SystemSignal(signal=signum, action=name))
        threading.Thread(target=work, name=f"bussdcc-{name}", daemon=True).start()
