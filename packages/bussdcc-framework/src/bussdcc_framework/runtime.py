"""The framework runtimes: the kernel runtimes plus sinks, sources, event counts and signals.

`Runtime` is what a live system runs; `ReplayRuntime` plays recorded sources through the same
processes. Both are the kernel's public runtimes with one `RuntimeExtension` (the recorder)
registered: it starts the sinks before boot and stops them after shutdown, so they record the
whole lifecycle; feeds every sink through one delivery routine with one failure policy (a
failing sink is isolated and reported as one ``sink.error`` per failure streak); and counts
the events. Nothing here overrides a private method of the kernel.

Which events the sinks receive:

* live `Runtime`: every event on the bus, as emitted -- except history restored from
  `add_source` at boot (and what processes derive from it), which is on disk already;
* `ReplayRuntime`: exactly the recorded events as the source gives them (original time and
  ``seq``), through the kernel's ``replayed`` hook -- not the events processes derive from
  them, so re-recording a replay reproduces the recording.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import bussdcc
from bussdcc import (
    ClockProtocol,
    Event,
    EventSink,
    EventSource,
    Message,
    ReplayClock,
    RuntimeExtension,
    SignalHandling,
    describe_failure,
)
from bussdcc.message import wire_name

from .message.framework import FrameworkBooted, FrameworkShuttingDown, SinkError
from .systemd import NOTIFY_SOCKET, SystemdNotifier
from .version import __version__

__all__ = ["COUNTS_PATH", "COUNTS_REFRESH", "ReplayRuntime", "Runtime", "merge_sources"]

log = logging.getLogger("bussdcc_framework.runtime")

COUNTS_PATH = "framework.events"
"""Where the event counts are copied in state: ``{"total", "by_name", "by_severity"}``."""

COUNTS_REFRESH = 1.0
"""Seconds (of the runtime's clock) between two copies of the counts into state."""


def _label(sink: object) -> str:
    return getattr(sink, "name", None) or type(sink).__name__


def _check_sink(sink: object) -> EventSink:
    if not isinstance(sink, EventSink):
        raise TypeError(
            f"a sink needs start(ctx), handle(evt) and stop() methods; got {type(sink).__name__}"
        )
    return sink


def _check_source(source: object) -> EventSource:
    if not isinstance(source, Iterable):
        raise TypeError(f"a source must be an iterable of events; got {type(source).__name__}")
    return source


def merge_sources(sources: Iterable[EventSource]) -> Iterator[Event[Any]]:
    """Interleave several time-ordered sources into one, by event time (stable)."""
    sources = list(sources)
    if len(sources) == 1:
        return iter(sources[0])  # nothing to interleave: skip the heap and its key calls
    return heapq.merge(*sources, key=lambda evt: evt.time)


class _Feed:
    """One sink and its failure streak: one ``sink.error`` per streak, every failure counted."""

    __slots__ = ("failing", "failures", "label", "sink")

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.label = _label(sink)
        self.failing = False
        self.failures = 0

    def failed(self, evt: Event[Any] | None, exc: Exception) -> Message | None:
        """Count a failure; the report to emit if it starts a streak, else None.

        Never raises, whatever the event holds (a payload without a name, an exception
        whose ``str`` raises): a sink failure is always reported.
        """
        self.failures += 1
        if self.failing:
            return None  # same streak: reported already
        self.failing = True
        error, tb = describe_failure(exc)
        event = wire_name(evt.payload) if evt is not None else ""
        return SinkError(sink=self.label, error=error, traceback=tb, event=event)


class _Recorder(RuntimeExtension):
    """The framework's part of a runtime's lifecycle: sinks, restored history, event counts."""

    name = "framework"

    def __init__(self, runtime: bussdcc.Runtime, *, live: bool) -> None:
        self.runtime = runtime
        self.live = live
        self.sources: list[EventSource] = []
        # Copy-on-write: delivery iterates whatever tuple is current, without a lock.
        self.feeds: tuple[_Feed, ...] = ()
        self._feeds_lock = threading.Lock()
        self._sinks_started = False
        # Whether events on the bus go to the sinks: only in a live runtime, only between
        # starting and stopping the sinks, and not while restoring history.
        self._record_bus = False
        self._counts: dict[type[Message], int] = {}
        self._monotonic = runtime.clock.monotonic
        self._next_refresh = float("-inf")
        runtime.events.subscribe(Message, self._on_event, label="framework:recorder")

    # -- sinks --------------------------------------------------------------------------------

    def add_sink(self, sink: EventSink) -> None:
        feed = _Feed(_check_sink(sink))
        with self._feeds_lock:
            # Started before it joins the feeds, so it never handles an event unstarted.
            if self._sinks_started:
                self._start(feed)
            self.feeds = (*self.feeds, feed)

    def _start(self, feed: _Feed) -> None:
        try:
            feed.sink.start(self.runtime.ctx)
        except Exception as exc:
            self._report(feed, None, exc)

    def _report(self, feed: _Feed, evt: Event[Any] | None, exc: Exception) -> None:
        try:
            report = feed.failed(evt, exc)
            if report is not None:
                # From inside a handler this is queued and delivered after the current event.
                self.runtime.ctx.emit(report)
        except Exception:  # pragma: no cover - failed() is built not to raise
            log.exception("reporting a failure of sink %s failed", feed.label)

    def record(self, evt: Event[Any]) -> None:
        """Give ``evt`` to every sink: the one way events reach sinks."""
        for feed in self.feeds:
            try:
                feed.sink.handle(evt)
            except Exception as exc:
                self._report(feed, evt, exc)
            else:
                feed.failing = False

    # -- the bus ------------------------------------------------------------------------------

    def _on_event(self, evt: Event[Any]) -> None:
        counts = self._counts
        cls = evt.payload.__class__
        counts[cls] = counts.get(cls, 0) + 1
        if self._record_bus:
            self.record(evt)
        # Copying the counts into state costs far more than counting: do it at most once per
        # COUNTS_REFRESH, on the first event after the interval (so a quiet system is exact).
        now = self._monotonic()
        if now >= self._next_refresh:
            self._next_refresh = now + COUNTS_REFRESH
            self.publish_counts()

    def counts(self) -> dict[str, Any]:
        """Exact counts now: ``{"total": n, "by_name": {...}, "by_severity": {...}}``."""
        by_name: dict[str, int] = {}
        by_severity: dict[str, int] = {}
        total = 0
        for cls, n in list(self._counts.items()):
            total += n
            name = wire_name(cls)
            by_name[name] = by_name.get(name, 0) + n
            label = cls.severity.label
            by_severity[label] = by_severity.get(label, 0) + n
        return {"total": total, "by_name": by_name, "by_severity": by_severity}

    def publish_counts(self) -> None:
        self.runtime.state.set(COUNTS_PATH, self.counts())

    # -- lifecycle hooks ----------------------------------------------------------------------

    def before_boot(self, runtime: bussdcc.Runtime) -> None:
        with self._feeds_lock:
            self._sinks_started = True
            for feed in self.feeds:
                self._start(feed)
        self._record_bus = self.live

    def before_services(self, runtime: bussdcc.Runtime) -> None:
        if not (self.live and self.sources):
            return
        # Restored history is on disk already: the sinks stay out of it.
        self._record_bus = False
        try:
            emit_at = runtime.events.emit_at
            for evt in merge_sources(self.sources):
                emit_at(evt.payload, evt.time)
        finally:
            self._record_bus = self.live

    def booted(self, runtime: bussdcc.Runtime) -> None:
        runtime.emit(FrameworkBooted(version=__version__))
        self.publish_counts()

    def shutting_down(self, runtime: bussdcc.Runtime, reason: str | None) -> None:
        runtime.emit(FrameworkShuttingDown(reason=reason))

    def after_shutdown(self, runtime: bussdcc.Runtime, reason: str | None) -> None:
        self._record_bus = False
        with self._feeds_lock:
            self._sinks_started = False
            feeds = self.feeds
        for feed in feeds:
            try:
                feed.sink.stop()
            except Exception as exc:
                # The bus is quiet now; a sink that cannot close is still worth a record.
                self._report(feed, None, exc)
        self.publish_counts()

    def replayed(self, runtime: bussdcc.Runtime, original: Event[Any], emitted: Event[Any]) -> None:
        if self.feeds and not self.live:
            self.record(original)


class _AddForms:
    """The seed-002 ``add_*`` forms and sink bookkeeping, shared by both framework runtimes.

    A plain mixin (not a runtime): each framework runtime is one public kernel runtime plus
    this, with ``_recorder`` set by its ``__init__``.
    """

    _recorder: _Recorder

    # The kernel's generic registration methods under the seed-002 names, so
    # ``p = rt.add_process(MyProc())`` keeps MyProc's type.
    add_process = bussdcc.Runtime.register_process
    add_interface = bussdcc.Runtime.register_interface
    add_service = bussdcc.Runtime.register_service
    add_device = bussdcc.Runtime.attach_device

    def add_sink(self, sink: EventSink) -> EventSink:
        """Record events into ``sink`` (started now if the runtime is already up).

        Raises:
            TypeError: if ``sink`` lacks start/handle/stop.
        """
        self._recorder.add_sink(sink)
        return sink

    def add_source(self, source: EventSource) -> EventSource:
        """Add recorded events to play into this runtime (see the runtime for when).

        Raises:
            TypeError: if ``source`` is not iterable.
        """
        self._recorder.sources.append(_check_source(source))
        return source

    @property
    def sinks(self) -> list[EventSink]:
        return [feed.sink for feed in self._recorder.feeds]

    def sink_failures(self, sink: EventSink) -> int:
        """How many events ``sink`` failed to handle so far."""
        return next((f.failures for f in self._recorder.feeds if f.sink is sink), 0)

    @property
    def event_counts(self) -> dict[str, Any]:
        """Exact counts of the events so far: ``{"total", "by_name", "by_severity"}``.

        A fresh dict on every read. The same figures are copied into state at
        `COUNTS_PATH` (``framework.events``) after boot, after shutdown and, while running,
        on the first event after each `COUNTS_REFRESH` seconds of the runtime's clock -- so
        state may trail by the events of the last interval; this property never does.
        """
        return self._recorder.counts()


class Runtime(_AddForms, bussdcc.Runtime):
    """The framework's live runtime.

    `run()` boots and blocks until shutdown; from the main thread it also turns SIGINT and
    SIGTERM into a clean shutdown (SIGHUP into ``system.reload``): the kernel's
    `SignalHandling` extension, as ``rt.signals``. Sources added with `add_source` are played
    in, with their original times, right after boot and before any service starts -- a way to
    restore recent history on restart. Sinks do not record them again.

    Started by systemd with ``Type=notify`` (``NOTIFY_SOCKET`` set when the runtime is
    created), it adds a `SystemdNotifier` process named ``systemd``: ``READY=1`` after boot,
    ``STOPPING=1`` at shutdown, and watchdog pings only while every service ticks.
    """

    def __init__(self, *, clock: ClockProtocol | None = None) -> None:
        super().__init__(clock=clock)
        self._recorder = self.extend(_Recorder(self, live=True))
        self.signals = self.extend(SignalHandling())
        if os.environ.get(NOTIFY_SOCKET):
            self.add_process(SystemdNotifier())

    def run(self) -> None:
        """Boot and block until shutdown (handling SIGINT/SIGTERM from the main thread)."""
        try:
            super().run()
        finally:
            self.signals.restore()


class ReplayRuntime(_AddForms, bussdcc.ReplayRuntime):
    """Plays the added sources through the registered processes, deterministically.

    Time follows the recorded events (``speed`` 1.0 = as recorded, 0 = as fast as possible).
    Sinks receive the replayed events exactly as recorded (original time and ``seq``), not the
    events processes derive from them, so re-recording a replay reproduces the recording.
    """

    def __init__(
        self,
        speed: float = 1.0,
        *,
        max_gap: float | None = 10.0,
        clock: ReplayClock | None = None,
    ) -> None:
        """Gaps between events beyond ``max_gap`` seconds are shortened (None: keep them);
        see `bussdcc.ReplayRuntime`. ``clock`` (a `ReplayClock`) is the 0.46 way to set the
        speed; it wins over ``speed``."""
        super().__init__(speed=speed, max_gap=max_gap, clock=clock)
        self._recorder = self.extend(_Recorder(self, live=False))

    def run(self) -> None:
        """Replay every added source (merged by time), then shut down."""
        self.replay(merge_sources(self._recorder.sources))


def __getattr__(name: str) -> object:
    # 0.46 names of this path (bussdcc_framework._compat.modules); deprecated.
    from ._compat.modules import legacy_names

    return legacy_names(__name__, name)
