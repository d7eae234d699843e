"""`MessageSelection`: the one spec for which messages the web push and the MQTT sink take."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bussdcc import Message, Severity
from bussdcc_framework.selection import MessageSelection


@dataclass(frozen=True, slots=True)
class Reading(Message):
    name = "selection.test.reading"


@dataclass(frozen=True, slots=True)
class FineReading(Reading):
    name = "selection.test.reading.fine"


@dataclass(frozen=True, slots=True)
class Chatter(Message):
    name = "selection.test.chatter"
    severity = Severity.DEBUG


@dataclass(frozen=True, slots=True)
class Other(Message):
    name = "other.test.thing"


def test_no_spec_takes_info_and_above_only() -> None:
    everything = MessageSelection(None)
    assert everything(Reading) and everything(Other)
    assert not everything(Chatter)
    assert everything.only_classes is None


def test_classes_take_their_subclasses_and_can_be_routed_by_the_bus() -> None:
    selection = MessageSelection([Reading])
    assert selection(Reading) and selection(FineReading)
    assert not selection(Other) and not selection(Chatter)
    assert selection.only_classes == (Reading,)


def test_names_and_prefixes_match_wire_names() -> None:
    selection = MessageSelection(["other.test.thing", "selection.test.*"])
    assert selection(Other) and selection(Reading) and selection(FineReading)
    # A prefix is dotted: "selection.test.*" does not take "selection.testing".
    assert selection(Chatter)
    assert selection.only_classes is None
    assert not MessageSelection("selection.test.*")(Other)


@pytest.mark.parametrize("bad", ["", "*", "a*b", 42, int, [Reading, 3.5]])
def test_bad_entries_are_a_type_error_naming_the_argument(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^publish entries must be Message classes"):
        MessageSelection(bad, label="publish")  # type: ignore[arg-type]
