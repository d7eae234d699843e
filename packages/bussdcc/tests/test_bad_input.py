"""Bad input to the public API gets a clear error naming the problem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from bussdcc import (
    Device,
    Event,
    Interface,
    Message,
    Process,
    Runtime,
    Service,
    StateStore,
)


@dataclass(slots=True, frozen=True)
class Fine(Message):
    name = "test.bad_input.fine"


class Lamp(Device):
    kind = "lamp"


class Named(Process):
    name = "same"


class NamedPanel(Interface):
    name = "same"


class Svc(Service):
    name = "svc"


class NotAComponent:
    name = "impostor"


def test_registering_a_non_component_is_a_type_error(runtime: Runtime) -> None:
    with pytest.raises(TypeError, match="expected a Device, got NotAComponent"):
        runtime.attach_device(NotAComponent())  # type: ignore[type-var]
    with pytest.raises(TypeError, match="expected a Device, got Named"):
        runtime.devices.attach(Named())  # type: ignore[type-var]
    with pytest.raises(TypeError, match="expected a Process, got str"):
        runtime.register_process("logger")  # type: ignore[type-var]
    with pytest.raises(TypeError, match="expected an Interface, got Lamp"):
        runtime.register_interface(Lamp(id="x"))  # type: ignore[type-var]
    with pytest.raises(TypeError, match="expected a Service, got Named"):
        runtime.register_service(Named())  # type: ignore[type-var]
    assert len(runtime.devices) == len(runtime.processes) == len(runtime.services) == 0


def test_duplicate_names_are_a_value_error_naming_the_name(runtime: Runtime) -> None:
    runtime.attach_device(Lamp(id="lamp-1"))
    runtime.register_process(Named())
    runtime.register_interface(NamedPanel())  # interfaces have their own namespace
    runtime.register_service(Svc())

    with pytest.raises(ValueError, match="a device named 'lamp-1' is already registered"):
        runtime.attach_device(Lamp(id="lamp-1"))
    with pytest.raises(ValueError, match="a process named 'same' is already registered"):
        runtime.register_process(Named())
    with pytest.raises(ValueError, match="an interface named 'same' is already registered"):
        runtime.register_interface(NamedPanel())
    with pytest.raises(ValueError, match="a service named 'svc' is already registered"):
        runtime.register_service(Svc())


def test_a_device_needs_a_non_empty_id() -> None:
    with pytest.raises(ValueError, match="device id must be a non-empty string"):
        Lamp(id="  ")
    with pytest.raises(TypeError, match="device id must be a str, got int"):
        Lamp(id=7)  # type: ignore[arg-type]


def test_subscribing_to_something_that_is_not_a_message_type_is_a_type_error(
    runtime: Runtime,
) -> None:
    for bad in (int, "test.bad_input.fine", Fine(), object):
        with pytest.raises(TypeError, match="can only subscribe to Message subclasses"):
            runtime.events.subscribe(bad, lambda evt: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one Message type"):
        runtime.events.subscribe((), lambda evt: None)
    with pytest.raises(TypeError, match="handler must be callable"):
        runtime.events.subscribe(Fine, "print")  # type: ignore[arg-type]
    assert runtime.events.subscriber_count == 0


def test_a_process_with_bad_subscriptions_is_refused(runtime: Runtime) -> None:
    class NoTopics(Process):
        subscriptions = ()

    with pytest.raises(ValueError, match="subscriptions must name at least one Message type"):
        runtime.register_process(NoTopics())


def test_emitting_something_that_is_not_a_message_is_a_type_error(runtime: Runtime) -> None:
    runtime.boot()

    with pytest.raises(TypeError, match="can only emit Message instances, got dict"):
        runtime.ctx.emit({"name": "test.bad_input.fine"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="can only emit Message instances, got type"):
        runtime.emit(Fine)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time must be timezone-aware"):
        runtime.events.emit_at(Fine(), datetime(2024, 1, 1))
    with pytest.raises(TypeError, match="time must be a timezone-aware datetime, got str"):
        runtime.events.emit_at(Fine(), "2024-01-01")  # type: ignore[arg-type]
    assert runtime.events.last_seq == 2  # runtime.booting and runtime.booted only


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a."])
def test_an_empty_or_malformed_state_path_is_a_value_error(path: str) -> None:
    with pytest.raises(ValueError, match="state path"):
        StateStore().set(path, 1)


@pytest.mark.parametrize(
    ("attr", "value", "error", "text"),
    [
        ("interval", -1.0, ValueError, "interval must be > 0, got -1.0"),
        ("interval", 0, ValueError, "interval must be > 0, got 0"),
        ("interval", "1", TypeError, "interval must be a number, got str"),
        ("interval", True, TypeError, "interval must be a number, got bool"),
        ("interval", float("nan"), ValueError, "interval must be a number, got NaN"),
        ("stop_timeout", -0.5, ValueError, "stop_timeout must be >= 0"),
        ("restart_window", -1, ValueError, "restart_window must be >= 0"),
        ("backoff_cap", None, TypeError, "backoff_cap must be a number"),
        ("max_restarts", True, TypeError, "max_restarts must be an int"),
        ("max_restarts", -1, ValueError, "max_restarts must be >= 0, got -1"),
        ("restart", 1, TypeError, "restart must be a bool, got int"),
        ("critical", "yes", TypeError, "critical must be a bool, got str"),
        ("enabled", None, TypeError, "enabled must be a bool, got NoneType"),
    ],
)
def test_bad_service_settings_are_refused_at_registration(
    runtime: Runtime, attr: str, value: Any, error: type[Exception], text: str
) -> None:
    svc = Svc()
    setattr(svc, attr, value)

    with pytest.raises(error, match=f"service 'svc': {text}"):
        runtime.register_service(svc)
    assert "svc" not in runtime.services


def test_an_event_needs_an_aware_time_and_a_message() -> None:
    with pytest.raises(ValueError, match="Event time must be timezone-aware"):
        Event(datetime(2024, 1, 1), Fine())
    with pytest.raises(TypeError, match="payload must be a Message"):
        Event(datetime.now().astimezone(), "payload")  # type: ignore[type-var]
