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


# --- any recorded time: long gaps, steps back, the ends of the calendar ----------------------


class ClockLog(Process):
    """Logs, for each reading, the clock's wall and monotonic time when it arrives."""

    name = "clock-log"

    def __init__(self) -> None:
        self.seen: list[tuple[datetime, float]] = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if isinstance(evt.payload, Reading):
            self.seen.append((ctx.clock.now_utc(), ctx.clock.monotonic()))


def readings_at(*offsets: timedelta | datetime) -> list[Event[Any]]:
    return [
        Event(at if isinstance(at, datetime) else T0 + at, Reading("s", float(i)), i + 1)
        for i, at in enumerate(offsets)
    ]


def test_a_gap_longer_than_max_gap_is_shortened_but_the_wall_clock_still_follows() -> None:
    # An hour's gap at speed 1 would stall the test for an hour; max_gap shortens it.
    source = readings_at(timedelta(0), timedelta(hours=1), timedelta(hours=1, seconds=0.02))
    rt = ReplayRuntime(speed=1.0, max_gap=0.02)
    log = rt.register_process(ClockLog())

    assert rt.replay(source) == 3

    assert [wall for wall, _ in log.seen] == [evt.time for evt in source]
    assert [round(mono, 6) for _, mono in log.seen] == [0.0, 0.02, 0.04]


def test_the_default_max_gap_is_ten_seconds_and_none_keeps_real_gaps() -> None:
    assert ReplayRuntime().clock.max_gap == 10.0
    source = readings_at(timedelta(0), timedelta(hours=1))
    for max_gap, moved in ((10.0, 10.0), (None, 3600.0)):
        rt = ReplayRuntime(speed=0)
        log = rt.register_process(ClockLog())
        rt.replay(source, max_gap=max_gap)
        assert log.seen[-1] == (source[-1].time, moved)


def test_shortened_gaps_give_the_same_ticks_and_events_at_every_speed() -> None:
    source = readings_at(timedelta(0), timedelta(hours=1), timedelta(hours=1, seconds=0.5))

    def run(speed: float) -> list[tuple[str, datetime]]:
        rt = ReplayRuntime(speed=speed, max_gap=2.0)
        rt.register_service(SlowBeat())
        log: list[tuple[str, datetime]] = []
        rt.events.subscribe((Reading, Beat), lambda evt: log.append((evt.name, evt.time)))
        rt.replay(source)
        return log

    fast, paced = run(0), run(100)
    assert fast == paced
    # Beats at monotonic 0, 1 and 2 s: the hour became two seconds of ticking, not 3,600.
    assert [name for name, _ in fast].count("test.replay.beat") == 3


def test_a_step_backwards_is_followed_without_waiting_and_monotonic_never_goes_back() -> None:
    source = readings_at(
        timedelta(0),
        timedelta(seconds=0.01),
        timedelta(hours=-1),
        timedelta(hours=-1, seconds=0.01),
    )
    rt = ReplayRuntime(speed=1.0)
    log = rt.register_process(ClockLog())

    assert rt.replay(source) == 4

    assert [wall for wall, _ in log.seen] == [evt.time for evt in source]
    assert [round(mono, 6) for _, mono in log.seen] == [0.0, 0.01, 0.01, 0.02]


def test_a_wait_beyond_what_the_platform_can_sleep_is_cut_not_an_overflow() -> None:
    # Year 1 to year 9999 with real gaps kept: the wait is cut to threading.TIMEOUT_MAX
    # (about 292 years), which a cancel still ends at once.
    clock = ReplayClock(datetime(1, 1, 1, tzinfo=UTC), speed=1.0, max_gap=None)
    cancel = threading.Event()
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    try:
        assert clock.advance_to(datetime(9999, 12, 31, tzinfo=UTC), cancel) is True
    finally:
        timer.cancel()


def test_times_at_the_ends_of_the_calendar_replay_or_are_skipped_never_crash() -> None:
    source = readings_at(
        timedelta(0),
        timedelta(seconds=5),
        datetime.min.replace(tzinfo=UTC),  # five seconds before it is before year 1: skipped
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1, 1, 2, tzinfo=UTC),
        timedelta(seconds=6),
    )
    rt = ReplayRuntime(speed=1.0, max_gap=0.01)
    log = rt.register_process(ClockLog())

    assert rt.replay(source) == 5
    assert rt.skipped == 1
    assert [wall for wall, _ in log.seen] == [source[i].time for i in (0, 1, 3, 4, 5)]


def test_bad_max_gap_is_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="max_gap must be >= 0"):
        ReplayRuntime(max_gap=-1)
    with pytest.raises(TypeError, match="max_gap must be a number"):
        ReplayRuntime(speed=0).replay([], max_gap="long")  # type: ignore[arg-type]
