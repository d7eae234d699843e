"""Boot and shutdown: deterministic order, lifecycle messages, required components, rollback."""

from __future__ import annotations

from typing import Any

import pytest

from bussdcc import (
    BootError,
    ContextProtocol,
    Device,
    Event,
    Interface,
    ManualClock,
    Process,
    Runtime,
    Service,
)
from bussdcc.message import DeviceFailed, InterfaceError, ProcessError

WAIT = 30.0


class Sensor(Device):
    kind = "sensor"

    def __init__(self, id: str, calls: list[str], *, fail: bool = False) -> None:
        super().__init__(id)
        self.calls = calls
        self.fail = fail

    def connect(self) -> None:
        self.calls.append(f"connect {self.id}")
        if self.fail:
            raise OSError(f"{self.id} not found")

    def disconnect(self) -> None:
        self.calls.append(f"disconnect {self.id}")


class Traced:
    """Start and stop of a process, interface or service, written to ``calls`` in order."""

    def __init__(self, name: str, calls: list[str], *, fail_start: bool = False) -> None:
        self.name = name
        self.calls = calls
        self.fail_start = fail_start

    def start(self, ctx: ContextProtocol) -> None:
        self.calls.append(f"start {self.name}")
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")

    def stop(self, ctx: ContextProtocol) -> None:
        self.calls.append(f"stop {self.name}")


class Step(Traced, Process):
    def attach(self, ctx: ContextProtocol) -> None:
        super().attach(ctx)
        self.calls.append(f"attach {self.name}")

    def detach(self) -> None:
        self.calls.append(f"detach {self.name}")
        super().detach()


class Panel(Traced, Interface):
    pass


class Worker(Traced, Service):
    interval = 1.0


def names(events: list[Event[Any]]) -> list[str]:
    return [e.name for e in events]


def lifecycle(events: list[Event[Any]]) -> list[str]:
    """Each event as "name subject", where the subject is the component it is about."""
    out = []
    for e in events:
        data = e.payload.to_dict()
        subject = next(
            (data[k] for k in ("device", "process", "interface", "service") if k in data), ""
        )
        out.append(f"{e.name} {subject}".strip())
    return out


def full_runtime(runtime: Runtime, calls: list[str]) -> None:
    runtime.attach_device(Sensor("s1", calls))
    runtime.attach_device(Sensor("s2", calls))
    runtime.register_process(Step("p1", calls))
    runtime.register_process(Step("p2", calls))
    runtime.register_interface(Panel("i1", calls))
    runtime.register_service(Worker("w1", calls))


