"""Clocks: `ClockProtocol`, the real `SystemClock`; steppable `ManualClock`, `ReplayClock`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from ._validate import aware_datetime, non_negative_number, number, positive_number

__all__ = ["ClockProtocol", "ManualClock", "ReplayClock", "SystemClock"]

# How often a sleeper on a stepped clock re-checks its cancel event. threading.Event offers
# no way to wait on two events at once, and a cancel must not wait for the clock to move.
_CANCEL_POLL = 0.01


@runtime_checkable
class ClockProtocol(Protocol):
    """What every clock offers. The runtime, the bus and the supervisor only use this."""

    def now_utc(self) -> datetime:
        """The current wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    def uptime(self) -> float:
        """Seconds since the clock was created."""
        ...

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Wait ``seconds``; return True if ``cancel`` was set first, else False."""
        ...


class SystemClock:
    """The real clock: `datetime.now(UTC)`, `time.monotonic()` and real sleeping."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def now_utc(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        """POSIX seconds: the bus stamps events with this and converts only on demand."""
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def uptime(self) -> float:
        return time.monotonic() - self._started

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        seconds = max(0.0, number(seconds, "seconds"))
        if cancel is None:
            time.sleep(seconds)
            return False
        return cancel.wait(seconds)


class ManualClock:
    """A clock that moves only when told to: the way to test time-driven code without sleeping.

    Threads calling `sleep` block until `advance` or `jump` moves the clock past their deadline
    (or their ``cancel`` event is set). `advance` steps through due deadlines in order, waking
    one sleeper at a time and letting it run until it sleeps again or exits, so a service with
    a 1 s interval ticks ten times during ``advance(10)``. `jump` moves straight to the target
    and wakes every due sleeper at once, as a stalled machine would.
    """

    def __init__(self, start: datetime | None = None, *, step_timeout: float = 5.0) -> None:
        """Start at ``start`` (default 2000-01-01 UTC), monotonic time 0.

        Raises:
            TypeError: if ``start`` is not a datetime or ``step_timeout`` not a number.
            ValueError: if ``start`` is naive or ``step_timeout`` is not > 0.
        """
        if start is None:
            start = datetime(2000, 1, 1, tzinfo=UTC)
        self._start = aware_datetime(start, "start").astimezone(UTC)
        self._now = 0.0
        self._cond = threading.Condition()
        # sleeping thread -> its deadline; one entry per blocked thread
        self._sleepers: dict[threading.Thread, float] = {}
        self._step_timeout = positive_number(step_timeout, "step_timeout")

    # -- reading ---------------------------------------------------------------------------

    def now_utc(self) -> datetime:
        return self._start + timedelta(seconds=self._now)

    def monotonic(self) -> float:
        return self._now

    def uptime(self) -> float:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many threads are blocked in `sleep` right now."""
        with self._cond:
            return len(self._sleepers)

    def next_deadline(self) -> float | None:
        """The earliest monotonic deadline among sleepers, or None."""
        with self._cond:
            return min(self._sleepers.values(), default=None)

    # -- sleeping --------------------------------------------------------------------------

    def sleep(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        seconds = max(0.0, number(seconds, "seconds"))
        me = threading.current_thread()
        with self._cond:
            deadline = self._now + seconds
            if deadline <= self._now:
                return bool(cancel is not None and cancel.is_set())
            self._sleepers[me] = deadline
            self._cond.notify_all()
            try:
                while self._now < deadline:
                    if cancel is not None and cancel.is_set():
                        return True
                    self._cond.wait(_CANCEL_POLL if cancel is not None else None)
                return False
            finally:
                self._sleepers.pop(me, None)
                self._cond.notify_all()

    def wait_for_sleepers(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` threads sleep on this clock; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._sleepers) >= count, timeout)

    def _wait_idle(self, threads: list[threading.Thread]) -> bool:
        """Block until each of ``threads`` sleeps on this clock or has ended (bounded by
        step_timeout); False if one is still busy then."""
        give_up = time.monotonic() + self._step_timeout
        with self._cond:
            while not all(t in self._sleepers or not t.is_alive() for t in threads):
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    return False
                # an ending thread never notifies the condition, so poll
                self._cond.wait(min(remaining, _CANCEL_POLL))
        return True

    # -- moving ----------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``, waking due sleepers one at a time in deadline order.

        Raises:
            TypeError: if ``seconds`` is not a number.
            ValueError: if ``seconds`` is negative or NaN.
        """
        seconds = number(seconds, "seconds")
        if seconds < 0:
            raise ValueError(
                f"seconds must be >= 0: cannot advance a clock backwards ({seconds} s)"
            )
        with self._cond:
            self._step_to(self._now + seconds)

    def jump(self, seconds: float) -> None:
        """Move forward by ``seconds`` at once, waking every due sleeper together.

        Raises:
            TypeError: if ``seconds`` is not a number.
            ValueError: if ``seconds`` is negative or NaN.
        """
        seconds = number(seconds, "seconds")
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0: cannot jump a clock backwards ({seconds} s)")
        with self._cond:
            self._now += seconds
            self._cond.notify_all()

    def _await_step(self, thread: threading.Thread, deadline: float) -> None:
        # Let the woken thread run until it sleeps again on this clock or finishes; one that
        # blocks on something else is given up on after step_timeout real seconds.
        def woke() -> bool:
            return self._sleepers.get(thread) != deadline

        def settled() -> bool:
            return thread in self._sleepers or not thread.is_alive()

        self._cond.wait_for(woke, self._step_timeout)
        # A thread that ends never notifies the condition, so poll for that case.
        give_up = time.monotonic() + self._step_timeout
        while not settled():
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(min(remaining, _CANCEL_POLL))

    def _step_to(self, target: float) -> None:
        # Caller holds self._cond.
        while True:
            due = [(d, t) for t, d in self._sleepers.items() if d <= target]
            if not due:
                break
            deadline, thread = min(due, key=lambda item: item[0])
            self._now = max(self._now, deadline)
            self._cond.notify_all()
            self._await_step(thread, deadline)
        self._now = max(self._now, target)
        self._cond.notify_all()


_DEFAULT_MAX_GAP = 10.0
"""Seconds: the longest gap between two events a `ReplayRuntime` keeps (see `ReplayClock`)."""


class ReplayClock(ManualClock):
    """A clock whose time follows replayed events.

    `advance_to(time)` moves the clock to an event's time; with ``speed`` > 0 it first waits
    in real time for the gap divided by ``speed`` (2.0 replays twice as fast); ``speed`` 0
    replays as fast as possible.

    Any recorded time is survived:

    - a gap longer than ``max_gap`` seconds (None, the default here, keeps every gap;
      `ReplayRuntime` passes 10 s) is shortened to ``max_gap``: the replay waits
      ``max_gap / speed`` and the monotonic clock (what services tick by) moves
      ``max_gap``, while `now_utc` still becomes the
      event's time, as a wall clock stepping forward would. This does not depend on
      ``speed``, so the state and event sequence stay the same at every speed;
    - a step backwards (a wall-clock correction in the recording) moves `now_utc` back to the
      event's time without waiting; the monotonic clock never goes back;
    - a wait longer than the platform can sleep (``threading.TIMEOUT_MAX``) is cut to it, so a
      recorded year 0001 or 9999 never raises ``OverflowError``.

    Controls, usable from any thread while a replay runs: `pause` holds the replay before
    the next event (or in the middle of a wait) until `resume`; a new ``speed`` applies to
    the rest of the current wait within `CONTROL_LATENCY` seconds; `seek` replays every event
    before a time without pacing or pausing. None of them changes which events are replayed
    or in what order, so the state reached is the one a straight replay reaches.
    """

    CONTROL_LATENCY = 0.05
    """Seconds: how late a pause or speed change may be noticed during a wait."""

    def __init__(
        self,
        start: datetime | None = None,
        *,
        speed: float = 1.0,
        max_gap: float | None = None,
    ) -> None:
        """Raises ``TypeError``/``ValueError`` as `ManualClock`, for a ``speed`` < 0, and for
        a ``max_gap`` that is not None or a number >= 0."""
        super().__init__(start)
        self.speed = non_negative_number(speed, "replay speed")
        self.max_gap = max_gap
        self._started_at = start is not None
        # Controls (see `pause`, `seek`): set from any thread, read by the replaying one.
        self._paused = False
        self._holding = False
        self._seek_to: datetime | None = None

    @property
    def max_gap(self) -> float | None:
        """The longest gap kept, in seconds; None keeps every gap as recorded."""
        return self._max_gap

    @max_gap.setter
    def max_gap(self, value: float | None) -> None:
        self._max_gap = None if value is None else non_negative_number(value, "max_gap")

    def start_at(self, time_utc: datetime) -> None:
        """Set the clock's origin to ``time_utc`` (only before it has moved).

        Raises:
            TypeError: if ``time_utc`` is not a datetime.
            ValueError: if it is naive.
        """
        time_utc = aware_datetime(time_utc, "time_utc")
        with self._cond:
            self._start = time_utc.astimezone(UTC) - timedelta(seconds=self._now)
            self._started_at = True

    def advance_to(self, time_utc: datetime, cancel: threading.Event | None = None) -> bool:
        """Move to ``time_utc``, pacing by ``speed`` and shortening gaps beyond ``max_gap``;
        True if cancelled."""
        if not self._started_at:
            self.start_at(time_utc)
        # Once per replayed event: seconds since the origin, not a datetime per call.
        target = (time_utc - self._start).total_seconds()
        gap = target - self._now
        if (self._paused or self._seek_to is not None) and self._hold(time_utc, cancel):
            return True
        if gap <= 0:
            if gap < 0:
                self._rebase(time_utc)  # a step back: the wall clock follows, monotonic stays
            return bool(cancel is not None and cancel.is_set())
        max_gap = self._max_gap
        if max_gap is not None and gap > max_gap:
            gap = max_gap
            target = self._now + max_gap
            self._rebase(time_utc - timedelta(seconds=max_gap))
        if self.speed > 0 and self._pace(time_utc, gap, cancel):
            return True
        # acquire/release are the lock's own (C) methods; `with` would add two Python calls.
        cond = self._cond
        cond.acquire()
        try:
            if self._sleepers:
                self._step_to(target)
            elif target > self._now:
                # Nobody sleeps on this clock, so nobody to wake: just move.
                self._now = target
        finally:
            cond.release()
        return False

    def _rebase(self, time_utc: datetime) -> None:
        """Make `now_utc` read ``time_utc`` without moving the monotonic clock."""
        with self._cond:
            self._start = time_utc - timedelta(seconds=self._now)

    # --- controls ---------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """Whether `pause` holds the replay (it may still be finishing a seek)."""
        return self._paused

    @property
    def holding(self) -> bool:
        """Whether the replay is waiting right now because of `pause`: every event before
        the held one has been replayed and nothing more will be until `resume`."""
        return self._holding

    @property
    def seeking(self) -> datetime | None:
        """The time `seek` is replaying to, or None once reached (or never asked)."""
        return self._seek_to

    def pause(self) -> None:
        """Hold the replay before its next event (or within `CONTROL_LATENCY` of a wait in
        progress, the rest of which is kept) until `resume`. Idempotent."""
        self._paused = True

    def resume(self) -> None:
        """Let a paused replay go on. Idempotent."""
        self._paused = False

    def seek(self, time_utc: datetime | None) -> None:
        """Replay every event before ``time_utc`` as fast as possible (neither paced nor
        held by `pause`), then go on as before: paused if paused, else at ``speed``.

        The clock only moves forwards: a ``time_utc`` at or before the clock's is reached
        at once, and getting back to it means replaying the source from its start with a
        seek to it. None cancels a seek in progress.

        Raises:
            TypeError: if ``time_utc`` is not a datetime or None.
            ValueError: if it is naive.
        """
        if time_utc is not None:
            time_utc = aware_datetime(time_utc, "time_utc")
            if self._started_at and time_utc <= self.now_utc():
                time_utc = None  # already there
        self._seek_to = time_utc

    def _skipping(self, time_utc: datetime) -> bool:
        """Whether the event at ``time_utc`` lies before the seek target (reached: cleared)."""
        seek_to = self._seek_to
        if seek_to is None:
            return False
        if time_utc < seek_to:
            return True
        self._seek_to = None
        return False

    def _hold(self, time_utc: datetime, cancel: threading.Event | None) -> bool:
        """Wait while paused (unless seeking past ``time_utc``); True if cancelled."""
        if self._skipping(time_utc):
            return False
        self._holding = self._paused
        try:
            while self._paused:
                if _nap(self.CONTROL_LATENCY, cancel):
                    return True
                if self._skipping(time_utc):  # a seek arrived while held
                    return False
        finally:
            self._holding = False
        return False

    def _pace(self, time_utc: datetime, gap: float, cancel: threading.Event | None) -> bool:
        """Wait ``gap`` recorded seconds in real time at ``speed``, re-reading the controls
        every `CONTROL_LATENCY` seconds; True if cancelled."""
        if self._skipping(time_utc):
            return False
        left = gap  # recorded seconds still to wait
        while left > 0:
            if self._paused and self._hold(time_utc, cancel):
                return True
            speed = self.speed
            if speed <= 0 or self._seek_to is not None:
                return False  # full speed now, or a seek arrived: no more waiting
            # TIMEOUT_MAX bounds one wait, so no recorded gap makes the wait overflow.
            step = min(left / speed, self.CONTROL_LATENCY, threading.TIMEOUT_MAX)
            began = time.monotonic()
            if _nap(step, cancel):
                return True
            left -= (time.monotonic() - began) * speed
        return False


def _nap(seconds: float, cancel: threading.Event | None) -> bool:
    """Sleep ``seconds`` in real time; True (at once) if ``cancel`` is set."""
    if cancel is not None:
        return cancel.wait(seconds)
    time.sleep(seconds)
    return False
