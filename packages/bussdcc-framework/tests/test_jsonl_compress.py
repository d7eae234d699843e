"""Compressed segments: the sink compresses what it closes, the source reads them back."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bussdcc import Runtime
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource
from bussdcc_framework.io.jsonl.compress import GzipLineFile, compress_segment

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.compress.reading"
    n: int
    text: str = "unavailable: no sensor found in /sys/class/hwmon"


def at(seconds: float, n: int) -> Event[Message]:
    return Event(T0 + timedelta(seconds=seconds), Reading(n), n)


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def record(root: Path, events: list[Event[Message]], **options: object) -> JsonlSink:
    sink = JsonlSink(root, interval=60, compress=True, **options)  # type: ignore[arg-type]
    for evt in events:
        sink.handle(evt)
    sink.stop()
    return sink


def test_closing_a_segment_compresses_it_and_the_source_reads_it_back(tmp_path: Path) -> None:
    events = [at(s, n) for n, s in enumerate(range(0, 180, 2))]
    record(tmp_path, events)
    assert files(tmp_path) == [
        "2026-03-09/12-00-00.jsonl.gz",
        "2026-03-09/12-01-00.jsonl.gz",
        "2026-03-09/12-02-00.jsonl.gz",
    ]
    assert list(JsonlSource(tmp_path)) == events
    # A plain gzip file: any gzip tool reads it.
    text = gzip.decompress((tmp_path / "2026-03-09/12-00-00.jsonl.gz").read_bytes())
    assert text.count(b"\n") == 30


def test_the_open_segment_stays_plain_until_the_sink_leaves_it(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.handle(at(0, 0))
    sink.handle(at(61, 1))
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.gz", "2026-03-09/12-01-00.jsonl"]
    sink.stop()
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.gz", "2026-03-09/12-01-00.jsonl.gz"]


def test_a_reopened_compressed_window_gains_a_member_and_reads_oldest_first(
    tmp_path: Path,
) -> None:
    # The clock steps back into a window already compressed, and a restart reopens another.
    first = [at(0, 0), at(61, 1), at(5, 2), at(62, 3)]
    record(tmp_path, first)
    second = [at(63, 4)]
    record(tmp_path, second)
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.gz", "2026-03-09/12-01-00.jsonl.gz"]
    assert [e.seq for e in JsonlSource(tmp_path)] == [0, 2, 1, 3, 4]


def test_while_both_exist_the_compressed_lines_come_before_the_plain_ones(
    tmp_path: Path,
) -> None:
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.handle(at(0, 0))
    sink.stop()
    sink.handle(at(1, 1))  # the same window, reopened plain beside its compressed twin
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl", "2026-03-09/12-00-00.jsonl.gz"]
    assert [e.seq for e in JsonlSource(tmp_path)] == [0, 1]
    sink.stop()


def test_a_compressed_segment_cut_short_reads_up_to_the_break(tmp_path: Path) -> None:
    events = [at(s * 0.1, n) for n, s in enumerate(range(500))]
    record(tmp_path, events)
    [path] = tmp_path.rglob("*.gz")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 2 // 3])  # a power loss before the rest was written
    source = JsonlSource(tmp_path)
    read = list(source)
    assert 0 < len(read) < len(events)
    assert read == events[: len(read)]  # every line up to the break, in order, none made up
    reasons = [problem.reason for problem in source.problems]
    assert any("cut short" in reason for reason in reasons)


def test_a_damaged_compressed_segment_reads_up_to_the_damage(tmp_path: Path) -> None:
    events = [at(s * 0.1, n) for n, s in enumerate(range(500))]
    record(tmp_path, events)
    [path] = tmp_path.rglob("*.gz")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    source = JsonlSource(tmp_path)
    read = list(source)
    assert read == events[: len(read)]
    assert len(read) < len(events)
    assert source.skipped >= 1


def test_a_torn_plain_segment_is_compressed_with_its_fragment_ended(tmp_path: Path) -> None:
    record(tmp_path, [at(0, 0)])
    [gz] = tmp_path.rglob("*.gz")
    plain = gz.with_name(gz.name.removesuffix(".gz"))
    line = gzip.decompress(gz.read_bytes())
    plain.write_bytes(line + line[:20])  # a crash mid-line after a reopen
    compress_segment(plain)
    assert not plain.exists()
    source = JsonlSource(tmp_path)
    assert [e.seq for e in source] == [0, 0]  # the first member, then the reopen's line
    assert source.skipped == 1  # the torn fragment, alone on its own line


def test_plain_segments_an_earlier_run_left_are_compressed_after_start(tmp_path: Path) -> None:
    JsonlSink(tmp_path, interval=60).handle(at(0, 0))  # a crashed run: never stopped
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl"]
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.start(Runtime().ctx)
    assert sink._sweeper is not None
    sink._sweeper.join()
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.gz"]
    sink.stop()
    assert [e.seq for e in JsonlSource(tmp_path)] == [0]


def test_retention_counts_compressed_bytes(tmp_path: Path) -> None:
    events = [at(s, n) for n, s in enumerate(range(0, 600, 1))]
    record(tmp_path, events)
    sizes = sorted(p.stat().st_size for p in tmp_path.rglob("*.gz"))
    assert len(sizes) == 10
    # Room for every compressed segment but not for one of them plain: nothing is deleted.
    plain_size = len(gzip.decompress(next(tmp_path.rglob("*.gz")).read_bytes()))
    budget = sum(sizes) + sizes[-1]
    assert budget < plain_size * 10
    record(tmp_path, [at(600, 600)], retention_bytes=budget)
    assert len(list(tmp_path.rglob("*.gz"))) == 11
    # A budget for three: the oldest go first, counted by their compressed size.
    record(tmp_path, [at(660, 661)], retention_bytes=3 * sizes[-1])
    left = files(tmp_path)
    assert left[-1] == "2026-03-09/12-11-00.jsonl.gz"
    assert 2 <= len(left) <= 4
    assert "2026-03-09/12-00-00.jsonl.gz" not in left


def test_gzip_reader_reads_every_member_in_small_pieces(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(gzip.compress(b"one\n") + gzip.compress(b"two\n") + gzip.compress(b""))
    with GzipLineFile(path) as file:
        pieces = []
        while piece := file.read(3):
            pieces.append(piece)
        assert b"".join(pieces) == b"one\ntwo\n"
        assert file.damage is None


def test_compressing_while_the_sink_writes_never_loses_a_line(tmp_path: Path) -> None:
    # Stray segments from a crashed run are compressed while the new run records.
    crashed = JsonlSink(tmp_path, interval=60)
    for n in range(300):
        crashed.handle(at(n, n))
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.start(Runtime().ctx)
    for n in range(300, 400):
        sink.handle(at(n, n))
    sink.stop()
    assert [e.seq for e in JsonlSource(tmp_path)] == list(range(400))
