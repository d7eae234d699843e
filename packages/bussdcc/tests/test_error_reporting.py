"""Error reporters never fail: whatever the failing event or exception holds, it is reported.

Each test injects something a reporter could trip on -- an exception whose ``__str__`` and
``__repr__`` raise, a payload without a wire name, a subscription's own reporter that raises
-- and checks that the failure still becomes its error message and delivery goes on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest

from bussdcc import (
    ContextProtocol,
    Event,
    EventBus,
    ManualClock,
    Message,
    Process,
    Runtime,
    Service,
    describe_failure,
)
from bussdcc.message import EventSubscriberError, ProcessError, ServiceError

WAIT = 30.0


class Unprintable(Exception):
    """An exception that cannot be turned into text at all."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken")


@dataclass(slots=True, frozen=True)
class Legacy(Message):  # 0.42 style: no name
    value: int = 0


@dataclass(slots=True, frozen=True)
class Ping(Message):
    name = "test.reporting.ping"


@pytest.fixture
def bus() -> EventBus:
    return EventBus(ManualClock())


def test_describe_failure_survives_a_broken_str_and_repr() -> None:
    try:
        raise Unprintable
    except Unprintable as exc:
        error, tb = describe_failure(exc)

    assert error == "Unprintable: <str() failed: RuntimeError>"
    assert "raise Unprintable" in tb


def test_a_subscriber_failing_with_an_unprintable_exception_is_reported(bus: EventBus) -> None:
    reports: list[EventSubscriberError] = []
    later: list[Event[Any]] = []
    bus.subscribe(EventSubscriberError, lambda evt: reports.append(evt.payload))

    def broken(evt: Event[Any]) -> None:
        raise Unprintable

    bus.subscribe(Ping, broken)
    bus.subscribe(Ping, later.append)

    bus.emit(Ping())

    assert len(later) == 1, "delivery stopped at the failing subscriber"
    assert len(reports) == 1
    assert reports[0].event == "test.reporting.ping"
    assert reports[0].error.startswith("Unprintable: <str() failed")


def test_a_failure_on_a_message_without_a_name_is_reported_under_its_given_name(
    bus: EventBus,
) -> None:
    reports: list[EventSubscriberError] = []
    bus.subscribe(EventSubscriberError, lambda evt: reports.append(evt.payload))
    bus.subscribe(Legacy, lambda evt: 1 / 0)

    bus.emit(Legacy(1))

    assert [r.event for r in reports] == [f"{__name__}:Legacy"]


def test_a_failure_on_a_bare_message_is_reported(bus: EventBus) -> None:
    reports: list[EventSubscriberError] = []
    bus.subscribe(EventSubscriberError, lambda evt: reports.append(evt.payload))
    bus.subscribe(Message, lambda evt: 1 / 0 if type(evt.payload) is Message else None)

    bus.emit(Message())

    assert [r.event for r in reports] == ["bussdcc.message:Message"]


def test_a_subscription_reporter_that_raises_falls_back_to_the_generic_report(
    bus: EventBus,
) -> None:
    reports: list[EventSubscriberError] = []
    bus.subscribe(EventSubscriberError, lambda evt: reports.append(evt.payload))

    def reporter(evt: Event[Message], exc: Exception) -> Message:
        raise AttributeError("reporter is broken")

    bus.subscribe(Ping, lambda evt: 1 / 0, on_error=reporter, label="fragile")

    bus.emit(Ping())

    assert len(reports) == 1
    assert reports[0].handler == "fragile"
    assert reports[0].error == "ZeroDivisionError: division by zero"


def test_a_subscription_reporter_returning_a_non_message_falls_back(bus: EventBus) -> None:
    reports: list[EventSubscriberError] = []
    bus.subscribe(EventSubscriberError, lambda evt: reports.append(evt.payload))
    bus.subscribe(
        Ping,
        lambda evt: 1 / 0,
        on_error=lambda evt, exc: "not a message",  # type: ignore[arg-type,return-value]
    )

    bus.emit(Ping())

    assert len(reports) == 1


class Fragile(Process):
    name = "fragile"

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if isinstance(evt.payload, Legacy):
            raise Unprintable


def test_a_process_failing_unprintably_on_an_unnamed_message_is_reported(
    runtime: Runtime, events: list[Event[Any]]
) -> None:
    runtime.register_process(Fragile())
    runtime.boot()

    runtime.emit(Legacy(2))

    errors = [e.payload for e in events if isinstance(e.payload, ProcessError)]
    assert len(errors) == 1
    assert errors[0].event == Legacy.name
    assert errors[0].error.startswith("Unprintable: <str() failed")


class Crashing(Service):
    name = "crashing"
    interval = 1.0
    restart = False

    def tick(self, ctx: ContextProtocol) -> None:
        raise Unprintable


class Listening(Service):
    name = "listening"
    interval = 60.0

    def tick(self, ctx: ContextProtocol) -> None:
        pass

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if isinstance(evt.payload, Legacy):
            raise Unprintable


def _service_errors(runtime: Runtime, count: int) -> list[ServiceError]:
    seen: list[ServiceError] = []
    done = threading.Event()

    def on_error(evt: Event[ServiceError]) -> None:
        seen.append(evt.payload)
        if len(seen) >= count:
            done.set()

    runtime.events.subscribe(ServiceError, on_error)
    runtime.boot()
    done.wait(WAIT)
    return seen


def test_a_service_tick_failing_unprintably_is_reported(runtime: Runtime) -> None:
    runtime.register_service(Crashing())

    errors = _service_errors(runtime, 1)

    assert len(errors) == 1
    assert errors[0].service == "crashing"
    assert errors[0].error.startswith("Unprintable: <str() failed")
    status = runtime.services.status("crashing")
    assert status.last_error == errors[0].error


def test_a_service_handler_failing_on_an_unnamed_message_is_reported(
    runtime: Runtime, clock: ManualClock
) -> None:
    runtime.register_service(Listening())
    seen: list[ServiceError] = []
    runtime.events.subscribe(ServiceError, lambda evt: seen.append(evt.payload))
    runtime.boot()
    assert clock.wait_for_sleepers(1, WAIT)  # started and subscribed

    runtime.emit(Legacy(3))

    assert [(e.service, e.event) for e in seen] == [("listening", Legacy.name)]
    assert seen[0].error.startswith("Unprintable: <str() failed")
