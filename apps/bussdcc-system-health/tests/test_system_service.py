"""SystemService under a real kernel Runtime driven by a ManualClock: no real sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from bussdcc import ManualClock, Runtime
from bussdcc.message import Message, ServiceError, ServiceStopped
from bussdcc_framework.testing import EventRecorder, running
from bussdcc_system_health.message import (
    CollectorFailed,
    LoadAverageUpdated,
    MemoryUsageUpdated,
)
from bussdcc_system_health.service import SystemService

M = TypeVar("M", bound=Message)


class FakeCollector:
    """Returns whatever ``produce(now)`` gives, recording each sample time."""

    def __init__(self, name: str, produce: Callable[[float], Message | None]) -> None:
        self.name = name
        self.produce = produce
        self.times: list[float] = []

    def collect(self, now: float) -> Message | None:
        self.times.append(now)
        return self.produce(now)


def load_at(now: float) -> LoadAverageUpdated:
    return LoadAverageUpdated(now, 0.0, 0.0, 1, now, 0.0, 0.0)


def memory_at(now: float) -> MemoryUsageUpdated:
    return MemoryUsageUpdated(100, 50, 50, 50.0, 0, 0, 0.0)


@dataclass
class Harness:
    """A kernel `Runtime` on a `ManualClock` running one `SystemService`, every event recorded."""

    clock: ManualClock
    rt: Runtime
    recorder: EventRecorder

    def payloads(self, kind: type[M]) -> list[M]:
        return self.recorder.payloads(kind)


StartService = Callable[..., Harness]


@pytest.fixture
def start() -> Iterator[StartService]:
    """Boots a harness around a service: with ``sleepers=1`` (the default) once its first tick
    is done and it sleeps on the clock; every one is shut down after the test."""
    with ExitStack() as stack:

        def start_service(service: SystemService, *, sleepers: int = 1) -> Harness:
            clock = ManualClock()
            rt = Runtime(clock=clock)
            recorder = EventRecorder().attach(rt)
            rt.register_service(service)
            stack.enter_context(running(rt, sleepers=sleepers))
            return Harness(clock, rt, recorder)

        yield start_service


def test_defaults() -> None:
    service = SystemService(collectors=[])
    assert (service.name, service.interval) == ("system", 1.0)
    assert [c.name for c in SystemService().collectors] == [
        "cpu",
        "memory",
        "disk",
        "disk_io",
        "load",
        "temperature",
        "fans",
        "network",
        "throttling",
        "storage_wear",
    ]


def test_each_tick_emits_one_message_per_collector(start: StartService) -> None:
    load, mem = FakeCollector("load", load_at), FakeCollector("memory", memory_at)
    h = start(SystemService([load, mem]))
    h.clock.advance(3.0)
    assert load.times == [0.0, 1.0, 2.0, 3.0]
    assert [m.load1 for m in h.payloads(LoadAverageUpdated)] == [0.0, 1.0, 2.0, 3.0]
    assert len(h.payloads(MemoryUsageUpdated)) == 4
    assert h.rt.state.get("system") is None  # the service observes; it never writes state


def test_interval_is_configurable(start: StartService) -> None:
    load = FakeCollector("load", load_at)
    h = start(SystemService([load], interval=2.5))
    h.clock.advance(5.0)
    assert load.times == [0.0, 2.5, 5.0]


def test_collector_returning_none_emits_nothing(start: StartService) -> None:
    h = start(SystemService([FakeCollector("quiet", lambda now: None)]))
    h.clock.advance(2.0)
    assert h.payloads(LoadAverageUpdated) == []
    assert h.payloads(ServiceError) == []


def test_a_failing_collector_does_not_stop_the_others(start: StartService) -> None:
    broken = {"yes": True}

    def flaky(now: float) -> MemoryUsageUpdated:
        if broken["yes"]:
            raise PermissionError("cannot read /proc/meminfo")
        return memory_at(now)

    h = start(SystemService([FakeCollector("memory", flaky), FakeCollector("load", load_at)]))
    h.clock.advance(2.0)
    assert len(h.payloads(LoadAverageUpdated)) == 3
    # reported once per failure streak, not every tick
    assert h.payloads(CollectorFailed) == [
        CollectorFailed(collector="memory", error="PermissionError: cannot read /proc/meminfo")
    ]
    assert h.payloads(ServiceError) == []
    broken["yes"] = False
    h.clock.advance(1.0)
    assert len(h.payloads(MemoryUsageUpdated)) == 1
    broken["yes"] = True
    h.clock.advance(1.0)
    assert len(h.payloads(CollectorFailed)) == 2  # a new streak is reported again


def test_total_failure_raises_so_the_supervisor_reports_it(start: StartService) -> None:
    def fail(now: float) -> Message:
        raise OSError("no /proc")

    service = SystemService([FakeCollector("a", fail), FakeCollector("b", fail)])
    service.restart = False
    h = start(service, sleepers=0)
    h.recorder.wait_for_payload(ServiceStopped)
    (error,) = h.payloads(ServiceError)
    assert error.service == "system"
    assert "every telemetry collector failed" in error.error
    assert "a: OSError: no /proc" in error.error
    assert "b: OSError: no /proc" in error.error


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), 0.001, 86_401, 1e12])
def test_an_interval_outside_a_hundredth_of_a_second_to_a_day_is_a_value_error(
    bad: float,
) -> None:
    with pytest.raises(ValueError, match=r"^interval must be from 0.01 to 86400 seconds"):
        SystemService([], interval=bad)


@pytest.mark.parametrize("bad", ["1", True, [1.0]])
def test_an_interval_that_is_not_a_number_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"^interval must be a number"):
        SystemService([], interval=bad)


def test_a_nan_interval_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^interval must be a number, got NaN"):
        SystemService([], interval=float("nan"))


def test_duplicate_collector_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="two collectors are named 'load'"):
        SystemService([FakeCollector("load", load_at), FakeCollector("load", load_at)])


def test_non_collector_is_rejected() -> None:
    with pytest.raises(TypeError, match="not a collector"):
        SystemService([object()])  # type: ignore[list-item]
