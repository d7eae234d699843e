"""The wire format: exact round trips, the record's shape, every failure kind, safe type lookup."""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bussdcc.event import Event
from bussdcc.message import Message, ProcessError, Severity
from bussdcc_framework.codec import (
    EnvelopeError,
    InvalidDataError,
    MalformedLineError,
    TypeMismatchError,
    UnencodableError,
    UnknownMessageError,
    WireError,
    decode_event,
    encode_event,
    event_to_dict,
)
from bussdcc_framework.message import FrameworkBooted, FrameworkShuttingDown, SinkError

T0 = datetime(2026, 3, 9, 12, 0, 1, 735301, tzinfo=UTC)


class Mode(enum.Enum):
    AUTO = "auto"
    MANUAL = "manual"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Unit(enum.StrEnum):
    CELSIUS = "C"
    FAHRENHEIT = "F"


@dataclass(slots=True, frozen=True)
class Reading:
    sensor: str
    value: float | None
    at: datetime
    tags: frozenset[str] = frozenset()


@dataclass(slots=True, frozen=True)
class Everything(Message):
    name = "test.codec.everything"
    severity = Severity.WARNING
    when: datetime
    day: date
    clock: time
    mode: Mode
    level: Level
    unit: Unit
    ident: uuid.UUID
    path: Path
    pure: PurePosixPath
    reading: Reading
    readings: list[Reading]
    pair: tuple[int, str]
    many: tuple[float, ...]
    ids: set[int]
    frozen: frozenset[Unit]
    by_name: dict[str, list[int]]
    by_number: dict[int, Reading]
    maybe: int | None
    either: int | str
    choice: Literal["on", "off"]
    cause: Event[ProcessError] | None = None


def everything(**changes: Any) -> Everything:
    reading = Reading(
        "cpu", 51.5, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    )
    fields: dict[str, Any] = {
        "when": datetime(2026, 3, 9, 7, 0, 1, 5, tzinfo=timezone(timedelta(hours=-5))),
        "day": date(2026, 2, 28),
        "clock": time(23, 59, 58, 999999),
        "mode": Mode.MANUAL,
        "level": Level.HIGH,
        "unit": Unit.FAHRENHEIT,
        "ident": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "path": Path("/var/lib/bussdcc/history"),
        "pure": PurePosixPath("relative/file.txt"),
        "reading": reading,
        "readings": [reading, Reading("gpu", None, T0, frozenset({"hot", "fan"}))],
        "pair": (7, "seven"),
        "many": (1.5, -0.0, 1e300),
        "ids": {3, 1, 2},
        "frozen": frozenset({Unit.CELSIUS}),
        "by_name": {"a": [1, 2], "": []},
        "by_number": {-4: reading},
        "maybe": None,
        "either": "text",
        "choice": "off",
        "cause": Event(T0, ProcessError("poller", "boom", "Traceback...", "tick"), 41),
    }
    fields.update(changes)
    return Everything(**fields)


def test_every_supported_value_round_trips_exactly() -> None:
    evt = Event(T0, everything(), 42)
    back = decode_event(encode_event(evt))
    assert back == evt
    assert back.payload == evt.payload
    assert (back.time, back.seq) == (evt.time, evt.seq)
    # Equality alone would accept a list for a tuple or a UTC time for an offset one.
    payload = back.payload
    assert isinstance(payload, Everything)
    assert type(payload.pair) is tuple and type(payload.many) is tuple
    assert type(payload.ids) is set and type(payload.frozen) is frozenset
    assert type(payload.path) is type(Path("/")) and type(payload.pure) is PurePosixPath
    assert payload.when.utcoffset() == timedelta(hours=-5)
    assert payload.mode is Mode.MANUAL and payload.level is Level.HIGH
    assert payload.cause is not None and payload.cause.payload.event == "tick"


def test_union_members_keep_their_type() -> None:
    for value in (5, "5"):
        back = decode_event(encode_event(Event(T0, everything(either=value, maybe=0), 1)))
        assert isinstance(back.payload, Everything)
        assert type(back.payload.either) is type(value)
        assert back.payload.maybe == 0


