"""EventDecoder: one result per line (event, None or the line's WireError), one filter."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import (
    EventDecoder,
    InvalidDataError,
    MalformedLineError,
    TypeMismatchError,
    UnknownMessageError,
    WireError,
    decode_event,
    encode_event,
)

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Ping(Message):
    name = "test.decoder.ping"
    n: int


@dataclass(slots=True, frozen=True)
class Pong(Message):
    name = "test.decoder.pong"
    n: int


def ping(n: int, minutes: int = 0) -> Event[Ping]:
    return Event(T0 + timedelta(minutes=minutes), Ping(n), n)


def older(evt: Event[Any]) -> bytes:
    """``evt`` in the earlier record shape (no ``name``, ``seq`` or ``severity``)."""
    record = json.loads(encode_event(evt))
    return json.dumps(
        {"time": record["time"], "type": record["type"], "data": record["data"]}
    ).encode()


def results(decoder: EventDecoder, lines: list[bytes]) -> list[Event[Message] | WireError | None]:
    return list(decoder.decode_lines(lines))


def test_each_line_gives_exactly_one_result_in_order() -> None:
    good = ping(1)
    lines = [
        encode_event(good),
        b"",
        b"   ",
        b'{"time": "2026-03-09T12:00:00Z", "na',
        encode_event(good).replace(b"test.decoder.ping", b"test.decoder.nobody"),
        encode_event(good).replace(b'"n":1', b'"n":"one"'),
        encode_event(Event(T0, Pong(2), 2)),
    ]
    got = results(EventDecoder(), lines)
    assert len(got) == len(lines)
    assert got[0] == good
    assert got[1] is None and got[2] is None  # blank lines carry nothing, and are no error
    assert isinstance(got[3], MalformedLineError)
    assert isinstance(got[4], UnknownMessageError)
    assert isinstance(got[5], InvalidDataError) and "$.n" in str(got[5])
    assert got[6] == Event(T0, Pong(2), 2)


def test_a_returned_error_is_the_one_decode_event_raises() -> None:
    bad = [
        b"\xff\xfe garbage",
        encode_event(ping(1)).replace(b'"n":1', b'"n":null'),
        encode_event(ping(1)).replace(b"test_event_decoder:Ping", b"test_event_decoder:Pong"),
    ]
    for line, result in zip(bad, EventDecoder().decode_lines(bad), strict=True):
        with pytest.raises(WireError) as raised:
            decode_event(line)
        assert type(result) is type(raised.value)
        assert str(result) == str(raised.value)


def test_a_type_naming_another_registered_message_is_a_mismatch() -> None:
    line = encode_event(ping(1))
    ping_type = f"{Ping.__module__}:{Ping.__qualname__}".encode()
    pong_type = f"{Pong.__module__}:{Pong.__qualname__}".encode()
    moved, contradiction = (
        line.replace(ping_type, b"old.place:Ping"),
        line.replace(ping_type, pong_type),
    )
    got = results(EventDecoder(), [moved, contradiction, contradiction])
    assert got[0] == ping(1)
    assert isinstance(got[1], TypeMismatchError) and isinstance(got[2], TypeMismatchError)


@pytest.mark.parametrize("shape", [encode_event, older], ids=["current", "earlier"])
def test_the_window_and_names_filter_both_record_shapes_alike(shape: Any) -> None:
    events: list[Event[Any]] = [ping(n, minutes=n) for n in range(5)]
    events.append(Event(T0 + timedelta(minutes=2), Pong(9), 9))
    lines = [shape(evt) for evt in events]
    decoder = EventDecoder(
        start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=4), names={"test.decoder.ping"}
    )
    got = results(decoder, lines)
    kept = [r.payload for r in got if isinstance(r, Event)]
    assert kept == [Ping(1), Ping(2), Ping(3)]
    assert got[0] is None and got[4] is None and got[5] is None  # filtered lines: None


def test_filtered_lines_are_not_validated_or_resolved() -> None:
    outside = encode_event(ping(1)).replace(b'"n":1', b'"n":"bad"')
    unknown = encode_event(ping(1)).replace(b"test.decoder.ping", b"test.decoder.nobody")
    by_time = EventDecoder(start=T0 + timedelta(hours=1))
    assert results(by_time, [outside, unknown]) == [None, None]
    by_name = EventDecoder(names=["test.decoder.pong"])
    assert results(by_name, [outside, unknown]) == [None, None]
    assert results(EventDecoder(), [outside])[0].__class__ is InvalidDataError


def test_messages_defined_after_the_decoder_was_built_are_decoded() -> None:
    decoder = EventDecoder()
    assert results(decoder, [encode_event(ping(1))]) == [ping(1)]

    @dataclass(slots=True, frozen=True)
    class Late(Message):
        name = "test.decoder.late"
        text: str

    late = Event(T0, Late("hello"), 3)
    assert results(decoder, [encode_event(late), encode_event(ping(2))]) == [late, ping(2)]


def test_lines_may_be_str_and_keep_their_newline() -> None:
    line = encode_event(ping(4)).decode() + "\n"
    assert results(EventDecoder(), [line]) == [ping(4)]  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"start": datetime(2026, 1, 1)}, ValueError, "start"),
        ({"end": "2026-01-01"}, ValueError, "end"),
        ({"names": "test.decoder.ping"}, TypeError, "names"),
        ({"allowed_modules": ["x"]}, TypeError, "allowed_modules"),
    ],
)
def test_bad_arguments_are_rejected_naming_them(
    kwargs: dict[str, object], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        EventDecoder(**kwargs)  # type: ignore[arg-type]


def test_a_line_that_is_not_bytes_or_str_raises_type_error() -> None:
    with pytest.raises(TypeError, match="bytes or str"):
        results(EventDecoder(), [12])  # type: ignore[list-item]
