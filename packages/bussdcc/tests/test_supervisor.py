"""Supervised services on a `ManualClock`: fixed-rate ticks, restarts, failure, control."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bussdcc import ContextProtocol, Event, ManualClock, Message, Runtime, Service, Severity
from bussdcc.message import (
    ServiceError,
    ServiceFailure,
    ServiceRestart,
    ServiceStarted,
    ServiceStopped,
    SystemReload,
)

WAIT = 30.0


@dataclass(slots=True, frozen=True)
class Poke(Message):
    name = "test.supervisor.poke"


class Ticker(Service):
    """Records the clock's monotonic time at each start and tick; ``on_tick`` adds behaviour."""

    interval = 1.0

    def __init__(
        self,
        name: str = "ticker",
        on_tick: Callable[[Ticker, int], None] | None = None,
        **attrs: Any,
    ) -> None:
        self.name = name
        self.on_tick = on_tick
        self.starts: list[float] = []
        self.ticks: list[float] = []
        self.run_ticks = 0  # ticks since the last start
        for key, value in attrs.items():
            setattr(self, key, value)

    def start(self, ctx: ContextProtocol) -> None:
        self.starts.append(ctx.clock.monotonic())
        self.run_ticks = 0

    def tick(self, ctx: ContextProtocol) -> None:
        self.ticks.append(ctx.clock.monotonic())
        self.run_ticks += 1
        if self.on_tick is not None:
            self.on_tick(self, self.run_ticks)


def always_fail(service: Ticker, n: int) -> None:
    raise RuntimeError("sensor unplugged")


def payloads(events: list[Event[Any]], kind: type[Message]) -> list[Any]:
    return [e.payload for e in events if isinstance(e.payload, kind)]


def boot_and_settle(runtime: Runtime, clock: ManualClock, sleepers: int = 1) -> None:
    runtime.boot()
    assert clock.wait_for_sleepers(sleepers, WAIT), "services never reached their sleep"


def test_the_first_tick_runs_at_start_then_one_per_interval(
    runtime: Runtime, clock: ManualClock
) -> None:
    svc = runtime.register_service(Ticker(interval=2.0))
    boot_and_settle(runtime, clock)
    assert svc.ticks == [0.0]

    clock.advance(10)

    assert svc.ticks == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_ticks_stay_on_fixed_slots_when_each_tick_takes_time(
    runtime: Runtime, clock: ManualClock
) -> None:
    def work(service: Ticker, n: int) -> None:
        clock.jump(0.3)  # every tick takes 0.3 s

    svc = runtime.register_service(Ticker(on_tick=work))
    boot_and_settle(runtime, clock)

    clock.advance(5)

    # no drift: not 0, 1.3, 2.6, ... but the slots themselves
    assert svc.ticks == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_an_overrun_skips_missed_slots_instead_of_bursting(
    runtime: Runtime, clock: ManualClock
) -> None:
    def stall_once(service: Ticker, n: int) -> None:
        if n == 2:
            clock.jump(2.5 * service.interval)

    svc = runtime.register_service(Ticker(on_tick=stall_once))
    boot_and_settle(runtime, clock)

    clock.advance(6)

    # the tick at 1 ran until 3.5: slots 2 and 3 are skipped, the next tick is on slot 4
    assert svc.ticks == [0.0, 1.0, 4.0, 5.0, 6.0]