def test_record_has_the_documented_shape() -> None:
    line = encode_event(Event(T0, FrameworkBooted(version="0.47.0"), 3))
    assert b"\n" not in line
    record = json.loads(line)
    assert list(record) == ["time", "seq", "name", "type", "severity", "data"]
    assert record == {
        "time": "2026-03-09T12:00:01.735301Z",
        "seq": 3,
        "name": "framework.booted",
        "type": "bussdcc_framework.message.framework:FrameworkBooted",
        "severity": "info",
        "data": {"version": "0.47.0"},
    }
    assert datetime.fromisoformat(record["time"]) == T0


def test_event_to_dict_is_the_same_record_as_json_safe_data() -> None:
    evt = Event(T0, everything(), 9)
    record = event_to_dict(evt)
    assert json.loads(json.dumps(record)) == record  # plain JSON types only
    assert record == json.loads(encode_event(evt))
    assert record["data"]["by_number"] == {
        "-4": json.loads(encode_event(evt))["data"]["by_number"]["-4"]
    }
    assert record["severity"] == "warning"


def test_a_decoded_line_may_end_with_a_newline_and_be_str() -> None:
    evt = Event(T0, FrameworkShuttingDown(reason="SIGTERM"), 8)
    assert decode_event(encode_event(evt) + b"\n") == evt
    assert decode_event(encode_event(evt).decode()) == evt


def test_framework_messages_have_their_wire_names_and_severities() -> None:
    assert FrameworkBooted.name == "framework.booted"
    assert FrameworkShuttingDown.name == "framework.shutting_down"
    assert FrameworkShuttingDown().reason is None
    assert SinkError.name == "sink.error"
    assert SinkError.severity is Severity.ERROR
    error = SinkError(sink="JsonlSink('/data')", error="disk full")
    assert (error.traceback, error.event) == ("", "")
    assert decode_event(encode_event(Event(T0, error, 1))).payload == error


def test_records_of_the_earlier_format_still_read() -> None:
    line = (
        '{"time":"2026-03-09T12:00:01.722504+00:00",'
        '"type":"bussdcc_framework.message.framework:FrameworkBooted","data":{"version":"0.1.0"}}'
    )
    evt = decode_event(line)
    assert evt.payload == FrameworkBooted(version="0.1.0")
    assert evt.seq == 0


# --- failures ------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Gauge(Message):
    name = "test.codec.gauge"
    value: float


def _line(**record: Any) -> str:
    return json.dumps({"time": "2026-03-09T12:00:00Z", "seq": 1, **record})


@pytest.mark.parametrize(
    ("line", "error", "says"),
    [
        (b'{"time": "2026-03-09T12:00:00Z", "na', MalformedLineError, "truncated"),
        (b"\xff\xfe\x00garbage", MalformedLineError, "malformed"),
        (b"", MalformedLineError, "not valid JSON"),
        (
            b'{"time": "2026-03-09T12:00:00Z", "name": "framework.booted", '
            b'"data": {"version": "\xff"}}',
            MalformedLineError,
            "UTF-8",
        ),
        (b'{"time": "2026-03-09T12:00:00Z", "data": ' + b"[" * 100_000, MalformedLineError, "deep"),
        ("[1, 2]", EnvelopeError, "Expected `object`"),
        ('{"seq": 1, "name": "test.codec.gauge", "data": {"value": 1}}', EnvelopeError, "`time`"),
        (_line(name="test.codec.gauge"), EnvelopeError, "`data`"),
        (_line(name=5, data={}), EnvelopeError, "$.name"),
        (_line(name="test.codec.gauge", seq=-1, data={}), EnvelopeError, "$.seq"),
        (
            '{"time": "2026-03-09T12:00:00", "name": "test.codec.gauge", "data": {"value": 1}}',
            EnvelopeError,
            "timezone",
        ),
        (_line(data={}), EnvelopeError, "neither"),
        (_line(name="test.codec.nobody", data={}), UnknownMessageError, "test.codec.nobody"),
        (
            _line(name="test.codec.gauge", type="bussdcc.message:ProcessError", data={}),
            TypeMismatchError,
            "process.error",
        ),
        (_line(name="test.codec.gauge", data={"value": "hot"}), InvalidDataError, "$.value"),
        (_line(name="test.codec.gauge", data={}), InvalidDataError, "value"),
        (_line(name="test.codec.gauge", data=[1.0]), InvalidDataError, "Expected `object`"),
    ],
)
def test_each_failure_kind_raises_its_own_clear_wire_error(
    line: bytes | str, error: type[WireError], says: str
) -> None:
    with pytest.raises(error) as caught:
        decode_event(line)
    assert isinstance(caught.value, ValueError)
    assert says in str(caught.value)


