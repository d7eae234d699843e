"""The `Runtime`: context, registration forms, dispatch to components, and shutdown paths."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest

from bussdcc import (
    Context,
    ContextProtocol,
    Device,
    Event,
    EventBus,
    Interface,
    ManualClock,
    Message,
    Process,
    Runtime,
    Service,
    StateStore,
)
from bussdcc.message import (
    DeviceOffline,
    DeviceOnline,
    InterfaceError,
    ProcessError,
    RuntimeBooted,
    RuntimeBooting,
)

WAIT = 30.0


@dataclass(slots=True, frozen=True)
class Job(Message):
    name = "test.runtime.job"
    n: int = 0


@dataclass(slots=True, frozen=True)
class Note(Message):
    name = "test.runtime.note"
    text: str = ""


class Collector(Process):
    """Records what it receives (and proves it got the runtime's context)."""

    def __init__(self, name: str = "collector") -> None:
        self.name = name
        self.seen: list[Event[Any]] = []
        self.contexts: list[ContextProtocol] = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        self.contexts.append(ctx)
        self.seen.append(evt)


class JobsOnly(Collector):
    subscriptions = (Job,)


class Picky(Process):
    """Raises on odd jobs."""

    name = "picky"

    def __init__(self) -> None:
        self.handled: list[int] = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if isinstance(evt.payload, Job):
            if evt.payload.n % 2:
                raise ValueError(f"odd job {evt.payload.n}")
            self.handled.append(evt.payload.n)


class PickyPanel(Interface):
    name = "panel"
    subscriptions = (Job,)

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        raise RuntimeError("panel is broken")


class Lamp(Device):
    kind = "lamp"


class Idle(Service):
    interval = 1.0


def test_the_context_exposes_clock_events_state_runtime_and_emit(
    runtime: Runtime, clock: ManualClock
) -> None:
    ctx = runtime.ctx

    assert isinstance(ctx, Context)
    assert isinstance(ctx, ContextProtocol)
    assert ctx.clock is clock
    assert isinstance(ctx.events, EventBus)
    assert isinstance(ctx.state, StateStore)
    assert ctx.runtime is runtime
    assert ctx.events is runtime.events
    assert ctx.state is runtime.state


def test_ctx_emit_and_rt_emit_deliver_through_the_one_bus(runtime: Runtime) -> None:
    collector = runtime.register_process(Collector())
    runtime.boot()

    first = runtime.ctx.emit(Job(1))
    second = runtime.emit(Job(2))

    jobs = [e for e in collector.seen if isinstance(e.payload, Job)]
    assert jobs == [first, second]
    assert second.seq == first.seq + 1
    assert all(ctx is runtime.ctx for ctx in collector.contexts)


def test_the_manager_forms_register_components(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    lamp = runtime.devices.attach(Lamp(id="lamp-1"))
    proc = runtime.processes.register(Collector("proc"))
    panel = runtime.interfaces.register(Collector("panel"))
    svc = runtime.services.register(Idle())

    runtime.boot()
    assert clock.wait_for_sleepers(1, WAIT)

    assert runtime.devices.get("lamp-1") is lamp
    assert runtime.processes.get("proc") is proc
    assert runtime.interfaces.get("panel") is panel
    assert runtime.services.get("Idle") is svc
    assert "lamp-1" in runtime.devices and len(runtime.devices) == 1
    assert {"device.attached", "process.started", "interface.started", "service.started"} <= {
        e.name for e in events
    }


def test_a_process_receives_every_message_by_default(runtime: Runtime) -> None:
    collector = runtime.register_process(Collector())

    runtime.boot()
    runtime.emit(Job(1))
    runtime.emit(Note("hi"))

    received = [e.name for e in collector.seen]
    assert received[-2:] == ["test.runtime.job", "test.runtime.note"]
    assert "runtime.booted" in received  # it started before runtime.booted was emitted


def test_subscriptions_limit_what_a_process_receives(runtime: Runtime) -> None:
    only_jobs = runtime.register_process(JobsOnly())

    runtime.boot()
    runtime.emit(Note("ignored"))
    runtime.emit(Job(3))

    assert [e.payload for e in only_jobs.seen] == [Job(3)]


def test_a_process_exception_becomes_process_error_and_later_events_still_arrive(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    picky = runtime.register_process(Picky())
    runtime.boot()

    for n in range(4):
        runtime.emit(Job(n))

    errors = [e.payload for e in events if isinstance(e.payload, ProcessError)]
    assert picky.handled == [0, 2]
    assert [(e.process, e.event, e.error) for e in errors] == [
        ("picky", "test.runtime.job", "ValueError: odd job 1"),
        ("picky", "test.runtime.job", "ValueError: odd job 3"),
    ]
    assert all("Traceback" in e.traceback for e in errors)
    assert not any(e.name == "event.subscriber_error" for e in events)


def test_an_interface_exception_becomes_interface_error(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    runtime.register_interface(PickyPanel())
    runtime.boot()

    runtime.emit(Job(1))

    errors = [e.payload for e in events if isinstance(e.payload, InterfaceError)]
    assert [(e.interface, e.event, e.error) for e in errors] == [
        ("panel", "test.runtime.job", "RuntimeError: panel is broken")
    ]


def test_components_registered_after_boot_start_at_once(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    runtime.boot()
    events.clear()

    runtime.attach_device(Lamp(id="late-lamp"))
    collector = runtime.register_process(Collector("late"))
    runtime.register_service(Idle())
    assert clock.wait_for_sleepers(1, WAIT)
    runtime.emit(Job(1))

    assert [e.name for e in events][:4] == [
        "device.attached",
        "device.online",
        "process.started",
        "service.started",
    ]
    assert [e.payload for e in collector.seen][-1] == Job(1)


def test_components_can_be_removed_while_running(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    lamp = runtime.attach_device(Lamp(id="lamp"))
    collector = runtime.register_process(Collector("gone"))
    runtime.register_interface(Collector("panel"))
    runtime.register_service(Idle())
    runtime.boot()
    assert clock.wait_for_sleepers(1, WAIT)
    events.clear()

    assert runtime.processes.unregister("gone") is collector
    runtime.interfaces.unregister("panel")
    runtime.services.unregister("Idle")
    assert runtime.devices.detach("lamp") is lamp
    runtime.emit(Job(9))

    assert [e.name for e in events][:4] == [
        "process.stopped",
        "interface.stopped",
        "service.stopped",
        "device.detached",
    ]
    assert Job(9) not in [e.payload for e in collector.seen]
    assert "gone" not in runtime.processes
    assert "Idle" not in runtime.services
    assert lamp.ctx is None and not lamp.online


def test_removing_an_unknown_component_is_a_key_error_naming_it(runtime: Runtime) -> None:
    with pytest.raises(KeyError, match="no process named 'nope'"):
        runtime.processes.unregister("nope")
    with pytest.raises(KeyError, match="no device named 'nope'"):
        runtime.devices.detach("nope")
    with pytest.raises(KeyError, match="no service named 'nope'"):
        runtime.services.status("nope")


def test_a_device_reports_online_and_offline_changes_once(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    lamp = runtime.attach_device(Lamp(id="lamp"))
    runtime.boot()

    lamp.set_offline("bulb blown")
    lamp.set_offline("still blown")
    lamp.set_online()
    lamp.set_online()

    changes = [e.payload for e in events if isinstance(e.payload, DeviceOnline | DeviceOffline)]
    assert changes == [
        DeviceOnline(device="lamp", kind="lamp"),
        DeviceOffline(device="lamp", kind="lamp", error="bulb blown"),
        DeviceOnline(device="lamp", kind="lamp"),
    ]


# -- shutdown always completes, wherever it is requested from -----------------------------


def _shutdowns(events: list[Event[Any]]) -> list[str | None]:
    return [e.payload.reason for e in events if e.name == "runtime.shutdown"]


def test_shutdown_requested_from_another_thread_completes(
    runtime: Runtime, clock: ManualClock, events: list[Event[Any]]
) -> None:
    runtime.register_service(Idle())
    runtime.boot()
    assert clock.wait_for_sleepers(1, WAIT)

    other = threading.Thread(target=runtime.shutdown, args=("from elsewhere",))
    other.start()
    other.join(WAIT)

    assert runtime.wait(WAIT)
    assert _shutdowns(events) == ["from elsewhere"]


def test_shutdown_requested_from_a_handler_completes(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    class StopOnJob(Process):
        def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
            if isinstance(evt.payload, Job):
                ctx.runtime.shutdown("job says stop")

    runtime.register_process(StopOnJob())
    runtime.boot()

    runtime.emit(Job())  # returns: the shutdown was handed to another thread

    assert runtime.wait(WAIT)
    assert _shutdowns(events) == ["job says stop"]
    assert runtime.phase == "stopped"


def test_shutdown_requested_by_a_handler_during_boot_completes(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    class StopOnBooting(Process):
        subscriptions = (RuntimeBooting, RuntimeBooted)

        def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
            ctx.runtime.shutdown("changed my mind")

    runtime.register_process(StopOnBooting())
    runtime.boot()

    assert runtime.wait(WAIT)
    assert _shutdowns(events) == ["changed my mind"]


def test_shutdown_requested_from_a_services_own_tick_completes(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    class StopOnTick(Service):
        interval = 1.0

        def tick(self, ctx: ContextProtocol) -> None:
            ctx.runtime.shutdown("tick says stop")

    runtime.register_service(StopOnTick())
    runtime.boot()

    assert runtime.wait(WAIT)
    assert _shutdowns(events) == ["tick says stop"]
    assert [e.name for e in events].count("service.stopped") == 1


def test_run_blocks_until_shutdown(clock: ManualClock) -> None:
    class StopWhenBooted(Process):
        subscriptions = (RuntimeBooted,)

        def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
            ctx.runtime.shutdown("booted, done")

    rt = Runtime(clock=clock)
    rt.register_process(StopWhenBooted())

    rt.run()

    assert rt.phase == "stopped"
    assert rt.shutdown_reason == "booted, done"
