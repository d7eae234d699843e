"""JsonlSink: segments chosen by event time, whole lines, flush modes, retention, disk errors."""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bussdcc import ManualClock
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import UnencodableError, decode_event
from bussdcc_framework.io.jsonl import JsonlSink, SegmentWriteError
from bussdcc_framework.io.jsonl._segments import parse_segment_path, segment_relpath, segment_window
from bussdcc_framework.io.jsonl.compress import compress_segment
from bussdcc_framework.io.jsonl.sink import CHECK_INTERVAL, CHECK_LINES, RETRY_FIRST, RETRY_MAX
from bussdcc_framework.message import SinkRecovered
from bussdcc_framework.runtime import Runtime

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Sample(Message):
    name = "test.sink.sample"
    n: int
    text: str = ""


@dataclass(slots=True, frozen=True)
class Anything(Message):
    name = "test.sink.anything"
    value: Any


def at(seconds: float, n: int = 0, text: str = "") -> Event[Sample]:
    return Event(T0 + timedelta(seconds=seconds), Sample(n, text), n)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def segment_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.jsonl"))


# --- segment naming (pure) -----------------------------------------------------------------------


def test_segment_window_aligns_down_to_the_interval_since_midnight_utc() -> None:
    ts = datetime(2026, 3, 9, 12, 7, 31, tzinfo=UTC).timestamp()
    start, end = segment_window(ts, 600)
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert end - start == 600
    assert segment_relpath(start) == "2026-03-09/12-00-00.jsonl"


def test_the_last_segment_of_a_day_ends_at_midnight() -> None:
    # 7 does not divide a day: windows restart at midnight instead of drifting across days.
    late = datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC).timestamp()
    start, end = segment_window(late, 7)
    assert datetime.fromtimestamp(end, UTC) == datetime(2026, 3, 10, tzinfo=UTC)
    assert (start - datetime(2026, 3, 9, tzinfo=UTC).timestamp()) % 7 == 0
    first = segment_window(end, 7)
    assert first == (end, end + 7)


def test_segment_names_parse_back_and_others_do_not() -> None:
    start = datetime(2026, 3, 9, 12, 10, tzinfo=UTC).timestamp()
    assert parse_segment_path("2026-03-09", "12-10-00.jsonl") == start
    assert parse_segment_path("2026-03-09", "12-10-00.jsonl.zst") == start
    assert parse_segment_path("2026-03-09", "12-10-00.jsonl.gz") == start  # earlier releases
    for day, name in [
        ("2026-03-09", "notes.jsonl"),
        ("2026-03-09", "12-10-00.jsonl.gz.zst"),
        ("2026-03-09", "12-10-00.jsonl.zst.partial"),
        ("2026-03-09", "12-10-00.jsonl.bz2"),
        ("misc", "12-10-00.jsonl"),
        ("2026-03-09", "12-10-00.txt"),
    ]:
        assert parse_segment_path(day, name) is None


# --- writing -------------------------------------------------------------------------------------


def test_each_event_lands_in_the_segment_of_its_own_time(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, interval=600)
    for seconds, n in [(1, 1), (599.999, 2), (600, 3), (3600 * 12 + 5, 4), (30, 5)]:
        sink.handle(at(seconds, n))
    sink.stop()
    assert segment_files(tmp_path) == [
        "2026-03-09/12-00-00.jsonl",
        "2026-03-09/12-10-00.jsonl",
        "2026-03-10/00-00-00.jsonl",
    ]
    # The late event (30 s) went back to the segment its time belongs to.
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-09/12-00-00.jsonl")] == [1, 2, 5]
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-09/12-10-00.jsonl")] == [3]
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-10/00-00-00.jsonl")] == [4]


