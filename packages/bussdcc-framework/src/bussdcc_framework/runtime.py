"""The framework runtimes: the kernel runtime plus sinks, sources, event counts and signals.

`Runtime` is what a live system runs; `ReplayRuntime` plays recorded sources through the same
processes. Sinks start before boot and stop after shutdown, so they record the whole
lifecycle; a failing sink is isolated and reported as one ``sink.error`` per failure streak.
"""

from __future__ import annotations

import heapq
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import bussdcc
from bussdcc.bus import Subscription, describe_failure
from bussdcc.clock import ClockProtocol, ReplayClock
from bussdcc.component import Device, Process, Service
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc.replay import EventSink, EventSource

from .message.framework import FrameworkBooted, FrameworkShuttingDown, SinkError
from .systemd import NOTIFY_SOCKET, SystemdNotifier
from .version import __version__

__all__ = ["ReplayRuntime", "Runtime"]

COUNTS_PATH = "framework.events"
"""Where the event counts live in state: ``{"total", "by_name", "by_severity"}``."""


def _label(sink: object) -> str:
    return getattr(sink, "name", None) or type(sink).__name__


class _SinkFeed:
    """Delivers events to one sink and turns its failures into one ``sink.error`` per streak."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.label = _label(sink)
        self.failing = False
        self.failures = 0
        self.subscription: Subscription | None = None

    def __call__(self, evt: Event[Any]) -> None:
        self.sink.handle(evt)
        self.failing = False

    def failed(self, evt: Event[Message] | None, exc: Exception) -> Message | None:
        self.failures += 1
        if self.failing:
            return None  # same streak: reported already
        self.failing = True
        error, tb = describe_failure(exc)
        event = evt.payload.name if evt is not None else ""
        return SinkError(sink=self.label, error=error, traceback=tb, event=event)


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
    return heapq.merge(*sources, key=lambda evt: evt.time)


class _Framework(bussdcc.Runtime):
    """What both framework runtimes add to the kernel runtime."""

    _sinks_follow_bus = True

    def __init__(self, *, clock: ClockProtocol | None = None) -> None:
        super().__init__(clock=clock)
        self._feeds: list[_SinkFeed] = []
        self._sources: list[EventSource] = []
        self._by_name: Counter[str] = Counter()
        self._by_severity: Counter[str] = Counter()
        self._feeds_lock = threading.Lock()
        self._sinks_started = False
        self.events.subscribe(Message, self._count, label="framework:counts")

    # -- the add_* forms of seed 002 ------------------------------------------------------

    def add_sink(self, sink: EventSink) -> EventSink:
        """Record every event into ``sink`` (started now if the runtime is already up).

        Raises:
            TypeError: if ``sink`` lacks start/handle/stop.
        """
        feed = _SinkFeed(_check_sink(sink))
        with self._feeds_lock:
            self._feeds.append(feed)
            started = self._sinks_started
        if started:
            self._start_feed(feed)
        return sink

    def add_source(self, source: EventSource) -> EventSource:
        """Add recorded events to play into this runtime (see the subclass for when)."""
        self._sources.append(_check_source(source))
        return source

    def add_process(self, process: Process) -> Process:
        return self.processes.register(process)

    def add_interface(self, interface: Process) -> Process:
        return self.interfaces.register(interface)

    def add_service(self, service: Service) -> Service:
        return self.services.register(service)

    def add_device(self, device: Device) -> Device:
        return self.devices.attach(device)

    @property
    def sinks(self) -> list[EventSink]:
        return [feed.sink for feed in self._feeds]

    def sink_failures(self, sink: EventSink) -> int:
        """How many events ``sink`` failed to handle so far."""
        return next((f.failures for f in self._feeds if f.sink is sink), 0)

    # -- counts -----------------------------------------------------------------------------

    def _count(self, evt: Event[Any]) -> None:
        payload = evt.payload
        self._by_name[payload.name] += 1
        self._by_severity[payload.severity.label] += 1
        self.state.set(
            COUNTS_PATH,
            {
                "total": self._by_name.total(),
                "by_name": dict(self._by_name),
                "by_severity": dict(self._by_severity),
            },
        )

    # -- sinks around the kernel lifecycle ------------------------------------------------

    def _start_feed(self, feed: _SinkFeed) -> None:
        try:
            feed.sink.start(self.ctx)
        except Exception as exc:
            self._report_failure(feed, None, exc)
        if self._sinks_follow_bus:
            self._subscribe(feed)

    def _subscribe(self, feed: _SinkFeed) -> None:
        feed.subscription = self.events.subscribe(
            Message, feed, on_error=feed.failed, label=f"sink:{feed.label}"
        )

    def _report_failure(self, feed: _SinkFeed, evt: Event[Any] | None, exc: Exception) -> None:
        # The same streak rule as failures during delivery (the bus calls feed.failed there).
        report = feed.failed(evt, exc)
        if report is not None:
            self.ctx.emit(report)

    def _before_boot(self) -> None:
        super()._before_boot()
        with self._feeds_lock:
            self._sinks_started = True
            feeds = list(self._feeds)
        for feed in feeds:
            self._start_feed(feed)

    def _teardown(self, reason: str | None) -> None:
        self.ctx.emit(FrameworkShuttingDown(reason=reason))
        super()._teardown(reason)

    def _after_shutdown(self) -> None:
        super()._after_shutdown()
        with self._feeds_lock:
            self._sinks_started = False
            feeds = list(self._feeds)
        for feed in feeds:
            if feed.subscription is not None:
                feed.subscription.cancel()
                feed.subscription = None
            try:
                feed.sink.stop()
            except Exception as exc:
                # The bus is quiet now; a sink that cannot close is still worth a record.
                self._report_failure(feed, None, exc)

    def boot(self) -> None:
        was_created = self.phase == "created"
        super().boot()
        if was_created and self.phase == "running":
            self.ctx.emit(FrameworkBooted(version=__version__))


class Runtime(_Framework, bussdcc.SignalRuntime):
    """The framework's live runtime.

    `run()` boots and blocks until shutdown; from the main thread it also turns SIGINT and
    SIGTERM into a clean shutdown (SIGHUP into ``system.reload``). Sources added with
    `add_source` are played in, with their original times, right after boot and before any
    service starts -- a way to restore recent history on restart. Sinks do not record them
    again.

    Started by systemd with ``Type=notify`` (``NOTIFY_SOCKET`` set when the runtime is
    created), it adds a `SystemdNotifier` process named ``systemd``: ``READY=1`` after boot,
    ``STOPPING=1`` at shutdown, and watchdog pings only while every service ticks.
    """

    def __init__(self, *, clock: ClockProtocol | None = None) -> None:
        super().__init__(clock=clock)
        if os.environ.get(NOTIFY_SOCKET):
            self.add_process(SystemdNotifier())

    def _before_services(self) -> None:
        super()._before_services()
        if not self._sources:
            return
        feeds = [f for f in self._feeds if f.subscription is not None]
        # Restored history is already on disk: keep the sinks out of it.
        for feed in feeds:
            feed.subscription.cancel()  # type: ignore[union-attr]
        try:
            for evt in merge_sources(self._sources):
                self.events.emit_at(evt.payload, evt.time)
        finally:
            for feed in feeds:
                self._subscribe(feed)

    def run(self) -> None:
        """Boot and block until shutdown (handling SIGINT/SIGTERM from the main thread)."""
        if threading.current_thread() is threading.main_thread():
            super().run()
        else:
            self.boot()
            self.wait()


class ReplayRuntime(_Framework, bussdcc.ReplayRuntime):
    """Plays the added sources through the registered processes, deterministically.

    Time follows the recorded events (``speed`` 1.0 = as recorded, 0 = as fast as possible).
    Sinks receive the replayed events exactly as recorded (original time and ``seq``), not the
    events processes derive from them, so re-recording a replay reproduces the recording.
    """

    _sinks_follow_bus = False

    def __init__(self, speed: float = 1.0) -> None:
        super().__init__(clock=ReplayClock(speed=speed))

    def _on_replayed(self, original: Event[Any], emitted: Event[Any]) -> None:
        for feed in self._feeds:
            try:
                feed(original)
            except Exception as exc:
                self._report_failure(feed, original, exc)

    def run(self) -> None:
        """Replay every added source (merged by time), then shut down."""
        self.replay(merge_sources(self._sources))
