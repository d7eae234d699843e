"""JsonlSource: ordered reading across segments, filters, and counted, reported skips."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import OversizeLineError, encode_event
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource, SkippedLine
from bussdcc_framework.io.jsonl.source import _line_batches

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Tick(Message):
    name = "test.source.tick"
    n: int


@dataclass(slots=True, frozen=True)
class Tock(Message):
    name = "test.source.tock"
    n: int


def tick(seconds: float, n: int, cls: type[Tick] | type[Tock] = Tick) -> Event[Message]:
    return Event(T0 + timedelta(seconds=seconds), cls(n), n)


def record(root: Path, events: list[Event[Message]], interval: int = 60) -> None:
    sink = JsonlSink(root, interval=interval)
    for evt in events:
        sink.handle(evt)
    sink.stop()


def test_a_recording_reads_back_as_the_same_events_in_time_order(tmp_path: Path) -> None:
    # Recorded out of order across four segments and two days (in order within each).
    events = [tick(s, n) for n, s in enumerate([3600 * 13, 5, 70, 3600 * 12 + 1, 75, 6])]
    record(tmp_path, events)
    read = list(JsonlSource(tmp_path))
    assert sorted(read, key=lambda e: e.time) == read
    assert sorted(read, key=lambda e: e.seq) == sorted(events, key=lambda e: e.seq)


def test_within_a_file_the_recorded_order_is_kept(tmp_path: Path) -> None:
    # A wall-clock step back inside one segment: replay must reproduce the delivery order.
    events = [tick(10, 0), tick(20, 1), tick(15, 2)]
    record(tmp_path, events)
    assert list(JsonlSource(tmp_path)) == events


def test_a_single_file_can_be_read(tmp_path: Path) -> None:
    events = [tick(1, 1), tick(2, 2)]
    record(tmp_path, events)
    source = JsonlSource(tmp_path / "2026-03-09" / "12-00-00.jsonl")
    assert list(source) == events
    assert source.files() == [tmp_path / "2026-03-09" / "12-00-00.jsonl"]


def test_time_window_includes_start_and_excludes_end(tmp_path: Path) -> None:
    events = [tick(s, s) for s in range(0, 300, 30)]
    record(tmp_path, events)
    source = JsonlSource(
        tmp_path, start=T0 + timedelta(seconds=60), end=T0 + timedelta(seconds=180)
    )
    assert [e.payload.n for e in source] == [60, 90, 120, 150]  # type: ignore[attr-defined]


def test_names_filter_keeps_only_the_named_messages(tmp_path: Path) -> None:
    record(tmp_path, [tick(1, 1), tick(2, 2, Tock), tick(3, 3), tick(4, 4, Tock)])
    source = JsonlSource(tmp_path, names=["test.source.tock"])
    assert [(e.name, e.seq) for e in source] == [("test.source.tock", 2), ("test.source.tock", 4)]
    assert source.skipped == 0


def test_filtered_out_lines_are_not_validated_or_reported(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    bad_tock = b'{"time":"2026-03-09T12:00:00Z","name":"test.source.tock","data":{"n":"x"}}\n'
    path.write_bytes(bad_tock + encode_event(tick(1, 1)) + b"\n")
    source = JsonlSource(path, names={"test.source.tick"})
    assert [e.seq for e in source] == [1]
    assert source.skipped == 0


def test_bad_lines_are_skipped_counted_and_reported_with_file_and_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "2026-03-09" / "12-00-00.jsonl"
    path.parent.mkdir()
    good = [tick(1, 1), tick(2, 2), tick(3, 3)]
    path.write_bytes(
        encode_event(good[0])
        + b"\nnot json at all\n"
        + encode_event(good[1])
        + b'\n{"time":"2026-03-09T12:00:00Z","name":"test.source.nobody","data":{}}\n'
        + b'{"time":"2026-03-09T12:00:00Z","name":"test.source.tick","data":{"n":"seven"}}\n'
        + b"\n"  # a blank line is not a problem
        + encode_event(good[2])
        + b'\n{"time":"2026-03-09T12:00:0'
    )
    source = JsonlSource(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bussdcc_framework.io.jsonl"):
        assert list(source) == good
    assert source.skipped == 4
    assert [(p.path, p.line_no) for p in source.problems] == [
        (path, 2),
        (path, 4),
        (path, 5),
        (path, 8),
    ]
    assert all(isinstance(p, SkippedLine) for p in source.problems)
    reasons = [p.reason for p in source.problems]
    assert "JSON" in reasons[0]
    assert "test.source.nobody" in reasons[1]
    assert "$.n" in reasons[2]
    assert reasons[3].startswith("torn last line")
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 4
    assert all(str(path) in message for message in logged)
    assert "line 8" in logged[3]


def test_counters_reset_each_time_iteration_starts(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"garbage\n" + encode_event(tick(1, 1)) + b"\n")
    source = JsonlSource(path)
    assert len(list(source)) == 1
    assert len(list(source)) == 1
    assert source.skipped == 1
    assert len(source.problems) == 1


def test_problems_are_bounded_but_every_skip_is_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"garbage\n" * 50 + encode_event(tick(1, 1)) + b"\n")
    source = JsonlSource(path, max_problems=10)
    with caplog.at_level(logging.WARNING, logger="bussdcc_framework.io.jsonl"):
        assert len(list(source)) == 1
    assert source.skipped == 50
    assert len(source.problems) == 10
    assert len(caplog.records) == 11  # ten lines, then one note that the rest go unreported


def test_lines_over_the_limit_are_skipped_without_being_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    long_line = b'{"time":"2026-03-09T12:00:00Z","name":"test.source.tick","data":{"n":1},"pad":"'
    long_line += b"x" * 5000 + b'"}\n'
    path.write_bytes(
        encode_event(tick(1, 1)) + b"\n" + long_line + encode_event(tick(2, 2)) + b"\n"
    )
    source = JsonlSource(path, max_line_bytes=1000)
    assert [e.seq for e in source] == [1, 2]
    assert source.problems == [SkippedLine(path, 2, "line longer than 1000 bytes")]
    # With the default limit the same line is an ordinary event.
    assert [e.seq for e in JsonlSource(path)] == [1, 0, 2]  # it has no seq: 0


def test_only_jsonl_files_are_read_in_path_order(tmp_path: Path) -> None:
    record(tmp_path, [tick(1, 1), tick(3600 * 20, 2)])
    (tmp_path / "notes.txt").write_text("not events")
    source = JsonlSource(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in source.files()] == [
        "2026-03-09/12-00-00.jsonl",
        "2026-03-10/08-00-00.jsonl",
    ]
    assert [e.seq for e in source] == [1, 2]


def test_a_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list(JsonlSource(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"start": datetime(2026, 1, 1)}, ValueError),
        ({"end": "2026-01-01"}, ValueError),
        ({"names": "test.source.tick"}, TypeError),
        ({"allowed_modules": "myapp"}, TypeError),
        ({"max_line_bytes": 0}, ValueError),
        ({"max_line_bytes": 1.5}, TypeError),
        ({"max_problems": -1}, ValueError),
        ({"max_problems": "10"}, TypeError),
    ],
)
def test_bad_arguments_are_rejected(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        JsonlSource(tmp_path, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=12),
    terminated=st.booleans(),
    limit=st.integers(1, 50),
)
def test_line_batches_split_any_file_into_its_lines(
    lines: list[bytes], terminated: bool, limit: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if terminated and lines else b"")
    batches = list(_line_batches(io.BytesIO(data), limit))
    read = [
        line
        for _, batch, _ in batches
        for line in ([None] if isinstance(batch, OversizeLineError) else batch)
    ]
    expected: list[bytes | None] = [line if len(line) <= limit else None for line in lines]
    if lines and not terminated and lines[-1] == b"":
        expected.pop()  # "a\n" + "" is just "a\n": no torn line
    assert read == expected
    numbers = [
        first + i
        for first, batch, _ in batches
        for i in range(1 if isinstance(batch, OversizeLineError) else len(batch))
    ]
    assert numbers == list(range(1, len(read) + 1))
    torn = [flag for _, _, flag in batches]
    assert any(torn) == bool(data and not data.endswith(b"\n"))


def test_a_type_naming_another_message_is_skipped_but_a_moved_class_is_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    line = encode_event(tick(1, 1))
    tock_type = f"{Tock.__module__}:{Tock.__qualname__}".encode()
    tick_type = f"{Tick.__module__}:{Tick.__qualname__}".encode()
    moved = line.replace(tick_type, b"old.place:Tick")
    contradiction = line.replace(tick_type, tock_type)
    path.write_bytes(b"\n".join([moved, contradiction, moved, line]) + b"\n")
    source = JsonlSource(path)
    assert [e.payload for e in source] == [Tick(1), Tick(1), Tick(1)]
    assert [(p.line_no, "test.source.tock" in p.reason) for p in source.problems] == [(2, True)]