def test_lines_are_wire_records_that_decode_back_to_the_events(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path)
    events = [at(i, i, "x" * i) for i in range(5)]
    for evt in events:
        sink.handle(evt)
    sink.stop()
    raw = (tmp_path / "2026-03-09/12-00-00.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    assert [decode_event(line) for line in raw.splitlines()] == events


def test_an_encoder_given_replaces_encode_event_for_every_line(tmp_path: Path) -> None:
    seen: list[Event[Any]] = []

    def encoder(evt: Event[Any]) -> bytes:
        seen.append(evt)
        return b'{"written": %d}' % evt.seq

    sink = JsonlSink(tmp_path, flush="batch", batch_size=2, encoder=encoder)
    events = [at(i, i) for i in range(3)]
    for evt in events:
        sink.handle(evt)
    sink.stop()
    assert seen == events
    assert lines(tmp_path / "2026-03-09/12-00-00.jsonl") == [{"written": n} for n in range(3)]


def test_an_encoder_that_is_not_callable_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="encoder"):
        JsonlSink(tmp_path, encoder=b"not callable")  # type: ignore[arg-type]


def test_flush_per_event_makes_each_line_visible_before_handle_returns(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path)
    segment = tmp_path / "2026-03-09/12-00-00.jsonl"
    for n in range(3):
        sink.handle(at(n, n))
        assert len(segment.read_bytes().splitlines()) == n + 1
    assert sink.path == segment
    sink.stop()


def test_batched_mode_writes_every_batch_size_events_and_at_stop(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, flush="batch", batch_size=3)
    segment = tmp_path / "2026-03-09/12-00-00.jsonl"
    for n in range(2):
        sink.handle(at(n, n))
    assert segment.read_bytes() == b""
    sink.handle(at(2, 2))
    assert len(lines(segment)) == 3
    sink.handle(at(3, 3))
    assert len(lines(segment)) == 3
    sink.stop()
    assert [r["data"]["n"] for r in lines(segment)] == [0, 1, 2, 3]


def test_batched_lines_are_written_to_their_segment_before_switching(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, interval=60, flush="batch", batch_size=100)
    sink.handle(at(1, 1))
    sink.handle(at(61, 2))
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-09/12-00-00.jsonl")] == [1]
    sink.stop()
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-09/12-01-00.jsonl")] == [2]


def test_fsync_mode_writes_the_same_lines(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, fsync=True)
    sink.handle(at(1, 1))
    sink.stop()
    assert lines(tmp_path / "2026-03-09/12-00-00.jsonl")[0]["data"] == {"n": 1, "text": ""}


def test_appending_after_a_torn_line_ends_the_fragment_first(tmp_path: Path) -> None:
    segment = tmp_path / "2026-03-09/12-00-00.jsonl"
    segment.parent.mkdir(parents=True)
    segment.write_bytes(b'{"time":"2026-03-09T12:00:00Z","seq":0,"na')  # a crash mid-line
    sink = JsonlSink(tmp_path)
    sink.handle(at(5, 5))
    sink.stop()
    torn, good = segment.read_bytes().splitlines()
    assert torn.endswith(b'"na')
    assert decode_event(good) == at(5, 5)


def test_an_unencodable_event_raises_and_writes_nothing(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path)
    sink.handle(at(1, 1))
    with pytest.raises(UnencodableError):
        sink.handle(Event(T0, Anything(object())))
    sink.handle(at(2, 2))
    sink.stop()
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-09/12-00-00.jsonl")] == [1, 2]


