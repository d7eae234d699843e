"""`Event[T]`: an immutable, timestamped, sequenced delivery of a message."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bussdcc import Event, Message

WHEN = datetime(2024, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Sample(Message):
    name = "test.event.sample"
    value: int = 0


def test_an_event_is_constructed_from_time_and_payload() -> None:
    evt = Event(time=WHEN, payload=Sample(3))

    assert evt.time == WHEN
    assert evt.payload == Sample(3)
    assert evt.seq == 0
    assert evt.name == "test.event.sample"
    assert evt.payload.to_dict() == {"value": 3}


def test_an_event_carries_its_sequence_number() -> None:
    assert Event(WHEN, Sample(), 42).seq == 42


def test_events_are_immutable() -> None:
    evt = Event(WHEN, Sample())

    with pytest.raises(AttributeError):
        evt.seq = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        evt.extra = 1  # type: ignore[attr-defined]


def test_a_naive_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Event(datetime(2024, 1, 1), Sample())


def test_a_payload_that_is_not_a_message_is_rejected() -> None:
    with pytest.raises(TypeError, match="payload must be a Message, got dict"):
        Event(WHEN, {"value": 1})  # type: ignore[type-var]


def test_a_posix_stamp_reads_back_as_aware_utc() -> None:
    stamped: Event[Any] = Event._stamped(WHEN.timestamp(), Sample(), 1)

    assert stamped.time == WHEN
    assert stamped.time.tzinfo is not None
    assert stamped.time.utcoffset() == timedelta(0)


def test_events_are_equal_whatever_form_the_stamp_took() -> None:
    stamped: Event[Any] = Event._stamped(WHEN.timestamp(), Sample(1), 7)
    built = Event(WHEN, Sample(1), 7)
    other_zone = Event(WHEN.astimezone(timezone(timedelta(hours=2))), Sample(1), 7)

    assert stamped == built == other_zone
    assert hash(stamped) == hash(built)
    assert built != Event(WHEN, Sample(2), 7)
    assert built != Event(WHEN, Sample(1), 8)


def test_events_pickle_round_trip() -> None:
    stamped: Event[Any] = Event._stamped(WHEN.timestamp(), Sample(9), 3)

    copy = pickle.loads(pickle.dumps(stamped))

    assert isinstance(copy, Event)
    assert copy == stamped
    assert copy.time == WHEN


def test_repr_shows_time_payload_and_seq() -> None:
    text = repr(Event(WHEN, Sample(5), 2))

    assert text.startswith("Event(time=datetime.datetime(2024, 3, 4")
    assert "Sample(value=5)" in text
    assert text.endswith("seq=2)")
