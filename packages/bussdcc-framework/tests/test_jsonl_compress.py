"""Compressed segments: the sink compresses what it closes (zstd), the source reads them back,
and the gzip segments of earlier releases still read and are never rewritten."""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zstandard

from bussdcc import Runtime
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource
from bussdcc_framework.io.jsonl.compress import (
    GzipLineFile,
    PlainLineFile,
    ZstdLineFile,
    compress_segment,
    compressed_path,
    format_rank,
    is_compressed,
    open_segment,
    plain_path,
)

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


def frames(data: bytes) -> list[bytes]:
    """Each zstd frame of ``data`` decompressed on its own (zstandard's own reader)."""
    out = []
    while data:
        decoder = zstandard.ZstdDecompressor().decompressobj()
        out.append(decoder.decompress(data))
        assert decoder.eof
        data = decoder.unused_data
    return out


def zstdcat(path: Path) -> bytes:
    """What ``zstdcat`` prints: every frame, one after the other."""
    with zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(path.read_bytes()), read_across_frames=True
    ) as reader:
        return reader.read()


def many(count: int) -> list[Event[Message]]:
    # Enough lines in one window for several zstd blocks (a block holds at most 128 KiB).
    return [at(n * 0.01, n) for n in range(count)]


# --- writing --------------------------------------------------------------------------------


def test_closing_a_segment_compresses_it_and_the_source_reads_it_back(tmp_path: Path) -> None:
    events = [at(s, n) for n, s in enumerate(range(0, 180, 2))]
    record(tmp_path, events)
    assert files(tmp_path) == [
        "2026-03-09/12-00-00.jsonl.zst",
        "2026-03-09/12-01-00.jsonl.zst",
        "2026-03-09/12-02-00.jsonl.zst",
    ]
    assert list(JsonlSource(tmp_path)) == events
    # A plain zstd file, one frame: any zstd tool reads it.
    data = (tmp_path / "2026-03-09/12-00-00.jsonl.zst").read_bytes()
    [text] = frames(data)
    assert text.count(b"\n") == 30
    # The frame carries its content checksum (damage that still decodes is caught) and its
    # size (zstdcat and other tools know what to expect).
    header = zstandard.get_frame_parameters(data)
    assert header.has_checksum and header.content_size == len(text)


def test_the_open_segment_stays_plain_until_the_sink_leaves_it(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.handle(at(0, 0))
    sink.handle(at(61, 1))
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.zst", "2026-03-09/12-01-00.jsonl"]
    sink.stop()
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.zst", "2026-03-09/12-01-00.jsonl.zst"]


def test_a_reopened_compressed_window_gains_a_frame_and_reads_oldest_first(
    tmp_path: Path,
) -> None:
    # The clock steps back into a window already compressed, and a restart reopens another.
    first = [at(0, 0), at(61, 1), at(5, 2), at(62, 3)]
    record(tmp_path, first)
    second = [at(63, 4)]
    record(tmp_path, second)
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.zst", "2026-03-09/12-01-00.jsonl.zst"]
    assert [e.seq for e in JsonlSource(tmp_path)] == [0, 2, 1, 3, 4]
    # The reopened windows hold one frame per time the sink left them, each ending a line.
    both = frames((tmp_path / "2026-03-09/12-00-00.jsonl.zst").read_bytes())
    assert [frame.count(b"\n") for frame in both] == [1, 1]
    later = frames((tmp_path / "2026-03-09/12-01-00.jsonl.zst").read_bytes())
    assert [frame.count(b"\n") for frame in later] == [1, 1, 1]  # left, reopened, restarted
    assert all(frame.endswith(b"\n") for frame in both + later)


def test_while_both_exist_the_compressed_lines_come_before_the_plain_ones(
    tmp_path: Path,
) -> None:
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.handle(at(0, 0))
    sink.stop()
    sink.handle(at(1, 1))  # the same window, reopened plain beside its compressed twin
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl", "2026-03-09/12-00-00.jsonl.zst"]
    assert [e.seq for e in JsonlSource(tmp_path)] == [0, 1]
    sink.stop()


def test_a_torn_plain_segment_is_compressed_with_its_fragment_ended(tmp_path: Path) -> None:
    record(tmp_path, [at(0, 0)])
    [zst] = tmp_path.rglob("*.zst")
    plain = plain_path(zst)
    [line] = frames(zst.read_bytes())
    plain.write_bytes(line + line[:20])  # a crash mid-line after a reopen
    compress_segment(plain)
    assert not plain.exists()
    assert [frame.endswith(b"\n") for frame in frames(zst.read_bytes())] == [True, True]
    source = JsonlSource(tmp_path)
    assert [e.seq for e in source] == [0, 0]  # the first frame, then the reopen's line
    assert source.skipped == 1  # the torn fragment, alone on its own line


def test_an_empty_plain_segment_is_only_deleted(tmp_path: Path) -> None:
    plain = tmp_path / "12-00-00.jsonl"
    plain.write_bytes(b"")
    assert compress_segment(plain) == tmp_path / "12-00-00.jsonl.zst"
    assert files(tmp_path) == []


# --- crash safety ---------------------------------------------------------------------------


def test_compressing_syncs_the_file_renames_it_syncs_the_folder_then_deletes_the_plain_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "12-00-00.jsonl"
    plain.write_bytes(b'{"a":1}\n')
    steps: list[str] = []
    real_fsync, real_replace, real_unlink = os.fsync, os.replace, Path.unlink

    def fsync(fd: int) -> None:
        kind = "folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"
        if kind == "file":
            # What is synced is the whole compressed file, under its temporary name.
            target = os.readlink(f"/proc/self/fd/{fd}")
            assert target.endswith(".jsonl.zst.partial")
            assert frames(Path(target).read_bytes()) == [b'{"a":1}\n']
        steps.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        steps.append(f"rename {Path(src).name} -> {Path(dst).name}")
        real_replace(src, dst)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        steps.append(f"delete {self.name}")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)
    compress_segment(plain)
    assert steps == [
        "fsync file",
        "rename 12-00-00.jsonl.zst.partial -> 12-00-00.jsonl.zst",
        "fsync folder",
        "delete 12-00-00.jsonl",
    ]