def test_the_sink_can_be_used_again_after_stop(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path)
    sink.handle(at(1, 1))
    sink.stop()
    sink.handle(at(2, 2))
    sink.stop()
    assert len(lines(tmp_path / "2026-03-09/12-00-00.jsonl")) == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"interval": 0}, ValueError),
        ({"interval": 1.5}, ValueError),
        ({"interval": 86_401}, ValueError),
        ({"interval": True}, ValueError),
        ({"flush": "never"}, ValueError),
        ({"flush": "batch", "batch_size": 0}, ValueError),
        ({"retention_age": -1}, ValueError),
        ({"retention_age": timedelta(0)}, ValueError),
        ({"retention_bytes": -5}, ValueError),
    ],
)
def test_bad_arguments_are_rejected_at_construction(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        JsonlSink(tmp_path, **kwargs)


def test_a_root_that_is_not_a_path_is_rejected() -> None:
    with pytest.raises(TypeError, match="root"):
        JsonlSink(42)  # type: ignore[arg-type]


# --- retention -----------------------------------------------------------------------------------


# The shortest line retention recognises as the sink's own format (a wire record's keys):
# retention never deletes a file it could not read back.
_RECORD = b'{"time":"","seq":0,"name":"x","data":{}}\n'


def _make_segment(root: Path, when: datetime, size: int) -> Path:
    path = root / segment_relpath(when.timestamp())
    path.parent.mkdir(parents=True, exist_ok=True)
    padding = max(0, size - len(_RECORD) - 1)
    path.write_bytes(_RECORD + b"x" * padding + b"\n")
    return path


def test_retention_keeps_a_segment_it_cannot_read_back(tmp_path: Path) -> None:
    foreign = tmp_path / segment_relpath((T0 - timedelta(days=3)).timestamp())
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b'{"time":"2026-01-01T00:00:00+00:00","type":"a.b:C","data":{}}\n')
    sink = JsonlSink(tmp_path, retention_age=timedelta(days=1), retention_bytes=0)
    sink.handle(at(1, 1))
    sink.stop()
    assert foreign.exists()


def test_retention_by_age_deletes_old_segments_and_their_emptied_day_folders(
    tmp_path: Path,
) -> None:
    old = _make_segment(tmp_path, T0 - timedelta(days=3), 10)
    recent = _make_segment(tmp_path, T0 - timedelta(hours=1), 10)
    notes = tmp_path / "README.txt"
    notes.write_text("not a segment")
    sink = JsonlSink(tmp_path, retention_age=timedelta(days=1))
    sink.handle(at(1, 1))
    sink.stop()
    assert not old.exists()
    assert not old.parent.exists()
    assert recent.exists()
    assert notes.exists()


def test_retention_deletes_old_compressed_segments_it_wrote(tmp_path: Path) -> None:
    # A closed segment is kept as .jsonl.zst (.jsonl.gz by earlier releases): retention judges
    # it by its decompressed first line, so compression never makes history undeletable (and
    # fill the disk), and never deletes a compressed file of another format.
    old = compress_segment(_make_segment(tmp_path, T0 - timedelta(days=3), 10))
    old_gz = _make_segment(tmp_path, T0 - timedelta(days=3, hours=1), 10)
    old_gz = old_gz.with_name(old_gz.name + ".gz")
    old_gz.write_bytes(gzip.compress(_RECORD))
    old_gz.with_name(old_gz.name.removesuffix(".gz")).unlink()
    foreign_line = b'{"time":"2026-01-01T00:00:00+00:00","type":"a.b:C","data":{}}\n'
    foreign = tmp_path / segment_relpath((T0 - timedelta(days=2)).timestamp())
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(foreign_line)
    foreign = compress_segment(foreign)
    foreign_gz = tmp_path / segment_relpath((T0 - timedelta(days=2, hours=1)).timestamp())
    foreign_gz = foreign_gz.with_name(foreign_gz.name + ".gz")
    foreign_gz.write_bytes(gzip.compress(foreign_line))
    not_zstd = tmp_path / segment_relpath((T0 - timedelta(days=2, hours=2)).timestamp())
    not_zstd = not_zstd.with_name(not_zstd.name + ".zst")
    not_zstd.write_bytes(b"not zstd at all\n")  # unreadable: cannot tell, so kept
    sink = JsonlSink(tmp_path, retention_age=timedelta(days=1))
    sink.handle(at(1, 1))
    sink.stop()
    assert old.name.endswith(".jsonl.zst") and not old.exists()
    assert not old_gz.exists()
    assert foreign.exists() and foreign_gz.exists() and not_zstd.exists()


