"""Clocks: the real `SystemClock`, the steppable `ManualClock` and the `ReplayClock`."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bussdcc import ClockProtocol, ManualClock, ReplayClock, SystemClock

WAIT = 30.0
START = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def spawn() -> Iterator[Callable[[Callable[[], object]], threading.Thread]]:
    """Start daemon threads for a test and make sure they are gone afterwards."""
    threads: list[threading.Thread] = []

    def start(target: Callable[[], object]) -> threading.Thread:
        thread = threading.Thread(target=target, daemon=True)
        threads.append(thread)
        thread.start()
        return thread

    yield start
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()


def test_every_clock_satisfies_the_protocol() -> None:
    for clock in (SystemClock(), ManualClock(), ReplayClock()):
        assert isinstance(clock, ClockProtocol)


def test_system_clock_reads_aware_utc_and_monotonic_time() -> None:
    clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now_utc()
    first, second = clock.monotonic(), clock.monotonic()

    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)
    assert second >= first
    assert clock.uptime() >= 0


def test_system_clock_sleep_returns_true_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()

    assert SystemClock().sleep(WAIT, cancel=cancel) is True
    assert SystemClock().sleep(0) is False
    assert SystemClock().sleep(-1.0, cancel=threading.Event()) is False


def test_manual_clock_starts_at_a_fixed_instant_and_moves_only_when_told() -> None:
    assert ManualClock().now_utc() == datetime(2000, 1, 1, tzinfo=UTC)
    clock = ManualClock(START)

    assert clock.now_utc() == START
    assert clock.monotonic() == 0.0
    clock.advance(2.5)
    assert clock.now_utc() == START + timedelta(seconds=2.5)
    assert clock.monotonic() == clock.uptime() == 2.5
    clock.jump(1)
    assert clock.monotonic() == 3.5


def test_manual_clock_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2024, 1, 1))


def test_manual_clock_never_moves_backwards() -> None:
    clock = ManualClock()

    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.jump(-0.1)
    with pytest.raises(TypeError, match="seconds must be a number, got str"):
        clock.advance("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        clock.advance(float("nan"))
    assert clock.monotonic() == 0.0


def test_a_sleeper_wakes_only_when_the_clock_passes_its_deadline(
    spawn: Callable[[Callable[[], object]], threading.Thread],
) -> None:
    clock = ManualClock()
    woke_at: list[float] = []

    def sleeper() -> None:
        clock.sleep(5)
        woke_at.append(clock.monotonic())

    thread = spawn(sleeper)

    assert clock.wait_for_sleepers(1, WAIT)
    clock.advance(4.9)
    assert woke_at == []
    assert clock.sleepers == 1
    assert clock.next_deadline() == pytest.approx(5.0)

    clock.advance(0.1)
    thread.join(WAIT)
    assert woke_at == [5.0]
    assert clock.sleepers == 0


def test_advance_wakes_sleepers_in_deadline_order_at_their_deadlines(
    spawn: Callable[[Callable[[], object]], threading.Thread],
) -> None:
    clock = ManualClock()
    woke: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float) -> None:
        clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    for name, seconds in (("late", 3.0), ("early", 1.0), ("middle", 2.0)):
        spawn(functools.partial(sleeper, name, seconds))
    assert clock.wait_for_sleepers(3, WAIT)

    clock.advance(10)

    assert woke == [("early", 1.0), ("middle", 2.0), ("late", 3.0)]
    assert clock.monotonic() == 10.0


def test_advance_lets_a_woken_thread_run_until_it_sleeps_again(
    spawn: Callable[[Callable[[], object]], threading.Thread],
) -> None:
    clock = ManualClock()
    ticks: list[float] = []

    def loop() -> None:
        for _ in range(10):
            clock.sleep(1)
            ticks.append(clock.monotonic())

    spawn(loop)
    assert clock.wait_for_sleepers(1, WAIT)

    clock.advance(10)

    assert ticks == [float(s) for s in range(1, 11)]


def test_jump_wakes_every_due_sleeper_at_the_target_time(
    spawn: Callable[[Callable[[], object]], threading.Thread],
) -> None:
    clock = ManualClock()
    woke: list[float] = []
    done = threading.Barrier(3)

    def sleeper(seconds: float) -> None:
        clock.sleep(seconds)
        woke.append(clock.monotonic())
        done.wait(WAIT)

    for seconds in (1.0, 2.0):
        spawn(functools.partial(sleeper, seconds))
    assert clock.wait_for_sleepers(2, WAIT)

    clock.jump(5)
    done.wait(WAIT)

    assert woke == [5.0, 5.0]


def test_a_cancelled_sleep_returns_true_without_the_clock_moving(
    spawn: Callable[[Callable[[], object]], threading.Thread],
) -> None:
    clock = ManualClock()
    cancel = threading.Event()
    results: list[bool] = []
    thread = spawn(lambda: results.append(clock.sleep(100, cancel=cancel)))
    assert clock.wait_for_sleepers(1, WAIT)

    cancel.set()
    thread.join(WAIT)

    assert results == [True]
    assert clock.monotonic() == 0.0


def test_an_uncancelled_sleep_returns_false(
    spawn: Callable[[Callable[[], object]], threading.Thread],
) -> None:
    clock = ManualClock()
    results: list[bool] = []
    thread = spawn(lambda: results.append(clock.sleep(1, cancel=threading.Event())))
    assert clock.wait_for_sleepers(1, WAIT)

    clock.advance(1)
    thread.join(WAIT)

    assert results == [False]


def test_wait_for_sleepers_gives_up_after_its_timeout() -> None:
    assert ManualClock().wait_for_sleepers(1, timeout=0.01) is False


def test_replay_clock_follows_event_times() -> None:
    clock = ReplayClock(speed=0)

    assert clock.advance_to(START) is False
    assert clock.now_utc() == START
    clock.advance_to(START + timedelta(seconds=30))
    assert clock.now_utc() == START + timedelta(seconds=30)
    assert clock.monotonic() == 30.0


def test_replay_clock_monotonic_never_moves_backwards_while_wall_time_follows_a_step_back() -> None:
    clock = ReplayClock(START, speed=0)
    clock.advance_to(START + timedelta(seconds=10))

    clock.advance_to(START + timedelta(seconds=5))  # a wall-clock correction in the recording

    assert clock.now_utc() == START + timedelta(seconds=5)
    assert clock.monotonic() == 10.0
    clock.advance_to(START + timedelta(seconds=6))
    assert (clock.now_utc(), clock.monotonic()) == (START + timedelta(seconds=6), 11.0)


def test_replay_clock_pacing_stops_at_once_when_cancelled() -> None:
    clock = ReplayClock(START, speed=1.0)
    cancel = threading.Event()
    cancel.set()

    assert clock.advance_to(START + timedelta(hours=1), cancel) is True
    assert clock.now_utc() == START


def test_replay_clock_wakes_sleepers_as_replayed_time_passes(
    spawn: Callable[[Callable[[], object]], threading.Thread],
) -> None:
    clock = ReplayClock(START, speed=0)
    woke: list[datetime] = []

    def sleeper() -> None:
        clock.sleep(60)
        woke.append(clock.now_utc())

    thread = spawn(sleeper)
    assert clock.wait_for_sleepers(1, WAIT)

    clock.advance_to(START + timedelta(minutes=5))
    thread.join(WAIT)

    assert woke == [START + timedelta(minutes=1)]


def test_replay_clock_rejects_a_negative_speed() -> None:
    with pytest.raises(ValueError, match="speed must be >= 0"):
        ReplayClock(speed=-1)
