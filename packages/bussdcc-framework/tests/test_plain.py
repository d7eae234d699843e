"""to_plain: any value as the plain JSON data the wire would carry; it never raises."""

from __future__ import annotations

import decimal
import enum
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import encode_event, event_to_dict, to_plain

T0 = datetime(2026, 3, 9, 12, 0, 1, 250000, tzinfo=UTC)


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 2


@dataclass(slots=True, frozen=True)
class Point:
    x: int
    at: datetime


class Box(msgspec.Struct):
    label: str
    when: datetime


@dataclass(slots=True, frozen=True)
class Note(Message):
    name = "test.plain.note"
    text: str
    value: Any = None


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    __repr__ = __str__


def json_safe(value: Any) -> bool:
    """Strict JSON (no NaN) round-trips it unchanged, and msgspec can write it as UTF-8."""
    msgspec.json.encode(value)
    return bool(json.loads(json.dumps(value, allow_nan=False)) == value)


def test_times_are_written_as_the_wire_writes_them() -> None:
    assert to_plain(T0) == "2026-03-09T12:00:01.250000Z"
    assert to_plain(T0) == json.loads(encode_event(Event(T0, Note("x"), 1)))["time"]
    assert to_plain(datetime(2026, 1, 1, tzinfo=timezone(timedelta(0)))) == "2026-01-01T00:00:00Z"
    east = datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    assert to_plain(east) == "2026-01-01T09:00:00+02:00"
    assert to_plain(datetime(2026, 1, 1)) == "2026-01-01T00:00:00"  # naive: no offset
    assert to_plain({"d": date(2026, 2, 28), "t": time(23, 59)}) == {
        "d": "2026-02-28",
        "t": "23:59:00",
    }


def test_values_become_plain_data() -> None:
    value = {
        "enum": Color.RED,
        "int_enum": Level.HIGH,
        "uuid": uuid.UUID(int=1),
        "path": Path("/var/lib"),
        "decimal": decimal.Decimal("1.50"),
        "bytes": b"ab",
        "tuple": (1, "two"),
        "set": {3},
        "frozenset": frozenset({"a"}),
        "point": Point(1, T0),
        "struct": Box("b", T0),
        7: "int key",
        "nan": math.nan,
        "inf": -math.inf,
        "none": None,
    }
    assert to_plain(value) == {
        "enum": "red",
        "int_enum": 2,
        "uuid": "00000000-0000-0000-0000-000000000001",
        "path": "/var/lib",
        "decimal": "1.50",
        "bytes": "YWI=",
        "tuple": [1, "two"],
        "set": [3],
        "frozenset": ["a"],
        "point": {"x": 1, "at": "2026-03-09T12:00:01.250000Z"},
        "struct": {"label": "b", "when": "2026-03-09T12:00:01.250000Z"},
        "7": "int key",
        "nan": None,
        "inf": None,
        "none": None,
    }


@dataclass(slots=True, frozen=True)
class Reading:
    """Annotations that cannot hold an event: written by msgspec as it is."""

    points: tuple[Point, ...]
    tags: frozenset[str]
    level: Level
    ratio: float


def test_a_dataclass_that_cannot_hold_an_event_is_written_like_the_dict_of_its_fields() -> None:
    value = Reading((Point(1, T0), Point(2, T0)), frozenset({"a"}), Level.HIGH, math.nan)
    expected = {
        "points": [
            {"x": 1, "at": "2026-03-09T12:00:01.250000Z"},
            {"x": 2, "at": "2026-03-09T12:00:01.250000Z"},
        ],
        "tags": ["a"],
        "level": 2,
        "ratio": None,
    }
    assert to_plain(value) == expected
    # Once the class's verdict is memoised, and inside containers that are walked.
    assert to_plain([value, {"r": value}]) == [expected, {"r": expected}]
    # An event anywhere around it is still a record.
    evt = Event(T0, Note("wrapped", value), 9)
    assert to_plain({"evt": evt})["evt"]["data"] == {"text": "wrapped", "value": expected}


def test_an_event_is_its_wire_record_wherever_it_is() -> None:
    evt = Event(T0, Note("hello", {"n": 1}), 4)
    record = json.loads(encode_event(evt))
    assert to_plain(evt) == record == event_to_dict(evt)
    assert to_plain({"last": [evt], "point": Point(1, T0)})["last"] == [record]
    assert to_plain(Note("outer", evt)) == {"text": "outer", "value": record}


def test_unknown_objects_become_their_str_and_nothing_raises() -> None:
    marker = object()
    assert to_plain({"x": marker}) == {"x": str(marker)}
    assert to_plain([BadStr()]) == ["<unrepresentable BadStr: RuntimeError>"]
    assert to_plain({None: 1, (1, 2): 2}) == {"None": 1, "(1, 2)": 2}
    assert to_plain(BadStr()) == "<unrepresentable BadStr: RuntimeError>"


def test_an_event_the_wire_rejects_is_still_a_record() -> None:
    evt = Event(T0, Note("bad \ud800", object()), 2)
    record = to_plain(evt)
    assert record["name"] == "test.plain.note"
    assert record["time"] == "2026-03-09T12:00:01.250000Z"
    assert record["data"]["text"] == "bad \\ud800"
    assert record["data"]["value"].startswith("<object object")
    assert json_safe(record)


def test_lone_surrogates_cycles_and_deep_nesting_stay_json_safe() -> None:
    assert to_plain({"k\udc80": "v\ud800"}) == {"k\\udc80": "v\\ud800"}
    cycle: list[Any] = [1]
    cycle.append(cycle)
    plain = to_plain(cycle)
    assert plain[0] == 1 and json_safe(plain)
    deep: Any = "bottom"
    for _ in range(50_000):
        deep = [deep]
    assert json_safe(to_plain(deep))


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))])),
    st.dates(),
    st.uuids(),
    st.sampled_from([Color.RED, Level.HIGH, b"\x00\xff"]),
    st.builds(object),
    st.builds(BadStr),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(), st.integers()), inner, max_size=4),
        st.builds(Point, st.integers(), st.datetimes(timezones=st.just(UTC))),
        st.builds(lambda v, n: Event(T0, Note("n", v), n), inner, st.integers(0, 99)),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(values)
def test_any_value_becomes_json_safe_data_that_converts_to_itself(value: Any) -> None:
    plain = to_plain(value)
    assert json_safe(plain)
    assert to_plain(plain) == plain


@pytest.mark.parametrize("value", [1, "text", None, True, 2.5])
def test_plain_scalars_come_back_unchanged(value: Any) -> None:
    assert to_plain(value) == value
    assert type(to_plain(value)) is type(value)