def test_retention_by_bytes_deletes_oldest_first_but_never_the_current_segment(
    tmp_path: Path,
) -> None:
    oldest = _make_segment(tmp_path, T0 - timedelta(hours=3), 100)
    older = _make_segment(tmp_path, T0 - timedelta(hours=2), 100)
    newer = _make_segment(tmp_path, T0 - timedelta(hours=1), 100)
    current = _make_segment(tmp_path, T0, 1000)  # already over the limit on its own
    sink = JsonlSink(tmp_path, retention_bytes=250)
    sink.handle(at(1, 1))
    sink.stop()
    assert not oldest.exists() and not older.exists() and not newer.exists()
    assert current.exists()


def test_retention_by_bytes_keeps_what_fits(tmp_path: Path) -> None:
    oldest = _make_segment(tmp_path, T0 - timedelta(hours=3), 100)
    older = _make_segment(tmp_path, T0 - timedelta(hours=2), 100)
    newer = _make_segment(tmp_path, T0 - timedelta(hours=1), 100)
    sink = JsonlSink(tmp_path, retention_bytes=200)
    sink.handle(at(1, 1))
    sink.stop()
    assert not oldest.exists()
    assert older.exists() and newer.exists()


def test_retention_runs_again_when_each_new_segment_opens(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, interval=60, retention_age=120)
    for minute in range(5):
        sink.handle(at(minute * 60, minute))
    sink.stop()
    assert segment_files(tmp_path) == [
        "2026-03-09/12-02-00.jsonl",
        "2026-03-09/12-03-00.jsonl",
        "2026-03-09/12-04-00.jsonl",
    ]


# --- disk errors ---------------------------------------------------------------------------------
# Tests run as root, where a read-only mode does not stop writes, so failures are real ones:
# a segment that is a symlink to /dev/full (ENOSPC on every write) and a day folder that is
# a regular file (opening a segment below it fails with ENOTDIR). Retries follow the clock of
# the context the sink was started with: a ManualClock here, so no test sleeps.


class Context:
    """What a sink needs of its runtime: a ManualClock and the messages it emits."""

    def __init__(self) -> None:
        self.rt = Runtime(clock=ManualClock())
        self.clock = self.rt.clock
        self.recovered: list[SinkRecovered] = []
        self.rt.events.subscribe(SinkRecovered, lambda evt: self.recovered.append(evt.payload))

    def sink(self, root: Path, **options: Any) -> JsonlSink:
        sink = JsonlSink(root, **options)
        sink.start(self.rt.ctx)
        return sink

    def advance(self, seconds: float) -> None:
        assert isinstance(self.clock, ManualClock)
        self.clock.advance(seconds)


@pytest.fixture
def ctx() -> Context:
    return Context()


@pytest.fixture
def full_disk(tmp_path: Path) -> Path:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    segment = tmp_path / "2026-03-09/12-00-00.jsonl"
    segment.parent.mkdir(parents=True)
    segment.symlink_to("/dev/full")
    return segment


def free_space(full_disk: Path) -> None:
    """The cause goes away: the segment becomes an ordinary (empty) file."""
    full_disk.unlink()
    full_disk.touch()


def test_disk_full_raises_a_clear_error_naming_the_file_and_the_retry(
    tmp_path: Path, full_disk: Path, ctx: Context
) -> None:
    sink = ctx.sink(tmp_path, interval=600)
    with pytest.raises(SegmentWriteError) as caught:
        sink.handle(at(1, 1))
    assert isinstance(caught.value, OSError)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(full_disk)
    assert "not recorded until writing works again (next try in 1 s)" in str(caught.value)
    assert sink.failing
    # Until the retry is due, events are dropped without touching the disk, each raising.
    with pytest.raises(SegmentWriteError):
        sink.handle(at(2, 2))