def test_a_failing_tick_reports_service_error(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    runtime.register_service(Ticker(on_tick=always_fail, restart=False))
    runtime.boot()

    assert _wait_for(lambda: not runtime.services.status("ticker").running)
    errors = payloads(events, ServiceError)
    assert [(e.service, e.error) for e in errors] == [("ticker", "RuntimeError: sensor unplugged")]
    assert errors[0].severity is Severity.ERROR
    assert "Traceback" in errors[0].traceback


def test_restart_false_stops_the_service_after_its_first_error(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    svc = runtime.register_service(Ticker(on_tick=always_fail, restart=False))
    runtime.boot()
    assert _wait_for(lambda: not runtime.services.status("ticker").running)

    clock.advance(100)

    status = runtime.services.status("ticker")
    assert status.state == "stopped"
    assert status.last_error == "RuntimeError: sensor unplugged"
    assert svc.starts == [0.0]
    assert payloads(events, ServiceRestart) == []
    assert payloads(events, ServiceStopped) == [
        ServiceStopped(service="ticker", reason="RuntimeError: sensor unplugged")
    ]
    assert runtime.is_running  # not critical: the runtime carries on


def test_restarts_back_off_exponentially_with_jitter_up_to_the_cap(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    svc = runtime.register_service(
        Ticker(
            on_tick=always_fail,
            interval=1.0,
            backoff_cap=4.0,
            max_restarts=5,
            restart_window=1000.0,
        )
    )
    boot_and_settle(runtime, clock)

    clock.advance(100)

    restarts = payloads(events, ServiceRestart)
    assert [r.attempt for r in restarts] == [1, 2, 3, 4, 5]
    for restart, base in zip(restarts, [1.0, 2.0, 4.0, 4.0, 4.0], strict=True):
        assert base / 2 <= restart.delay <= base, restart
    # each restart came exactly its delay after the failure (ticks fail at once on start)
    gaps = [later - earlier for earlier, later in zip(svc.starts, svc.starts[1:], strict=False)]
    assert gaps == pytest.approx([r.delay for r in restarts])
    assert len(payloads(events, ServiceStarted)) == 6


def test_too_many_restarts_within_the_window_is_a_service_failure(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    svc = runtime.register_service(Ticker(on_tick=always_fail, max_restarts=3, restart_window=60.0))
    boot_and_settle(runtime, clock)

    clock.advance(100)
    starts_after_failure = len(svc.starts)
    clock.advance(1000)

    failures = payloads(events, ServiceFailure)
    assert len(failures) == 1
    assert failures[0].service == "ticker"
    assert failures[0].severity is Severity.CRITICAL
    assert "more than 3 restarts within 60.0 s" in failures[0].reason
    assert "sensor unplugged" in failures[0].reason
    status = runtime.services.status("ticker")
    assert status.state == "failed"
    assert status.restarts == 3
    assert not status.running
    assert len(svc.starts) == starts_after_failure == 4  # stays down
    assert runtime.is_running  # not critical


def test_restarts_spread_wider_than_the_window_never_add_up_to_a_failure(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    def third_tick_fails(service: Ticker, n: int) -> None:
        if n == 3:
            raise RuntimeError("flaky")

    runtime.register_service(
        Ticker(on_tick=third_tick_fails, interval=10.0, max_restarts=1, restart_window=15.0)
    )
    boot_and_settle(runtime, clock)

    clock.advance(500)

    restarts = payloads(events, ServiceRestart)
    assert len(restarts) >= 5
    assert {r.attempt for r in restarts} == {1}  # the window forgot each earlier restart
    assert payloads(events, ServiceFailure) == []
    assert runtime.services.status("ticker").state in ("running", "backoff")


def test_a_critical_service_failure_shuts_the_runtime_down(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    runtime.register_service(Ticker("pump", on_tick=always_fail, critical=True, max_restarts=1))
    boot_and_settle(runtime, clock)

    clock.advance(10)

    assert runtime.wait(WAIT)
    reason = runtime.shutdown_reason
    assert reason is not None
    assert "critical service 'pump' failed" in reason
    assert [e.payload.reason for e in events if e.name == "runtime.shutdown"] == [reason]


def test_a_critical_service_without_restart_shuts_down_on_its_first_error(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    runtime.register_service(Ticker("pump", on_tick=always_fail, critical=True, restart=False))
    runtime.boot()

    assert runtime.wait(WAIT)
    assert runtime.shutdown_reason is not None
    assert "critical service 'pump' stopped" in runtime.shutdown_reason
    assert payloads(events, ServiceFailure) == []


def test_stop_timeout_bounds_shutdown_when_a_tick_hangs(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    entered, release = threading.Event(), threading.Event()

    def hang(service: Ticker, n: int) -> None:
        entered.set()
        release.wait(WAIT)

    runtime.register_service(Ticker("stuck", on_tick=hang, stop_timeout=0.05))
    try:
        runtime.boot()
        assert entered.wait(WAIT)

        runtime.shutdown("going down anyway")

        assert runtime.phase == "stopped"
        assert runtime.services.status("stuck").state == "abandoned"
        abandoned = [e for e in payloads(events, ServiceError) if e.service == "stuck"]
        assert [e.error for e in abandoned] == ["did not stop within 0.05 s; abandoned"]
        assert [e.name for e in events][-1] == "runtime.shutdown"
    finally:
        release.set()


def test_status_reports_state_restarts_last_error_and_last_tick(
    runtime: Runtime, clock: ManualClock
) -> None:
    def fail_second(service: Ticker, n: int) -> None:
        if n == 2 and len(service.starts) == 1:
            raise ValueError("glitch")

    svc = runtime.register_service(Ticker(on_tick=fail_second, interval=5.0))
    boot_and_settle(runtime, clock)

    first = runtime.services.status("ticker")
    assert (first.name, first.state, first.enabled, first.running) == (
        "ticker",
        "running",
        True,
        True,
    )
    assert (first.restarts, first.ticks, first.last_error) == (0, 1, None)
    assert first.last_tick == clock.now_utc()

    clock.advance(5)  # second tick fails; the service backs off
    failed = runtime.services.status("ticker")
    assert failed.last_error == "ValueError: glitch"
    assert failed.restarts == 1
    assert failed.state == "backoff"

    clock.advance(20)
    recovered = runtime.services.status("ticker")
    assert recovered.state == "running"
    assert recovered.ticks == len(svc.ticks) - 1  # the failed tick does not count
    assert recovered.last_tick == clock.now_utc() - timedelta(
        seconds=clock.monotonic() - svc.ticks[-1]
    )
    assert [s.name for s in runtime.services.statuses()] == ["ticker"]


def test_disable_and_enable_a_service_by_name_at_run_time(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    svc = runtime.register_service(Ticker())
    boot_and_settle(runtime, clock)

    runtime.services.disable("ticker")
    clock.advance(5)
    status = runtime.services.status("ticker")
    assert (status.enabled, status.running, status.state) == (False, False, "stopped")
    assert svc.ticks == [0.0]
    with pytest.raises(RuntimeError, match="'ticker' is disabled; enable it instead"):
        runtime.services.start("ticker")

    runtime.services.enable("ticker")
    assert clock.wait_for_sleepers(1, WAIT)
    clock.advance(2)

    assert svc.ticks == [0.0, 5.0, 6.0, 7.0]
    assert [e.name for e in events if e.name.startswith("service.")] == [
        "service.started",
        "service.stopped",
        "service.started",
    ]


def test_stop_and_start_a_service_by_name_at_run_time(runtime: Runtime, clock: ManualClock) -> None:
    svc = runtime.register_service(Ticker())
    boot_and_settle(runtime, clock)

    runtime.services.stop("ticker")
    clock.advance(3)
    status = runtime.services.status("ticker")
    assert (status.enabled, status.running) == (True, False)

    runtime.services.start("ticker")
    assert clock.wait_for_sleepers(1, WAIT)
    clock.advance(1)

    assert svc.starts == [0.0, 3.0]
    assert svc.ticks == [0.0, 3.0, 4.0]


def test_a_disabled_service_does_not_start_at_boot(runtime: Runtime, clock: ManualClock) -> None:
    svc = runtime.register_service(Ticker(enabled=False))
    runtime.boot()
    clock.advance(3)

    assert svc.starts == []
    assert runtime.services.status("ticker").state == "registered"

    runtime.services.enable("ticker")
    assert clock.wait_for_sleepers(1, WAIT)
    assert svc.ticks == [3.0]


def test_a_service_cannot_be_started_while_the_runtime_is_not_running(
    runtime: Runtime,
) -> None:
    runtime.register_service(Ticker())

    with pytest.raises(RuntimeError, match="the runtime is not running"):
        runtime.services.start("ticker")


def test_a_service_handles_events_like_a_process(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    class Listener(Ticker):
        subscriptions = (Poke,)

        def __init__(self) -> None:
            super().__init__("listener")
            self.pokes = 0

        def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
            self.pokes += 1
            if self.pokes == 2:
                raise RuntimeError("second poke hurts")

    svc = runtime.register_service(Listener())
    boot_and_settle(runtime, clock)

    for _ in range(3):
        runtime.emit(Poke())
    runtime.services.stop("listener")
    runtime.emit(Poke())

    assert svc.pokes == 3
    errors = payloads(events, ServiceError)
    assert [(e.service, e.event, e.error) for e in errors] == [
        ("listener", "test.supervisor.poke", "RuntimeError: second poke hurts")
    ]


def _wait_for(condition: Callable[[], bool]) -> bool:
    """Poll a condition that no event signals (a thread ending); generous real-time bound."""
    done = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def test_a_service_stopped_from_a_handler_stops_without_being_abandoned() -> None:
    class IdleService(Service):
        name = "idle"
        interval = 0.05
        stop_timeout = 30.0

    stopped = threading.Event()
    errors: list[Message] = []
    rt = Runtime()
    rt.register_service(IdleService())

    def on_reload(evt: Event[Message]) -> None:
        rt.services.stop("idle")  # from inside a handler, holding the bus

    def on_stopped(evt: Event[Message]) -> None:
        stopped.set()

    rt.events.subscribe(SystemReload, on_reload)
    rt.events.subscribe(ServiceStopped, on_stopped)
    rt.events.subscribe(ServiceError, lambda evt: errors.append(evt.payload))
    rt.boot()
    try:
        rt.emit(SystemReload())
        # Well inside stop_timeout: the handler did not make the service wait on it.
        assert stopped.wait(10)
        assert rt.services.status("idle").state == "stopped"
        assert errors == []
    finally:
        rt.shutdown()
