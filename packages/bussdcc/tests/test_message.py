"""Messages: frozen typed dataclasses with a wire name, a severity and a name registry."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from bussdcc import Message, Severity, message

KERNEL_NAMES = {
    "runtime.booting",
    "runtime.booted",
    "runtime.shutting_down",
    "runtime.shutdown",
    "device.attached",
    "device.online",
    "device.offline",
    "device.detached",
    "device.failed",
    "process.started",
    "process.stopped",
    "process.error",
    "interface.started",
    "interface.stopped",
    "interface.error",
    "service.started",
    "service.stopped",
    "service.error",
    "service.restart",
    "service.failure",
    "event.subscriber_error",
    "system.signal",
    "system.reload",
}


@dataclass(slots=True, frozen=True)
class Point:
    x: int
    y: int


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.message.reading"
    sensor: str
    value: float
    where: Point = Point(0, 0)
    tags: tuple[str, ...] = ()
    extra: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Overheated(Message):
    name = "test.message.overheated"
    severity = Severity.CRITICAL
    cause: Reading


def test_defining_a_message_registers_its_name() -> None:
    assert message.lookup("test.message.reading") is Reading
    assert message.registered()["test.message.overheated"] is Overheated
    assert message.lookup("test.message.never_defined") is None


def test_every_kernel_message_is_registered_under_its_spec_name() -> None:
    registered = message.registered()

    assert set(registered) >= KERNEL_NAMES
    for name in KERNEL_NAMES:
        assert registered[name].name == name


def test_severity_defaults_to_info_and_can_be_raised() -> None:
    assert Reading.severity is Severity.INFO
    assert Reading("s", 1.0).severity is Severity.INFO
    assert Overheated.severity is Severity.CRITICAL
    assert message.ProcessError.severity is Severity.ERROR
    assert message.ServiceFailure.severity is Severity.CRITICAL


def test_severities_are_ordered_and_have_wire_labels() -> None:
    assert Severity.DEBUG < Severity.INFO < Severity.WARNING < Severity.ERROR < Severity.CRITICAL
    assert [s.label for s in Severity] == ["debug", "info", "warning", "error", "critical"]


def test_to_dict_returns_fields_as_plain_data() -> None:
    reading = Reading("cpu", 71.5, Point(1, 2), ("a", "b"), {"k": [1, 2]})

    assert reading.to_dict() == {
        "sensor": "cpu",
        "value": 71.5,
        "where": {"x": 1, "y": 2},
        "tags": ["a", "b"],
        "extra": {"k": [1, 2]},
    }
    assert Overheated(reading).to_dict()["cause"]["where"] == {"x": 1, "y": 2}


def test_to_dict_is_a_copy_not_a_view() -> None:
    reading = Reading("cpu", 1.0, extra={"k": [1]})

    reading.to_dict()["extra"]["k"].append(2)

    assert reading.extra == {"k": [1]}


def test_messages_are_frozen_and_slotted() -> None:
    reading = Reading("cpu", 1.0)

    with pytest.raises(dataclasses.FrozenInstanceError):
        reading.value = 2.0  # type: ignore[misc]
    assert not hasattr(reading, "__dict__")


def test_messages_compare_by_value() -> None:
    assert Reading("cpu", 1.0) == Reading("cpu", 1.0)
    assert Reading("cpu", 1.0) != Reading("cpu", 2.0)
    assert hash(message.ServiceStarted("a")) == hash(message.ServiceStarted("a"))


def test_a_second_class_under_a_taken_name_is_rejected_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"test\.message\.reading.*already registered"):

        @dataclass(slots=True, frozen=True)
        class Impostor(Message):
            name = "test.message.reading"

    assert message.lookup("test.message.reading") is Reading


def test_kernel_names_cannot_be_taken_over() -> None:
    with pytest.raises(TypeError, match=r"process\.error"):

        @dataclass(slots=True, frozen=True)
        class MyProcessError(Message):
            name = "process.error"


@pytest.mark.parametrize("bad", ["", ".a", "a.", "a..b"])
def test_a_malformed_wire_name_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match=r"Bad\.name (must not be empty|.* has an empty segment)"):
        type("Bad", (Message,), {"name": bad})


def test_a_wire_name_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"Bad\.name must be a str, got int"):
        type("Bad", (Message,), {"name": 42})


def test_a_severity_that_is_not_a_severity_is_rejected() -> None:
    with pytest.raises(TypeError, match="severity must be a Severity"):
        type("Bad", (Message,), {"name": "test.message.bad_severity", "severity": 40})


def test_a_message_without_a_name_is_named_module_colon_qualname_and_registered() -> None:
    @dataclass(slots=True, frozen=True)
    class CpuUsage(Message):  # the 0.42 form: no name
        percent: float

    expected = f"{__name__}:{CpuUsage.__qualname__}"
    assert expected.endswith(
        "test_a_message_without_a_name_is_named_module_colon_qualname_and_registered"
        ".<locals>.CpuUsage"
    )
    assert CpuUsage.name == expected
    assert CpuUsage(1.0).name == expected
    assert message.lookup(expected) is CpuUsage  # the slotted class, not the discarded one


def test_an_unnamed_message_in_a_class_is_named_by_its_full_qualname() -> None:
    class Outer:
        @dataclass(slots=True, frozen=True)
        class Inner(Message):
            n: int = 0

    assert Outer.Inner.name.endswith(".<locals>.Outer.Inner")
    assert message.lookup(Outer.Inner.name) is Outer.Inner


def test_subclasses_of_an_unnamed_base_get_names_of_their_own() -> None:
    @dataclass(slots=True, frozen=True)
    class Base(Message):
        pass

    @dataclass(slots=True, frozen=True)
    class Concrete(Base):
        name = "test.message.concrete"

    @dataclass(slots=True, frozen=True)
    class Variant(Base):
        pass

    registered = message.registered()
    assert registered["test.message.concrete"] is Concrete
    assert registered[Base.name] is Base
    assert Variant.name == Base.name.removesuffix("Base") + "Variant"
    assert registered[Variant.name] is Variant


def test_a_subclass_of_a_named_message_inherits_its_name() -> None:
    @dataclass(slots=True, frozen=True)
    class Louder(Reading):
        pass

    assert Louder.name == "test.message.reading"
    assert message.lookup("test.message.reading") is Reading


def test_wire_name_never_raises() -> None:
    class BrokenName:
        @property
        def name(self) -> str:
            raise RuntimeError("no")

    assert message.wire_name(Reading("s", 1.0)) == "test.message.reading"
    assert message.wire_name(Reading) == "test.message.reading"
    assert message.wire_name(Message()) == "bussdcc.message:Message"
    assert message.wire_name(BrokenName()).endswith(".<locals>.BrokenName")
    assert message.wire_name(42) == "builtins:int"


def test_messages_may_be_defined_inside_functions_and_classes() -> None:
    class Outer:
        @dataclass(slots=True, frozen=True)
        class Nested(Message):
            name = "test.message.nested"
            n: int = 0

    @dataclass(slots=True, frozen=True)
    class Local(Message):
        name = "test.message.local"

    assert message.lookup("test.message.nested") is Outer.Nested
    assert message.lookup("test.message.local") is Local
    assert Outer.Nested(1).to_dict() == {"n": 1}