def test_after_disk_full_recording_resumes_in_the_same_segment_once_a_retry_succeeds(
    tmp_path: Path, full_disk: Path, ctx: Context
) -> None:
    sink = ctx.sink(tmp_path, interval=600)
    for n in (1, 2):
        with pytest.raises(SegmentWriteError):
            sink.handle(at(n, n))
    free_space(full_disk)
    with pytest.raises(SegmentWriteError):
        sink.handle(at(3, 3))  # the retry is not due yet: one second after the failure
    ctx.advance(RETRY_FIRST)
    sink.handle(at(4, 4))  # the same 10-minute segment, not the next one
    sink.handle(at(5, 5))
    sink.stop()
    assert [r["data"]["n"] for r in lines(full_disk)] == [4, 5]
    assert [(r.sink, r.path, r.dropped) for r in ctx.recovered] == [
        ("JsonlSink", str(full_disk), 3)
    ]


def test_retries_back_off_from_one_to_five_seconds(
    tmp_path: Path, full_disk: Path, ctx: Context
) -> None:
    sink = ctx.sink(tmp_path, interval=600)
    delays = []
    for n in range(6):
        with pytest.raises(SegmentWriteError) as caught:
            sink.handle(at(n, n))
        delays.append(str(caught.value).split("next try in ")[1].split(" s)")[0])
        ctx.advance(RETRY_MAX)  # every retry due: each event is a fresh try
    assert delays == ["1", "2", "4", "5", "5", "5"]
    assert RETRY_FIRST == 1.0
    free_space(full_disk)
    sink.handle(at(10, 10))
    # A success resets the backoff: the next failure waits one second again.
    full_disk.unlink()
    full_disk.symlink_to("/dev/full")
    sink.stop()
    with pytest.raises(SegmentWriteError, match="next try in 1 s"):
        sink.handle(at(11, 11))


def test_disk_full_in_batched_mode_is_reported_when_the_batch_is_written(
    tmp_path: Path, full_disk: Path, ctx: Context
) -> None:
    sink = ctx.sink(tmp_path, flush="batch", batch_size=2)
    sink.handle(at(1, 1))
    with pytest.raises(SegmentWriteError):
        sink.handle(at(2, 2))
    sink.handle(at(700, 3))  # a new segment is tried at once
    sink.stop()
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-09/12-10-00.jsonl")] == [3]
    assert [r.dropped for r in ctx.recovered] == [2]


def test_an_unopenable_segment_is_retried_and_recovers_when_its_folder_can_be_made(
    tmp_path: Path, ctx: Context
) -> None:
    (tmp_path / "2026-03-09").write_text("a file where the day folder should be")
    sink = ctx.sink(tmp_path, interval=3600)
    for n in range(2):
        with pytest.raises(SegmentWriteError) as caught:
            sink.handle(at(n, n))
        assert "2026-03-09" in str(caught.value)
    (tmp_path / "2026-03-09").unlink()
    ctx.advance(RETRY_FIRST)
    sink.handle(at(9, 9))
    sink.stop()
    assert [r["data"]["n"] for r in lines(tmp_path / "2026-03-09/12-00-00.jsonl")] == [9]
    assert [r.dropped for r in ctx.recovered] == [2]


