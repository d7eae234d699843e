"""Kernel replay: `ReplayRuntime.replay` re-emits recorded events deterministically."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bussdcc import (
    ContextProtocol,
    Event,
    EventSink,
    EventSource,
    Message,
    Process,
    ReplayClock,
    ReplayRuntime,
    Service,
)

T0 = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.replay.reading"
    sensor: str
    value: float


@dataclass(slots=True, frozen=True)
class Alert(Message):
    name = "test.replay.alert"
    sensor: str


class Projector(Process):
    """Projects readings into state, derives alerts, and logs everything it sees."""

    name = "projector"

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, datetime, dict[str, Any]]] = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        self.seen.append((evt.seq, evt.name, evt.time, evt.payload.to_dict()))
        payload = evt.payload
        if isinstance(payload, Reading):
            ctx.state.set(f"sensors.{payload.sensor}", payload.value)
            ctx.state.update("sensors.count", lambda n: n + 1, default=0)
            ctx.state.set("sensors.last_at", ctx.clock.now_utc().isoformat())
            if payload.value > 80:
                ctx.emit(Alert(payload.sensor))


def recorded(count: int = 20) -> list[Event[Any]]:
    return [
        Event(T0 + timedelta(seconds=1.5 * i), Reading(f"s{i % 3}", float(i * 7 % 100)), i + 1)
        for i in range(count)
    ]


def replay_once(
    source: list[Event[Any]], **window: Any
) -> tuple[ReplayRuntime, Projector, list[Event[Any]]]:
    rt = ReplayRuntime(speed=0)
    projector = rt.register_process(Projector())
    log: list[Event[Any]] = []
    rt.events.subscribe(Message, log.append)
    rt.replay(source, **window)
    return rt, projector, log


def test_replay_reemits_each_event_with_its_original_time() -> None:
    source = recorded()

    rt, projector, _ = replay_once(source)

    readings = [(name, time, data) for _, name, time, data in projector.seen if "reading" in name]
    assert readings == [(e.name, e.time, e.payload.to_dict()) for e in source]
    assert rt.replayed == len(source)


def test_the_clock_follows_the_replayed_events() -> None:
    source = recorded()

    rt, _, _ = replay_once(source)

    assert rt.clock.now_utc() == source[-1].time
    assert rt.state.get("sensors.last_at") == source[-1].time.isoformat()


def test_replay_shuts_the_runtime_down_at_the_end() -> None:
    rt, _, log = replay_once(recorded(3))

    assert rt.phase == "stopped"
    assert rt.shutdown_reason == "replay complete"
    assert log[0].name == "runtime.booting"
    assert log[-1].name == "runtime.shutdown"


def test_the_same_source_gives_the_same_state_and_event_sequence_every_time() -> None:
    source = recorded(50)

    first_rt, _, first_log = replay_once(source)
    second_rt, _, second_log = replay_once(source)

    def fingerprint(log: list[Event[Any]]) -> list[tuple[int, str, datetime, dict[str, Any]]]:
        return [(e.seq, e.name, e.time, e.payload.to_dict()) for e in log]

    assert fingerprint(first_log) == fingerprint(second_log)
    assert first_rt.state.snapshot() == second_rt.state.snapshot()
    assert any(e.name == "test.replay.alert" for e in first_log)  # derived events included
    assert first_rt.state.get("sensors.count") == 50


def test_start_at_is_inclusive_and_end_at_exclusive() -> None:
    source = recorded(10)

    rt, projector, _ = replay_once(source, start_at=source[2].time, end_at=source[6].time)

    times = [time for _, name, time, _ in projector.seen if "reading" in name]
    assert times == [e.time for e in source[2:6]]
    assert rt.replayed == 4


def test_an_empty_source_boots_and_shuts_down() -> None:
    rt, _, log = replay_once([])

    assert rt.replayed == 0
    assert [e.name for e in log] == [
        "runtime.booting",
        "process.started",
        "runtime.booted",
        "runtime.shutting_down",
        "process.stopped",
        "runtime.shutdown",
    ]
    assert rt.phase == "stopped"


def test_paced_replay_follows_the_gaps_divided_by_speed() -> None:
    # 3 events 0.01 s apart at speed 1: the run is short; what is checked is the outcome.
    source = [
        Event(T0 + timedelta(milliseconds=10 * i), Reading("s", float(i)), i) for i in range(3)
    ]
    rt = ReplayRuntime(speed=1.0)
    projector = rt.register_process(Projector())

    assert rt.replay(source) == 3
    assert [t for _, n, t, _ in projector.seen if "reading" in n] == [e.time for e in source]


def test_shutdown_from_another_thread_stops_a_paced_replay() -> None:
    def slow_source() -> Iterator[Event[Any]]:
        yield Event(T0, Reading("s", 1.0))
        yield Event(T0 + timedelta(hours=1), Reading("s", 2.0))  # an hour away at speed 1

    rt = ReplayRuntime(speed=1.0)
    first_seen = threading.Event()
    rt.events.subscribe(Reading, lambda evt: first_seen.set())

    def stop_after_first() -> None:
        first_seen.wait(30)
        rt.shutdown("operator stopped replay")

    stopper = threading.Thread(target=stop_after_first)
    stopper.start()

    replayed = rt.replay(slow_source())
    stopper.join(30)

    assert replayed == 1
    assert rt.shutdown_reason == "operator stopped replay"


def test_a_replay_clock_can_be_supplied() -> None:
    clock = ReplayClock(speed=0)
    rt = ReplayRuntime(clock=clock)

    rt.replay(recorded(2))

    assert rt.clock is clock
    assert clock.now_utc() == recorded(2)[-1].time


def test_lists_are_event_sources_and_sinks_are_structural() -> None:
    class Sink:
        def start(self, ctx: ContextProtocol) -> None: ...

        def handle(self, evt: Event[Any]) -> None: ...

        def stop(self) -> None: ...

    assert isinstance(recorded(1), EventSource)
    assert isinstance(Sink(), EventSink)
    assert not isinstance(object(), EventSink)


def test_bad_replay_input_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="replay speed must be >= 0, got -1"):
        ReplayRuntime(speed=0).replay([], speed=-1)
    with pytest.raises(TypeError, match="replay speed must be a number, got str"):
        ReplayRuntime(speed=0).replay([], speed="fast")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="replay source must be iterable, got int"):
        ReplayRuntime(speed=0).replay(5)  # type: ignore[arg-type]
    rt = ReplayRuntime(speed=0)
    with pytest.raises(TypeError, match="replay source item 1 is not an Event"):
        rt.replay([recorded(1)[0], "not an event"])  # type: ignore[list-item]
    assert rt.phase == "stopped"  # the half-done replay was still shut down


@dataclass(slots=True, frozen=True)
class Beat(Message):
    name = "test.replay.beat"


class SlowBeat(Service):
    """Ticks on the replay clock; its work takes real time, as real work does."""

    name = "beat"
    interval = 1.0

    def tick(self, ctx: ContextProtocol) -> None:
        threading.Event().wait(0.05)
        ctx.emit(Beat())


def test_services_tick_deterministically_on_the_replayed_timeline() -> None:
    source = recorded(6)  # 1.5 s apart: 0, 1.5, 3, 4.5, 6, 7.5

    def run() -> list[tuple[str, datetime]]:
        rt = ReplayRuntime(speed=0)
        rt.register_service(SlowBeat())
        log: list[tuple[str, datetime]] = []
        rt.events.subscribe((Reading, Beat), lambda evt: log.append((evt.name, evt.time)))
        rt.replay(source)
        return log

    first, second = run(), run()

    assert first == second
    beats = [t for name, t in first if name == "test.replay.beat"]
    assert beats == [T0 + timedelta(seconds=s) for s in range(8)]
    # each beat comes before a reading of the same instant: the service was already due
    assert [name.rsplit(".", 1)[1] for name, _ in first][:4] == [
        "beat",
        "reading",
        "beat",
        "reading",
    ]
