"""Every message records, and a sink's failure is always reported, whatever the event holds.

A 0.42-style message (no ``name``) is recorded and replayed under ``<module>:<QualName>``;
a sink failing with an exception that cannot be printed, or on a payload that has no name
of its own, still produces its ``sink.error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bussdcc import ContextProtocol, Event, Message
from bussdcc_framework import ReplayRuntime, Runtime
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource
from bussdcc_framework.message import SinkError


@dataclass(slots=True, frozen=True)
class LegacyReading(Message):  # the 0.42 form: no name
    sensor: str
    value: float


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken")


class ListSink:
    def __init__(self) -> None:
        self.events: list[Event[Any]] = []

    def start(self, ctx: ContextProtocol) -> None:
        pass

    def handle(self, evt: Event[Any]) -> None:
        self.events.append(evt)

    def stop(self) -> None:
        pass


class FailingSink(ListSink):
    """Fails on every event of ``kind`` with ``error()``."""

    def __init__(self, kind: type[Message], error: type[Exception]) -> None:
        super().__init__()
        self.kind, self.error = kind, error

    def handle(self, evt: Event[Any]) -> None:
        if type(evt.payload) is self.kind:
            raise self.error()


def test_a_message_without_a_name_is_recorded_and_replays(tmp_path: Path) -> None:
    rt = Runtime()
    rt.add_sink(JsonlSink(tmp_path))
    with rt:
        rt.emit(LegacyReading("cpu", 12.5))

    source = JsonlSource(tmp_path)
    replayed = ReplayRuntime(speed=0)
    seen = ListSink()
    replayed.add_sink(seen)
    replayed.add_source(source)
    replayed.run()

    legacy = [e.payload for e in seen.events if isinstance(e.payload, LegacyReading)]
    assert legacy == [LegacyReading("cpu", 12.5)]
    assert source.skipped == 0
    assert rt.event_counts["by_name"][f"{__name__}:LegacyReading"] == 1


def test_a_sink_failing_unprintably_is_reported() -> None:
    healthy = ListSink()
    rt = Runtime()
    rt.add_sink(FailingSink(LegacyReading, Unprintable))
    rt.add_sink(healthy)
    with rt:
        rt.emit(LegacyReading("cpu", 1.0))

    errors = [e.payload for e in healthy.events if isinstance(e.payload, SinkError)]
    assert len(errors) == 1
    assert errors[0].sink == "FailingSink"
    assert errors[0].event == LegacyReading.name
    assert errors[0].error.startswith("Unprintable: <str() failed")


def test_a_sink_failing_on_a_bare_message_is_reported_and_counted() -> None:
    healthy = ListSink()
    rt = Runtime()
    rt.add_sink(FailingSink(Message, ValueError))
    rt.add_sink(healthy)
    with rt:
        rt.emit(Message())

    errors = [e.payload for e in healthy.events if isinstance(e.payload, SinkError)]
    assert [e.event for e in errors] == ["bussdcc.message:Message"]
    assert rt.event_counts["by_name"]["bussdcc.message:Message"] == 1
