"""`SignalHandling`: POSIX signals drive a runtime (a `RuntimeExtension`, usable by any runtime).

Also the latch a runtime's ``wait()`` blocks on, which keeps the main thread responsive to
signals whichever thread the OS delivers them to.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from .extension import RuntimeExtension
from .message import SystemReload, SystemSignal

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["SignalHandling"]

# Where the main thread cannot wait on a pipe (not POSIX), it wakes this often so that a
# Ctrl-C flagged by the C-level handler gets its Python handler run.
_WAIT_SLICE = 0.5


class _Latch:
    """A one-shot flag (like `threading.Event`) whose waits never deafen the main thread.

    CPython runs a Python signal handler only in the main thread, and only when that thread
    executes bytecode. A signal the OS delivers to the main thread interrupts a blocking
    wait (EINTR), but one delivered to any other thread -- the kernel picks any thread that
    does not block it, and ``tgkill`` picks one on purpose -- only sets a flag and writes the
    signal number to the wakeup fd, if one is set. ``Event.wait(None)`` would sleep through
    that forever. So, in the main thread on POSIX, `wait` blocks in ``select`` on a pipe that
    is both the process's signal wakeup fd (``signal.set_wakeup_fd``) and the latch's own
    wake-up: any signal, to any thread, returns ``select`` and its handler runs at once;
    `set` writes to the same pipe. No periodic wake-up: a process idle for months does not
    tick. Masking signals in other threads (``pthread_sigmask``) was rejected: a thread
    started before the mask, or by a C library, still receives them, and a signal aimed at a
    thread that blocks it stays pending on that thread and never reaches the handler.

    Elsewhere (another thread, or no ``select`` on pipes: Windows) it waits on an Event,
    in slices of `_WAIT_SLICE` in the main thread.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._wakers: set[int] = set()  # write ends of the pipes main-thread waits select on

    def is_set(self) -> bool:
        return self._event.is_set()

    def clear(self) -> None:
        """Unset it again (a runtime booted anew after shutdown, the 0.42 way)."""
        self._event.clear()

    def set(self) -> None:
        self._event.set()
        with self._lock:
            for fd in self._wakers:
                with contextlib.suppress(OSError):  # full (already readable) or closing
                    os.write(fd, b"\0")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set (True) or ``timeout`` seconds passed (False)."""
        if self._event.is_set():
            return True
        if threading.current_thread() is not threading.main_thread():
            return self._event.wait(timeout)
        if os.name != "posix":
            return self._sliced_wait(timeout)
        return self._select_wait(timeout)

    def _sliced_wait(self, timeout: float | None) -> bool:
        if timeout is not None:
            # Event.wait(timeout) is interruptible by Ctrl-C on Windows since Python 3.2.
            return self._event.wait(timeout)
        while not self._event.wait(_WAIT_SLICE):
            pass
        return True

    def _select_wait(self, timeout: float | None) -> bool:
        read_end, write_end = os.pipe()
        try:
            os.set_blocking(read_end, False)
            os.set_blocking(write_end, False)
            with self._lock:
                self._wakers.add(write_end)
            # A nested wait (from a signal handler) or another library may own the wakeup
            # fd: take it for the duration of the wait and give it back after.
            try:
                previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
            except ValueError:  # not the main interpreter: signals are not ours to hear
                return self._sliced_wait(timeout)
            try:
                return self._select_loop(read_end, timeout)
            finally:
                signal.set_wakeup_fd(previous)
        finally:
            with self._lock:
                self._wakers.discard(write_end)
            os.close(read_end)
            os.close(write_end)

    def _select_loop(self, read_end: int, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._event.is_set():
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
            # Returns on a signal to any thread (its handler runs as soon as select
            # returns, before the next line), on set(), or at the deadline.
            ready, _, _ = select.select([read_end], [], [], remaining)
            if ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(read_end, 512):
                        pass
        return True


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