def test_without_a_context_the_sink_still_retries_on_the_real_clock(
    tmp_path: Path, full_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr("time.monotonic", lambda: now[0])
    sink = JsonlSink(tmp_path)
    with pytest.raises(SegmentWriteError):
        sink.handle(at(1, 1))
    free_space(full_disk)
    now[0] += RETRY_FIRST
    sink.handle(at(2, 2))
    sink.stop()
    assert [r["data"]["n"] for r in lines(full_disk)] == [2]


# --- a deleted or replaced root ------------------------------------------------------------------


@pytest.mark.parametrize("what", ["root", "day folder", "segment"])
def test_a_deleted_root_is_recreated_and_nothing_written_is_lost(
    tmp_path: Path, ctx: Context, what: str
) -> None:
    root = tmp_path / "history"
    sink = ctx.sink(root)
    sink.handle(at(1, 1))
    sink.handle(at(2, 2))
    segment = root / "2026-03-09/12-00-00.jsonl"
    victim = {"root": root, "day folder": segment.parent, "segment": segment}[what]
    if victim.is_dir():
        shutil.rmtree(victim)
    else:
        victim.unlink()
    sink.handle(at(3, 3))  # written into the unlinked file: the check is not due yet
    ctx.advance(CHECK_INTERVAL)
    with pytest.raises(SegmentWriteError) as caught:
        sink.handle(at(4, 4))  # recorded, then reported
    assert caught.value.errno == errno.ENOENT
    assert "deleted or replaced" in str(caught.value)
    sink.handle(at(5, 5))
    sink.stop()
    # Every line written since the last check (here: since the segment opened) went to the
    # deleted file and is written again; 4 and 5 follow.
    assert [r["data"]["n"] for r in lines(segment)] == [1, 2, 3, 4, 5]
    assert [(r.path, r.dropped) for r in ctx.recovered] == [(str(segment), 0)]


def test_a_replaced_root_is_detected_and_the_sink_writes_into_the_new_one(
    tmp_path: Path, ctx: Context
) -> None:
    root = tmp_path / "history"
    sink = ctx.sink(root)
    sink.handle(at(1, 1))
    root.rename(tmp_path / "history.old")
    (root / "2026-03-09").mkdir(parents=True)
    (root / "2026-03-09/12-00-00.jsonl").write_bytes(b"")  # a different file, same path
    sink.handle(at(2, 2))
    ctx.advance(CHECK_INTERVAL)
    with pytest.raises(SegmentWriteError, match="deleted or replaced"):
        sink.handle(at(3, 3))
    sink.stop()
    assert [r["data"]["n"] for r in lines(root / "2026-03-09/12-00-00.jsonl")] == [1, 2, 3]
    assert [r["data"]["n"] for r in lines(tmp_path / "history.old/2026-03-09/12-00-00.jsonl")] == [
        1,
        2,
    ]


def test_the_reachability_check_also_runs_after_check_lines_lines(
    tmp_path: Path, ctx: Context
) -> None:
    sink = ctx.sink(tmp_path / "history")
    sink.handle(at(0, 0))
    shutil.rmtree(tmp_path / "history")
    for n in range(1, CHECK_LINES):
        sink.handle(at(1, n))  # no clock movement: only the line count triggers the check
    with pytest.raises(SegmentWriteError, match=f"the {CHECK_LINES} line"):
        sink.handle(at(2, CHECK_LINES))
    sink.stop()
    got = [r["data"]["n"] for r in lines(tmp_path / "history/2026-03-09/12-00-00.jsonl")]
    assert got == list(range(CHECK_LINES + 1))


def test_a_root_that_cannot_be_recreated_is_a_failure_retried_with_backoff(
    tmp_path: Path, ctx: Context
) -> None:
    root = tmp_path / "history"
    sink = ctx.sink(root)
    sink.handle(at(1, 1))
    shutil.rmtree(root)
    root.write_text("a file where the root should be")
    ctx.advance(CHECK_INTERVAL)
    with pytest.raises(SegmentWriteError) as caught:
        sink.handle(at(2, 2))
    assert caught.value.errno == errno.ENOTDIR
    root.unlink()
    ctx.advance(RETRY_FIRST)
    sink.handle(at(3, 3))
    sink.stop()
    assert [r["data"]["n"] for r in lines(root / "2026-03-09/12-00-00.jsonl")] == [3]
    assert [r.dropped for r in ctx.recovered] == [2]
