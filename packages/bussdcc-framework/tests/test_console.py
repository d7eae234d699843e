"""ConsoleSink: one flushed JSON line per event; an unserialisable value never crashes it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import decode_event
from bussdcc_framework.io.console import ConsoleSink
from bussdcc_framework.message import FrameworkBooted

T0 = datetime(2026, 3, 9, 12, 0, 1, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Opaque(Message):
    name = "test.console.opaque"
    value: Any
    label: str = "x"


class FlushCounter(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_each_event_is_one_wire_line_flushed_at_once() -> None:
    stream = FlushCounter()
    sink = ConsoleSink(stream)
    events = [Event(T0, FrameworkBooted(version="0.47.0"), n) for n in range(3)]
    for evt in events:
        sink.handle(evt)
    text = stream.getvalue()
    assert text.endswith("\n")
    assert [decode_event(line) for line in text.splitlines()] == events
    ends = [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    assert stream.flushed_at == ends  # flushed right after each line, not later


def test_it_writes_to_the_current_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    sink = ConsoleSink()
    sink.start(None)  # type: ignore[arg-type]  # needs nothing from the context
    sink.handle(Event(T0, FrameworkBooted(version="1"), 7))
    sink.stop()
    record = json.loads(capsys.readouterr().out)
    assert record["name"] == "framework.booted"
    assert record["seq"] == 7


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (object(), lambda v: v.startswith("<object object at")),
        (BadRepr(), lambda v: v == "<unrepresentable BadRepr: RuntimeError>"),
        ({"nested": [object()]}, lambda v: v["nested"][0].startswith("<object object")),
        ("\ud800", lambda v: v == "\\ud800"),
    ],
)
def test_an_unserialisable_value_still_prints_its_record_with_the_value_as_text(
    value: object, shown: Callable[[Any], bool]
) -> None:
    stream = io.StringIO()
    sink = ConsoleSink(stream)
    sink.handle(Event(T0, Opaque(value, "kept"), 5))
    sink.handle(Event(T0, FrameworkBooted(version="after"), 6))
    first, second = stream.getvalue().splitlines()
    record = json.loads(first)
    # The same record the wire would write (UTC as Z), with the bad value as its str.
    assert record["time"] == "2026-03-09T12:00:01Z"
    assert record["name"] == "test.console.opaque"
    assert record["seq"] == 5
    assert record["data"]["label"] == "kept"
    assert shown(record["data"]["value"])
    assert "serialis" in record["error"] or "surrogate" in record["error"]
    assert decode_event(second).payload == FrameworkBooted(version="after")