def test_boot_brings_components_up_in_spec_order(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    calls: list[str] = []
    full_runtime(runtime, calls)

    runtime.boot()
    assert clock.wait_for_sleepers(1, WAIT)  # the service ticked and is waiting for its slot

    assert lifecycle(events) == [
        "runtime.booting",
        "device.attached s1",
        "device.online s1",
        "device.attached s2",
        "device.online s2",
        "process.started p1",
        "process.started p2",
        "interface.started i1",
        "runtime.booted",
        "service.started w1",
    ]
    assert calls == [
        "connect s1",
        "connect s2",
        "attach p1",
        "start p1",
        "attach p2",
        "start p2",
        "start i1",
        "start w1",
    ]
    assert runtime.phase == "running"
    assert runtime.is_running


def test_shutdown_runs_the_exact_reverse_and_ends_with_runtime_shutdown(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    calls: list[str] = []
    full_runtime(runtime, calls)
    runtime.boot()
    assert clock.wait_for_sleepers(1, WAIT)
    events.clear()
    calls.clear()

    runtime.shutdown("maintenance")

    assert lifecycle(events) == [
        "runtime.shutting_down",
        "service.stopped w1",
        "interface.stopped i1",
        "process.stopped p2",
        "process.stopped p1",
        "device.detached s2",
        "device.detached s1",
        "runtime.shutdown",
    ]
    assert calls == [
        "stop w1",
        "stop i1",
        "stop p2",
        "detach p2",
        "stop p1",
        "detach p1",
        "disconnect s2",
        "disconnect s1",
    ]
    assert events[0].payload.to_dict() == {"reason": "maintenance"}
    assert events[-1].payload.to_dict() == {"reason": "maintenance"}
    assert runtime.phase == "stopped"
    assert runtime.shutdown_reason == "maintenance"


def test_boot_and_shutdown_are_idempotent(runtime: Runtime, events: list[Event[Any]]) -> None:
    runtime.boot()
    runtime.boot()
    runtime.shutdown()
    runtime.shutdown()

    assert names(events) == [
        "runtime.booting",
        "runtime.booted",
        "runtime.shutting_down",
        "runtime.shutdown",
    ]


def test_a_shut_down_runtime_boots_again_as_in_0_42_with_a_deprecation_warning(
    runtime: Runtime,
) -> None:
    # 0.42 allowed it; it stays for the 0.4x line (SPEC section 7), warning.
    runtime.boot()
    runtime.shutdown()

    with pytest.warns(DeprecationWarning, match="booting a runtime again after shutdown"):
        runtime.boot()
    assert runtime.is_running
    runtime.shutdown("again")
    assert (runtime.phase, runtime.shutdown_reason) == ("stopped", "again")


def test_shutdown_before_boot_just_marks_the_runtime_stopped(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    runtime.shutdown("never needed")

    assert runtime.wait(0)
    assert runtime.phase == "stopped"
    assert events == []


def test_a_failing_device_is_reported_and_boot_continues(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    calls: list[str] = []
    broken = runtime.attach_device(Sensor("s1", calls, fail=True))
    runtime.attach_device(Sensor("s2", calls))

    runtime.boot()

    failures = [e.payload for e in events if isinstance(e.payload, DeviceFailed)]
    assert len(failures) == 1
    assert failures[0].device == "s1"
    assert failures[0].error == "OSError: s1 not found"
    assert "Traceback" in failures[0].traceback
    assert "device.attached s2" in lifecycle(events)
    assert "device.attached s1" not in lifecycle(events)
    assert broken.online is False
    assert runtime.is_running


def test_a_process_or_interface_failing_to_start_is_reported_and_boot_continues(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    calls: list[str] = []
    runtime.register_process(Step("p1", calls, fail_start=True))
    runtime.register_process(Step("p2", calls))
    runtime.register_interface(Panel("i1", calls, fail_start=True))

    runtime.boot()

    process_errors = [e.payload for e in events if isinstance(e.payload, ProcessError)]
    interface_errors = [e.payload for e in events if isinstance(e.payload, InterfaceError)]
    assert [(p.process, p.error) for p in process_errors] == [
        ("p1", "RuntimeError: p1 cannot start")
    ]
    assert [(i.interface, i.error) for i in interface_errors] == [
        ("i1", "RuntimeError: i1 cannot start")
    ]
    assert "process.started p2" in lifecycle(events)
    assert "process.started p1" not in lifecycle(events)
    assert runtime.is_running

    # a component that never came up is not stopped at shutdown
    calls.clear()
    runtime.shutdown()
    assert calls == ["stop p2", "detach p2"]


def test_a_required_device_failure_aborts_boot_and_rolls_back(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    calls: list[str] = []
    runtime.attach_device(Sensor("s1", calls))
    bad = Sensor("s2", calls, fail=True)
    bad.required = True
    runtime.attach_device(bad)
    runtime.attach_device(Sensor("s3", calls))
    runtime.register_process(Step("p1", calls))

    with pytest.raises(BootError, match="s2") as raised:
        runtime.boot()

    assert "s2" in raised.value.component
    assert raised.value.error == "OSError: s2 not found"
    # The original exception travels with the error, for callers to test instead of text.
    assert isinstance(raised.value.cause, OSError)
    assert raised.value.__cause__ is raised.value.cause
    assert calls == ["connect s1", "connect s2", "disconnect s1"]
    assert lifecycle(events) == [
        "runtime.booting",
        "device.attached s1",
        "device.online s1",
        "device.failed s2",
        "runtime.shutting_down",
        "device.detached s1",
        "runtime.shutdown",
    ]
    assert runtime.phase == "stopped"
    assert runtime.wait(0)


def test_a_required_process_failure_rolls_back_everything_already_up(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    calls: list[str] = []
    runtime.attach_device(Sensor("s1", calls))
    runtime.register_process(Step("p1", calls))
    bad = Step("p2", calls, fail_start=True)
    bad.required = True
    runtime.register_process(bad)
    runtime.register_interface(Panel("i1", calls))

    with pytest.raises(BootError, match=r"p2.*p2 cannot start"):
        runtime.boot()

    assert calls == [
        "connect s1",
        "attach p1",
        "start p1",
        "attach p2",
        "start p2",
        "stop p1",
        "detach p1",
        "disconnect s1",
    ]
    assert lifecycle(events)[-4:] == [
        "runtime.shutting_down",
        "process.stopped p1",
        "device.detached s1",
        "runtime.shutdown",
    ]
    assert "runtime.booted" not in names(events)


def test_a_required_service_failing_to_start_aborts_boot(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    calls: list[str] = []
    runtime.register_process(Step("p1", calls))
    bad = Worker("w1", calls, fail_start=True)
    bad.required = True
    runtime.register_service(bad)

    with pytest.raises(BootError, match="w1") as raised:
        runtime.boot()

    assert raised.value.error == "RuntimeError: w1 cannot start"
    assert isinstance(raised.value.cause, RuntimeError)
    assert str(raised.value.cause) == "w1 cannot start"
    assert "stop p1" in calls
    assert names(events)[-1] == "runtime.shutdown"
    assert runtime.phase == "stopped"
    assert not runtime.services.status("w1").running


def test_with_block_boots_and_shuts_down(clock: ManualClock) -> None:
    calls: list[str] = []
    with Runtime(clock=clock) as rt:
        rt.register_process(Step("p1", calls))  # registered after boot: starts at once
        assert rt.is_running
        assert calls == ["attach p1", "start p1"]

    assert rt.phase == "stopped"
    assert rt.shutdown_reason == "context exited"
    assert calls[-2:] == ["stop p1", "detach p1"]


def test_with_block_shuts_down_when_the_body_raises(clock: ManualClock) -> None:
    with pytest.raises(KeyError), Runtime(clock=clock) as rt:
        raise KeyError("boom")

    assert rt.phase == "stopped"
    assert rt.shutdown_reason is not None
    assert "boom" in rt.shutdown_reason
