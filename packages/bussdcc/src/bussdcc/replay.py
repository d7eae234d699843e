"""Replay: the `EventSource` and `EventSink` protocols and the deterministic `ReplayRuntime`."""

from __future__ import annotations

import enum
import itertools
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from ._validate import non_negative_number
from .clock import _DEFAULT_MAX_GAP, ReplayClock
from .component import _overrides
from .event import Event
from .extension import RuntimeExtension
from .runtime import Runtime

if TYPE_CHECKING:
    from .context import ContextProtocol

__all__ = ["EventSink", "EventSource", "ReplayRuntime"]

_logger = logging.getLogger(__name__)


class _Keep(enum.Enum):
    """`ReplayRuntime.replay`'s default ``max_gap``: keep the clock's (None means no limit)."""

    KEEP = enum.auto()


_KEEP: Final = _Keep.KEEP


@runtime_checkable
class EventSource(Protocol):
    """Anything that yields recorded events in time order."""

    def __iter__(self) -> Iterator[Event[Any]]: ...


@runtime_checkable
class EventSink(Protocol):
    """Receives every event: `start` before boot, `handle` each, `stop` after shutdown."""

    def start(self, ctx: ContextProtocol) -> None: ...

    def handle(self, evt: Event[Any]) -> None: ...

    def stop(self) -> None: ...


class ReplayRuntime(Runtime):
    """A runtime whose clock follows recorded events: the same input gives the same run.

    `replay(source)` sets the `ReplayClock` to the first event's time, boots, re-emits each
    event with its original time (pacing by ``speed``; 0 is as fast as possible), and shuts
    down at the end. Processes see the replayed events exactly as they saw them live, so the
    same source gives the same state and the same event sequence every time.

    After each re-emitted event (and everything it caused) has been delivered, every
    registered `RuntimeExtension` gets ``replayed(runtime, original, emitted)``: ``original``
    as the source gave it (recorded time and ``seq``), ``emitted`` as this run numbered it.
    That is how a recorder sees exactly the recorded events and not the ones derived from them.

    Gaps between events longer than ``max_gap`` seconds (default 10; None keeps real gaps)
    are shortened, a step backwards in time is followed without waiting, and an event whose
    time the clock cannot represent (within reach of year 1 or 9999) is skipped with a
    warning and counted in `skipped`; see `ReplayClock`. None of these depends on ``speed``.
    """

    clock: ReplayClock

    def __init__(
        self,
        speed: float = 1.0,
        *,
        max_gap: float | None = _DEFAULT_MAX_GAP,
        clock: ReplayClock | None = None,
    ) -> None:
        """Raises ``TypeError``/``ValueError`` for a ``speed`` that is not a number >= 0 or a
        ``max_gap`` that is not None or a number >= 0. A given ``clock`` keeps its own
        ``speed`` and ``max_gap``."""
        super().__init__(clock=clock or ReplayClock(speed=speed, max_gap=max_gap))
        self._cancel = threading.Event()
        self.replayed = 0
        """How many events the last `replay` re-emitted."""
        self.skipped = 0
        """How many events the last `replay` skipped because their time is out of range."""

    def replay(
        self,
        source: Iterable[Event[Any]],
        speed: float | None = None,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
        *,
        max_gap: float | _Keep | None = _KEEP,
    ) -> int:
        """Replay ``source`` (events in time order) between ``start_at`` (inclusive) and
        ``end_at`` (exclusive); return how many events were re-emitted. ``speed`` and
        ``max_gap``, when given, replace the clock's (None for ``max_gap``: keep real gaps).

        Raises:
            TypeError: if ``source`` is not iterable or yields something that is not an Event,
                or ``speed`` or ``max_gap`` is not a number.
            ValueError: if ``speed`` or ``max_gap`` is negative or NaN.
        """
        if not isinstance(source, Iterable):
            raise TypeError(f"replay source must be iterable, got {type(source).__name__}")
        if speed is not None:
            self.clock.speed = non_negative_number(speed, "replay speed")
        if max_gap is not _KEEP:
            self.clock.max_gap = max_gap
        # Without a window, the loop below checks each item itself: a generator in between
        # would cost a resume per event.
        windowed = start_at is not None or end_at is not None
        events = self._window(source, start_at, end_at) if windowed else iter(source)
        self.skipped = 0
        first = next(events, None)
        while first is not None:
            if not isinstance(first, Event):
                raise TypeError(f"replay source item {self.skipped} is not an Event: {first!r}")
            try:
                self.clock.start_at(first.time)
                break
            except OverflowError:
                self._skip(first)
                first = next(events, None)
        self.boot()
        # Each service's first tick runs at once in its own thread: let them all reach their
        # sleep on the replay clock before the first event, so that order never depends on
        # thread scheduling (or the clock runs ahead of a service still starting).
        self.clock._wait_idle(self.services._threads())
        self.replayed = 0
        listeners = [
            ext for ext in self.extensions if _overrides(ext, "replayed", RuntimeExtension)
        ]
        # The loop runs once per recorded event: bind what it calls, and publish directly
        # (an Event's time and payload were validated when it was built).
        # An Event is a (stamp, payload, seq) tuple; reading the items skips two property calls
        # (a float stamp, from a live runtime's events, still goes through `time`).
        advance_to, cancel, publish = self.clock.advance_to, self._cancel, self.events._publish
        try:
            for evt in itertools.chain((first,) if first is not None else (), events):
                if not (windowed or isinstance(evt, Event)):
                    # Unwindowed, every earlier item was replayed: the count is the index.
                    raise TypeError(f"replay source item {self.replayed} is not an Event: {evt!r}")
                time = evt[0]
                if time.__class__ is not datetime:
                    time = evt.time
                try:
                    if self._phase != "running" or advance_to(time, cancel):
                        break
                except OverflowError:
                    self._skip(evt)
                    continue
                emitted = publish(evt[1], time)
                self.replayed += 1
                for ext in listeners:
                    try:
                        ext.replayed(self, evt, emitted)
                    except Exception as exc:
                        self._report_extension(ext, "replayed", exc)
        finally:
            self.shutdown("replay complete")
        return self.replayed

    def _skip(self, evt: Event[Any]) -> None:
        self.skipped += 1
        _logger.warning(
            "replay: skipped %s at %s: the time is out of the clock's range",
            evt.payload.name,
            evt.time.isoformat(),
        )

    @staticmethod
    def _window(
        source: Iterable[Event[Any]], start_at: datetime | None, end_at: datetime | None
    ) -> Iterator[Event[Any]]:
        for index, evt in enumerate(source):
            if not isinstance(evt, Event):
                raise TypeError(f"replay source item {index} is not an Event: {evt!r}")
            if start_at is not None and evt.time < start_at:
                continue
            if end_at is not None and evt.time >= end_at:
                continue
            yield evt

    def shutdown(self, reason: str | None = None) -> None:
        self._cancel.set()  # stop pacing at once
        super().shutdown(reason)
