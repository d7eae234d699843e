"""ReplayClock controls: pause, resume, seek and speed changes while a replay runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bussdcc import ContextProtocol, Event, Message, Process, ReplayClock, ReplayRuntime

T0 = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
DEADLINE = 30.0


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.replay_controls.reading"
    sensor: str
    value: float


class Projector(Process):
    """Projects readings into state and logs the names it sees."""

    name = "projector"

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        self.seen.append((evt.seq, evt.name))
        payload = evt.payload
        if isinstance(payload, Reading):
            ctx.state.set(f"sensors.{payload.sensor}", payload.value)
            ctx.state.update("sensors.count", lambda n: n + 1, default=0)
            ctx.state.set("sensors.last_at", ctx.clock.now_utc().isoformat())


def hourly(count: int = 12) -> list[Event[Any]]:
    """Readings an hour apart: at speed 1 a replay of them would take hours, so a test that
    finishes proves the waiting was skipped (seek) or cut short (speed)."""
    return [
        Event(T0 + timedelta(hours=i), Reading(f"s{i % 3}", float(i * 7 % 100)), i + 1)
        for i in range(count)
    ]


class PauseAt(Process):
    """Pauses the clock while handling the ``at``-th reading: a deterministic pause point."""

    name = "pause-at"

    def __init__(self, clock: ReplayClock, at: int) -> None:
        self.clock, self.at, self.count = clock, at, 0

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if isinstance(evt.payload, Reading):
            self.count += 1
            if self.count == self.at:
                self.clock.pause()


def until(condition: Callable[[], bool]) -> None:
    """Wait (polling) until ``condition`` holds; fail after `DEADLINE` seconds."""
    stop = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < stop, "condition never held"
        time.sleep(0.005)


def in_thread(rt: ReplayRuntime, source: list[Event[Any]]) -> threading.Thread:
    thread = threading.Thread(target=rt.replay, args=(source,), daemon=True)
    thread.start()
    return thread


def straight(source: list[Event[Any]], end_at: datetime) -> dict[str, Any]:
    rt = ReplayRuntime(speed=0)
    rt.register_process(Projector())
    rt.replay(source, end_at=end_at)
    return rt.state.snapshot("sensors")


def test_pause_holds_the_replay_before_the_next_event_and_resume_goes_on() -> None:
    source = hourly()
    rt = ReplayRuntime(speed=0)
    projector = rt.register_process(Projector())
    rt.register_process(PauseAt(rt.clock, at=5))
    thread = in_thread(rt, source)

    until(lambda: rt.clock.holding)
    assert rt.clock.paused
    assert rt.replayed == 5
    assert rt.state.get("sensors.count") == 5
    assert rt.clock.now_utc() == source[4].time
    assert rt.state.snapshot("sensors") == straight(source, end_at=source[5].time)

    rt.clock.resume()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert rt.replayed == len(source)
    assert len([s for s in projector.seen if s[1] == Reading.name]) == len(source)


def test_a_pause_during_a_wait_holds_the_rest_of_it() -> None:
    # Paced at speed 1 an hour's gap never ends within the test: pausing it, then resuming
    # at full speed, finishes the replay, so the wait was interrupted and the speed re-read.
    source = hourly(3)
    rt = ReplayRuntime(speed=1.0)
    rt.register_process(Projector())
    thread = in_thread(rt, source)
    until(lambda: rt.replayed == 1)
    rt.clock.pause()
    until(lambda: rt.clock.holding)
    assert rt.replayed == 1
    rt.clock.speed = 0
    rt.clock.resume()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert rt.replayed == 3


def test_a_speed_change_applies_to_the_wait_in_progress() -> None:
    source = hourly(4)
    rt = ReplayRuntime(speed=1.0)
    thread = in_thread(rt, source)
    until(lambda: rt.replayed == 1)
    rt.clock.speed = 0  # an hour at speed 1 becomes no wait at all
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert rt.replayed == 4


@pytest.mark.parametrize("target", [3, 7, 11])
def test_seek_lands_on_the_state_of_a_straight_replay_to_that_time(target: int) -> None:
    source = hourly()
    at = source[target].time
    rt = ReplayRuntime(speed=1.0)  # paced: only the seek makes this finish
    rt.register_process(Projector())
    rt.clock.pause()  # held once the seek is done
    rt.clock.seek(at)
    thread = in_thread(rt, source)

    until(lambda: rt.clock.holding)
    assert rt.clock.seeking is None
    assert rt.replayed == target
    assert rt.state.snapshot("sensors") == straight(source, end_at=at)

    rt.clock.speed = 0
    rt.clock.resume()
    thread.join(DEADLINE)
    assert rt.replayed == len(source)


def test_seek_between_events_stops_before_the_first_event_after_it() -> None:
    source = hourly()
    at = source[4].time + timedelta(minutes=30)
    rt = ReplayRuntime(speed=0)
    rt.register_process(Projector())
    rt.clock.pause()
    rt.clock.seek(at)
    thread = in_thread(rt, source)
    until(lambda: rt.clock.holding)
    assert rt.replayed == 5
    assert rt.state.snapshot("sensors") == straight(source, end_at=at)
    rt.clock.resume()
    thread.join(DEADLINE)


def test_a_seek_to_the_past_is_reached_at_once() -> None:
    source = hourly(3)
    rt = ReplayRuntime(speed=0)
    rt.register_process(PauseAt(rt.clock, at=2))
    thread = in_thread(rt, source)
    until(lambda: rt.clock.holding)
    rt.clock.seek(T0 - timedelta(days=1))
    rt.clock.resume()
    thread.join(DEADLINE)
    assert rt.clock.seeking is None
    assert rt.replayed == 3


def test_controls_reject_bad_input_and_are_idempotent() -> None:
    clock = ReplayClock(speed=0)
    with pytest.raises(TypeError, match="time_utc"):
        clock.seek("tomorrow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time_utc"):
        clock.seek(datetime(2024, 1, 1))
    clock.pause()
    clock.pause()
    assert (clock.paused, clock.holding) == (True, False)
    clock.resume()
    clock.resume()
    assert (clock.paused, clock.holding) == (False, False)
    clock.seek(T0)
    assert clock.seeking == T0
    clock.seek(None)
    assert clock.seeking is None


def test_shutdown_ends_a_paused_replay() -> None:
    source = hourly(3)
    rt = ReplayRuntime(speed=0)
    rt.clock.pause()
    thread = in_thread(rt, source)
    until(lambda: rt.clock.holding)
    rt.shutdown("stopped while paused")
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert rt.replayed == 0