def test_a_moved_class_still_reads_by_its_wire_name() -> None:
    evt = decode_event(_line(name="test.codec.gauge", type="old.module:Gauge", data={"value": 2}))
    assert evt.payload == Gauge(2.0)


def test_a_nested_event_of_the_wrong_message_does_not_validate() -> None:
    record = json.loads(encode_event(Event(T0, everything(), 1)))
    record["data"]["cause"] = json.loads(encode_event(Event(T0, Gauge(1.0), 2)))
    with pytest.raises(InvalidDataError, match=r"\$\.cause"):
        decode_event(json.dumps(record))


def test_wrong_argument_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        encode_event(Gauge(1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="allowed_modules"):
        decode_event(_line(name="test.codec.gauge", data={"value": 1}), allowed_modules="test")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes or str"):
        decode_event(12)  # type: ignore[arg-type]


@dataclass(slots=True, frozen=True)
class Loose(Message):
    name = "test.codec.loose"
    value: Any


@pytest.mark.parametrize(
    "value",
    [object(), [1, {"deep": {object()}}], "lone \ud800 surrogate"],
    ids=["object", "nested-object", "surrogate"],
)
def test_an_unserialisable_value_raises_unencodable_error(value: object) -> None:
    evt = Event(T0, Loose(value), 1)
    with pytest.raises(UnencodableError, match=r"test\.codec\.loose"):
        encode_event(evt)


def test_event_to_dict_rejects_what_json_cannot_carry() -> None:
    with pytest.raises(UnencodableError, match="object"):
        event_to_dict(Event(T0, Loose(object()), 1))


def test_a_cycle_raises_unencodable_error() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(UnencodableError):
        encode_event(Event(T0, Loose(cycle), 1))


def test_events_held_in_any_fields_are_written_as_records() -> None:
    inner = Event(T0, Gauge(3.0), 5)
    record = json.loads(encode_event(Event(T0, Loose({"list": [inner]}), 6)))
    assert record["data"]["value"]["list"][0]["name"] == "test.codec.gauge"
    assert record["data"]["value"]["list"][0]["data"] == {"value": 3.0}


# --- type resolution never imports unless allowed ---------------------------------------------


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable package ``codec_plugin_pkg.messages`` that records being imported."""
    package = tmp_path / "codec_plugin_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "messages.py").write_text(
        "from dataclasses import dataclass\n"
        "from bussdcc.message import Message\n"
        "IMPORTED = True\n"
        "@dataclass(slots=True, frozen=True)\n"
        "class Plugged(Message):\n"
        "    name = 'test.codec.plugged'\n"
        "    level: int\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "codec_plugin_pkg.messages"
    for module in ("codec_plugin_pkg.messages", "codec_plugin_pkg"):
        sys.modules.pop(module, None)


def test_unknown_names_import_nothing_without_an_allow_list(plugin_module: str) -> None:
    line = _line(name="test.codec.plugged", type=f"{plugin_module}:Plugged", data={"level": 1})
    with pytest.raises(UnknownMessageError, match="allowed_modules"):
        decode_event(line)
    with pytest.raises(UnknownMessageError):
        decode_event(line, allowed_modules=("codec_plugin",))  # not a dotted prefix of it
    assert plugin_module not in sys.modules


def test_modules_under_an_allowed_prefix_are_imported_to_resolve_a_name(
    plugin_module: str,
) -> None:
    line = _line(name="test.codec.plugged", type=f"{plugin_module}:Plugged", data={"level": 4})
    evt = decode_event(line, allowed_modules=("codec_plugin_pkg",))
    assert plugin_module in sys.modules
    assert type(evt.payload).__qualname__ == "Plugged"
    assert evt.payload.to_dict() == {"level": 4}


# --- property: any message built from the supported types round-trips exactly ---------------------

_names = itertools.count()

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_zones = st.one_of(st.just(UTC), _offsets)
_aware = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=_zones)
_float = st.floats(allow_nan=False, allow_infinity=False)
_int = st.integers()  # unbounded: msgspec carries big integers exactly

# (type, strategy of its values) for hashable scalars, usable as set members and dict keys.
_HASHABLE: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (int, _int),
    (str, _text),
    (uuid.UUID, st.uuids()),
    (date, st.dates()),
    (Mode, st.sampled_from(Mode)),
    (Level, st.sampled_from(Level)),
    (Unit, st.sampled_from(Unit)),
]
_SCALARS: list[tuple[Any, st.SearchStrategy[Any]]] = [
    *_HASHABLE,
    (float, _float),
    (bool, st.booleans()),
    (datetime, _aware),
    (time, st.times(timezones=st.one_of(st.none(), _zones))),
    (Path, _text.map(Path)),
    (Literal["a", "b", 3], st.sampled_from(["a", "b", 3])),
    (int | str, st.one_of(_int, _text)),
    (float | None, st.one_of(st.none(), _float)),
    (
        Event[Gauge],
        st.builds(lambda t, v, s: Event(t, Gauge(v), s), _aware, _float, st.integers(0, 2**32)),
    ),
]


Strategy = st.SearchStrategy[Any]
FieldType = tuple[Any, Strategy]


def _optional(t: FieldType) -> FieldType:
    tp: Any = t[0]
    return tp | None, st.one_of(st.none(), t[1])


def _field_types(inner: st.SearchStrategy[FieldType]) -> st.SearchStrategy[FieldType]:
    """Containers, optionals and dataclasses built around ``inner`` field types."""
    hashable = st.sampled_from(_HASHABLE)
    keys = st.sampled_from([(str, _text), (int, _int)])
    return st.one_of(
        inner.map(lambda t: (list.__class_getitem__(t[0]), st.lists(t[1], max_size=3))),
        inner.map(
            lambda t: (tuple.__class_getitem__((t[0], ...)), st.lists(t[1], max_size=3).map(tuple))
        ),
        st.tuples(inner, inner).map(
            lambda ts: (
                tuple.__class_getitem__((ts[0][0], ts[1][0])),
                st.tuples(ts[0][1], ts[1][1]),
            )
        ),
        hashable.map(lambda t: (set.__class_getitem__(t[0]), st.sets(t[1], max_size=3))),
        hashable.map(
            lambda t: (frozenset.__class_getitem__(t[0]), st.frozensets(t[1], max_size=3))
        ),
        st.tuples(keys, inner).map(
            lambda kv: (
                dict.__class_getitem__((kv[0][0], kv[1][0])),
                st.dictionaries(kv[0][1], kv[1][1], max_size=3),
            )
        ),
        inner.map(_optional),
        st.lists(inner, min_size=1, max_size=3).map(_nested_dataclass),
    )


def _nested_dataclass(fields: list[FieldType]) -> FieldType:
    cls = dataclasses.make_dataclass(
        f"Nested{next(_names)}",
        [(f"n{i}", tp) for i, (tp, _) in enumerate(fields)],
        frozen=True,
        slots=True,
    )
    return cls, st.builds(cls, *(values for _, values in fields))


_FIELD_TYPES = st.recursive(st.sampled_from(_SCALARS), _field_types, max_leaves=6)


@st.composite
def _events(draw: st.DrawFn) -> Event[Message]:
    fields = draw(st.lists(_FIELD_TYPES, min_size=1, max_size=5))
    number = next(_names)
    cls = dataclasses.make_dataclass(
        f"Generated{number}",
        [(f"f{i}", tp) for i, (tp, _) in enumerate(fields)],
        bases=(Message,),
        frozen=True,
        slots=True,
        namespace={"name": f"test.codec.generated.m{number}"},
    )
    payload = cls(*(draw(values) for _, values in fields))
    return Event(draw(_aware), payload, draw(st.integers(0, 2**63 - 1)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_events())
def test_generated_messages_round_trip_exactly(evt: Event[Message]) -> None:
    back = decode_event(encode_event(evt))
    assert back == evt
    assert type(back.payload) is type(evt.payload)
    assert back.time.utcoffset() == evt.time.utcoffset()
    assert json.loads(json.dumps(event_to_dict(evt))) == json.loads(encode_event(evt))