def test_a_failed_compression_keeps_the_plain_lines_and_the_earlier_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "12-00-00.jsonl"
    plain.write_bytes(b'{"a":1}\n')
    earlier = compress_segment(plain)
    before = earlier.read_bytes()
    plain.write_bytes(b'{"a":2}\n')

    def broken(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        compress_segment(plain)
    assert plain.read_bytes() == b'{"a":2}\n'
    assert earlier.read_bytes() == before
    assert files(tmp_path) == ["12-00-00.jsonl", "12-00-00.jsonl.zst"]  # no .partial left


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


def test_plain_segments_an_earlier_run_left_are_compressed_after_start(tmp_path: Path) -> None:
    JsonlSink(tmp_path, interval=60).handle(at(0, 0))  # a crashed run: never stopped
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl"]
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.start(Runtime().ctx)
    assert sink._sweeper is not None
    sink._sweeper.join()
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.zst"]
    sink.stop()
    assert [e.seq for e in JsonlSource(tmp_path)] == [0]


# --- damage ---------------------------------------------------------------------------------


def test_a_compressed_segment_cut_short_reads_up_to_the_break(tmp_path: Path) -> None:
    events = many(5000)
    record(tmp_path, events)
    [path] = tmp_path.rglob("*.zst")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 2 // 3])  # a power loss before the rest was written
    source = JsonlSource(tmp_path)
    read = list(source)
    assert 0 < len(read) < len(events)
    assert read == events[: len(read)]  # every line up to the break, in order, none made up
    reasons = [problem.reason for problem in source.problems]
    assert any("cut short" in reason for reason in reasons), reasons


def test_a_damaged_compressed_segment_reads_up_to_the_damage(tmp_path: Path) -> None:
    events = many(5000)
    record(tmp_path, events)
    [path] = tmp_path.rglob("*.zst")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    source = JsonlSource(tmp_path)
    read = list(source)  # never raises
    assert read == events[: len(read)]
    assert len(read) < len(events)
    reasons = [problem.reason for problem in source.problems]
    assert any("damaged" in reason for reason in reasons), reasons


def test_a_corrupt_frame_stops_reading_there_and_later_segments_still_read(
    tmp_path: Path,
) -> None:
    record(tmp_path, [at(0, 0), at(1, 1)])
    record(tmp_path, [at(2, 2)])  # the window's second frame
    record(tmp_path, [at(60, 3)])  # the next window
    path = tmp_path / "2026-03-09/12-00-00.jsonl.zst"
    assert len(frames(path.read_bytes())) == 2
    data = bytearray(path.read_bytes())
    data[-6:-4] = bytes([data[-6] ^ 0xFF, data[-5] ^ 0xFF])  # inside the second frame
    path.write_bytes(bytes(data))
    source = JsonlSource(tmp_path)
    assert [e.seq for e in source] == [0, 1, 3]
    [problem] = source.problems
    assert problem.path == path and "damaged" in problem.reason


def test_garbage_after_the_last_frame_is_reported_not_raised(tmp_path: Path) -> None:
    record(tmp_path, [at(0, 0)])
    [path] = tmp_path.rglob("*.zst")
    path.write_bytes(path.read_bytes() + b"\x00junk that is no frame")
    source = JsonlSource(tmp_path)
    assert [e.seq for e in source] == [0]
    assert source.skipped == 1 and "damaged" in source.problems[0].reason


# --- retention ------------------------------------------------------------------------------


def test_retention_counts_compressed_bytes(tmp_path: Path) -> None:
    events = [at(s, n) for n, s in enumerate(range(0, 600, 1))]
    record(tmp_path, events)
    sizes = sorted(p.stat().st_size for p in tmp_path.rglob("*.zst"))
    assert len(sizes) == 10
    # Room for every compressed segment but not for one of them plain: nothing is deleted.
    plain_size = len(zstdcat(next(tmp_path.rglob("*.zst"))))
    budget = sum(sizes) + sizes[-1]
    assert budget < plain_size * 10
    record(tmp_path, [at(600, 600)], retention_bytes=budget)
    assert len(list(tmp_path.rglob("*.zst"))) == 11
    # A budget for three: the oldest go first, counted by their compressed size.
    record(tmp_path, [at(660, 661)], retention_bytes=3 * sizes[-1])
    left = files(tmp_path)
    assert left[-1] == "2026-03-09/12-11-00.jsonl.zst"
    assert 2 <= len(left) <= 4
    assert "2026-03-09/12-00-00.jsonl.zst" not in left


def test_retention_manages_plain_gzip_and_zstd_segments_alike(tmp_path: Path) -> None:
    # An upgraded install: gzip segments from before, zstd ones since, all this sink's format.
    record(tmp_path, [at(s, n) for n, s in enumerate(range(0, 180, 60))])
    gz = tmp_path / "2026-03-09/12-00-00.jsonl.gz"
    gz.write_bytes(gzip.compress(zstdcat(compressed_path(plain_path(gz)))))
    compressed_path(plain_path(gz)).unlink()
    plain = tmp_path / "2026-03-09/12-01-00.jsonl"
    plain.write_bytes(zstdcat(compressed_path(plain)))
    compressed_path(plain).unlink()
    assert files(tmp_path) == [
        "2026-03-09/12-00-00.jsonl.gz",
        "2026-03-09/12-01-00.jsonl",
        "2026-03-09/12-02-00.jsonl.zst",
    ]
    record(tmp_path, [at(3600, 9)], retention_age=timedelta(minutes=30))
    assert files(tmp_path) == ["2026-03-09/13-00-00.jsonl.zst"]


# --- reading --------------------------------------------------------------------------------


def test_gzip_segments_of_earlier_releases_read_in_time_order_with_zstd_ones(
    tmp_path: Path,
) -> None:
    events = [at(s, n) for n, s in enumerate(range(0, 240, 20))]
    record(tmp_path, events)
    # 12:00 and 12:02 as an earlier release left them (gzip), 12:01 and 12:03 zstd.
    for minute in ("12-00-00", "12-02-00"):
        zst = tmp_path / f"2026-03-09/{minute}.jsonl.zst"
        zst.with_name(f"{minute}.jsonl.gz").write_bytes(gzip.compress(zstdcat(zst)))
        zst.unlink()
    assert files(tmp_path) == [
        "2026-03-09/12-00-00.jsonl.gz",
        "2026-03-09/12-01-00.jsonl.zst",
        "2026-03-09/12-02-00.jsonl.gz",
        "2026-03-09/12-03-00.jsonl.zst",
    ]
    assert list(JsonlSource(tmp_path)) == events


def test_a_window_with_gzip_zstd_and_plain_files_reads_them_oldest_first(tmp_path: Path) -> None:
    # An earlier release compressed the window to .gz; after the upgrade the sink reopened it
    # (stored as one more .zst file: the .gz is never rewritten), then reopened it again.
    record(tmp_path, [at(0, 0), at(1, 1)])
    zst = tmp_path / "2026-03-09/12-00-00.jsonl.zst"
    gz = zst.with_name("12-00-00.jsonl.gz")
    gz.write_bytes(gzip.compress(zstdcat(zst)))
    zst.unlink()
    legacy = gz.read_bytes()
    record(tmp_path, [at(2, 2)])
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.gz", "2026-03-09/12-00-00.jsonl.zst"]
    assert gz.read_bytes() == legacy
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.handle(at(3, 3))  # plain beside both, until the sink leaves the window
    assert [e.seq for e in JsonlSource(tmp_path)] == [0, 1, 2, 3]
    sink.stop()
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.gz", "2026-03-09/12-00-00.jsonl.zst"]
    assert gz.read_bytes() == legacy
    assert [e.seq for e in JsonlSource(tmp_path)] == [0, 1, 2, 3]


def test_plain_leftovers_beside_a_gzip_segment_are_compressed_to_zstd_not_into_the_gzip(
    tmp_path: Path,
) -> None:
    record(tmp_path, [at(0, 0)])
    gz = tmp_path / "2026-03-09/12-00-00.jsonl.gz"
    zst = compressed_path(plain_path(gz))
    gz.write_bytes(gzip.compress(zstdcat(zst)))
    zst.unlink()
    legacy = gz.read_bytes()
    JsonlSink(tmp_path, interval=60).handle(at(1, 1))  # a crashed run left plain lines
    sink = JsonlSink(tmp_path, interval=60, compress=True)
    sink.start(Runtime().ctx)
    assert sink._sweeper is not None
    sink._sweeper.join()
    sink.stop()
    assert files(tmp_path) == ["2026-03-09/12-00-00.jsonl.gz", "2026-03-09/12-00-00.jsonl.zst"]
    assert gz.read_bytes() == legacy
    assert [e.seq for e in JsonlSource(tmp_path)] == [0, 1]


def test_a_gzip_segment_cut_short_still_reads_up_to_the_break(tmp_path: Path) -> None:
    events = many(500)
    record(tmp_path, events)
    [zst] = tmp_path.rglob("*.zst")
    whole = gzip.compress(zstdcat(zst))
    zst.with_name(zst.name.replace(".zst", ".gz")).write_bytes(whole[: len(whole) * 2 // 3])
    zst.unlink()
    source = JsonlSource(tmp_path)
    read = list(source)
    assert 0 < len(read) < len(events)
    assert read == events[: len(read)]
    assert any("cut short" in problem.reason for problem in source.problems)


def test_open_segment_picks_the_reader_by_suffix(tmp_path: Path) -> None:
    lines = b"one\ntwo\n"
    paths = {
        "a.jsonl": lines,
        "a.jsonl.gz": gzip.compress(lines),
        "a.jsonl.zst": zstandard.ZstdCompressor().compress(lines),
    }
    for name, data in paths.items():
        (tmp_path / name).write_bytes(data)
    kinds: dict[str, type] = {}
    for name in paths:
        with open_segment(tmp_path / name) as file:
            kinds[name] = type(file)
            assert file.read() == lines
            assert file.damage is None
    assert kinds == {
        "a.jsonl": PlainLineFile,
        "a.jsonl.gz": GzipLineFile,
        "a.jsonl.zst": ZstdLineFile,
    }


def test_suffix_helpers() -> None:
    plain = Path("d/12-00-00.jsonl")
    assert compressed_path(plain) == Path("d/12-00-00.jsonl.zst")
    for path in (plain, Path("d/12-00-00.jsonl.zst"), Path("d/12-00-00.jsonl.gz")):
        assert plain_path(path) == plain
    assert not is_compressed(plain)
    assert is_compressed(Path("d/12-00-00.jsonl.zst"))
    assert is_compressed(Path("d/12-00-00.jsonl.gz"))
    assert not is_compressed(Path("d/12-00-00.jsonl.zst.partial"))
    ranks = [format_rank(Path(f"d/x.jsonl{suffix}")) for suffix in (".gz", ".zst", "")]
    assert ranks == sorted(ranks) and len(set(ranks)) == 3


@pytest.mark.parametrize(
    ("reader", "encode"),
    [
        (GzipLineFile, gzip.compress),
        (ZstdLineFile, zstandard.ZstdCompressor(write_checksum=True).compress),
    ],
)
def test_compressed_readers_read_every_frame_in_small_pieces(
    tmp_path: Path, reader: type[GzipLineFile | ZstdLineFile], encode: object
) -> None:
    assert callable(encode)
    path = tmp_path / "x.jsonl.any"
    path.write_bytes(encode(b"one\n") + encode(b"two\n") + encode(b""))
    with reader(path) as file:
        pieces = []
        while piece := file.read(3):
            pieces.append(piece)
        assert b"".join(pieces) == b"one\ntwo\n"
        assert file.damage is None


def test_a_large_segment_is_streamed_into_one_frame_with_a_small_window(tmp_path: Path) -> None:
    # A fast --interval makes segments of tens of MB: compressing one must not need memory
    # in proportion (the frame's window bounds what compressing and reading it take).
    lines = b"".join(
        b'{"time":"2026-01-01T00:00:%02dZ","seq":%d,"name":"x","data":%d}\n' % (i % 60, i, i * 7)
        for i in range(60_000)
    )
    segment = tmp_path / "00-00-00.jsonl"
    segment.write_bytes(lines)
    assert len(lines) > 3 << 20  # several times the window
    target = compress_segment(segment)
    packed = target.read_bytes()
    frame = zstandard.get_frame_parameters(packed)
    assert frame.window_size <= 1 << 20
    assert frame.content_size == len(lines) and frame.has_checksum
    with open_segment(target) as reader:
        assert reader.read() == lines
    assert not segment.exists()
