"""Closed JSONL segments compressed with zstandard, and read back whatever state they are in.

Why zstandard, level 11: the system-health app must store at most 10 MB a day, and gzip
level 6 stored 12.4 MB. Measured on a 10-minute segment of the app's telemetry (981 KB, from
``tools/bench/history.py``'s generator) on the development machine (2 shared cores, load
average about 3), CPU as the best of 7 runs of ``time.process_time``, gzip-6 in the same run
as the floor::

    codec     ratio  CPU     vs gzip-6   decompress vs gunzip
    gzip-6    11.2   16 ms   1.0
    gzip-9    11.9   31 ms   2.0
    zstd-3    12.0    2 ms   0.15        0.5
    zstd-9    14.6   15 ms   1.0-1.1     0.3-0.45
    zstd-10   14.9   17 ms   1.1-1.3     0.25-0.6
    zstd-11   15.1   21 ms   1.3-2.3     0.25-0.55
    zstd-12   15.1   22 ms   1.4-2.2     0.3-0.55
    zstd-13   15.3   31 ms   2.0-2.6
    zstd-15   15.4   55 ms   3.5-4.5
    zstd-19   17.2  690 ms   44-68       (too slow for a Pi)

(ranges: zstandard 0.25 with libzstd 1.5.7, and 0.19 with 1.5.2 as Debian 12 ships it).
Level 11 is the cheapest level with level 12's ratio: about 12.4 * 11.2 / 15.1 = 9.2 MB a
day, for about 20-30 ms of CPU every ten minutes (a few hundred ms on a Pi, still far below
0.1 % of a core). Level 9 or 10 would leave under 8 % margin to the target; levels above 13
buy little for much more CPU. zstd also decompresses 2-4 times faster than gzip, which
`history rebuild` and replay read through. The files stay readable with ``zstdcat`` (Debian's
``zstd`` package).

Memory: level 11 left to its defaults allocates about 11 MB of match tables per segment, and
glibc kept that resident after the second segment (measured: +11 MB for good). The
compressor here uses a 1 MiB window and 2^17-entry tables instead (1.2 MB; ratio 15.0 against
15.1, less CPU) and reads the plain segment a MiB at a time, so compressing takes the same
memory whatever the segment's size, and reading a frame never needs more than a 1 MiB window.

Segments compressed by earlier releases (``HH-MM-SS.jsonl.gz``) are still read, and never
rewritten: a window that has both holds its oldest lines in the ``.gz`` file, then in the
``.zst`` file, then in the plain one (the order `COMPRESSED_SUFFIXES` and `format_rank`
state). `open_segment` opens any of the three by its suffix.

A compressed segment ``HH-MM-SS.jsonl.zst`` may hold several zstd frames: if the sink has to
reopen a window whose segment is already compressed (the clock stepped back, the app
restarted within the window), the new plain lines are compressed into one more frame
appended to the same file, so the file still reads oldest first. Every frame ends with a
newline, so a line torn by a crash never runs into the next frame's first line. Each frame
carries its content checksum, so damage is detected at the latest where the frame ends.

Crash safety: `compress_segment` writes the compressed file beside the segment under a
temporary name, syncs it, renames it into place, syncs the folder and only then deletes the
plain file, so a crash never loses a line; a crash between the rename and the delete leaves
both files (the reader then reads those lines twice). A compressed file cut short (a power
loss before the data reached the card) reads up to the break -- for zstd up to the last
whole block before it, as zstd decodes a block (at most 128 KiB of lines) at a time -- and
then reports the `damage` instead of raising; so does a damaged frame.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self

# zstandard (about 1.5 MB resident) is imported at the first .zst segment written or read:
# a program that only writes plain segments, or only reads gzip ones, never pays for it.

__all__ = [
    "COMPRESSED_SUFFIX",
    "COMPRESSED_SUFFIXES",
    "LEVEL",
    "GzipLineFile",
    "PlainLineFile",
    "SegmentFile",
    "ZstdLineFile",
    "compress_segment",
    "compressed_path",
    "format_rank",
    "is_compressed",
    "open_segment",
    "plain_path",
]

COMPRESSED_SUFFIX: Final = ".zst"
"""Appended to a segment's ``.jsonl`` name by `compress_segment`."""

COMPRESSED_SUFFIXES: Final = (".gz", ".zst")
"""Every suffix a compressed segment may carry, oldest format first: ``.gz`` from releases
before zstandard (read, never written), then ``.zst``."""

LEVEL: Final = 11
"""zstd level: level 12's ratio (15.1 on the app's telemetry) for less CPU; see above."""

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate data
_WINDOW_LOG: Final = 20
_TABLE_LOG: Final = 17
_COMPRESS_BYTES: Final = 1 << 20
_READ_BYTES: Final = 1 << 16


def _compressed_suffix(path: Path) -> str | None:
    name = path.name
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(".jsonl" + suffix):
            return suffix
    return None


def is_compressed(path: Path) -> bool:
    """Whether ``path`` names a compressed segment (``.jsonl.zst``, or ``.jsonl.gz`` from an
    earlier release)."""
    return _compressed_suffix(path) is not None


def compressed_path(path: Path) -> Path:
    """The path `compress_segment` writes for a plain segment path (``<path>.zst``)."""
    return path.with_name(path.name + COMPRESSED_SUFFIX)


def plain_path(path: Path) -> Path:
    """The plain twin of a compressed segment path (``path`` itself if it is plain)."""
    suffix = _compressed_suffix(path)
    return path if suffix is None else path.with_name(path.name.removesuffix(suffix))


def format_rank(path: Path) -> int:
    """Where ``path``'s lines come among the files of one window: 0 for ``.gz``, 1 for
    ``.zst``, 2 for plain. Each format's file was written after the ones ranked before it
    (an upgrade adds ``.zst`` beside ``.gz``; the sink writes plain lines last), so reading
    a window's files by rank reads its lines oldest first."""
    suffix = _compressed_suffix(path)
    return len(COMPRESSED_SUFFIXES) if suffix is None else COMPRESSED_SUFFIXES.index(suffix)


def compress_segment(path: Path, *, level: int = LEVEL) -> Path:
    """Compress the closed plain segment ``path`` into ``<path>.zst`` and delete ``path``.

    An existing ``<path>.zst`` keeps its content: the plain lines become one more zstd frame
    after it. An existing ``<path>.gz`` (an earlier release's) is left as it is. A plain
    segment that is empty is only deleted. Returns the compressed path.

    Raises:
        OSError: if reading, writing or renaming fails; the plain segment is then left as
            it was (and any earlier compressed file too), so nothing is lost.
    """
    target = compressed_path(path)
    size = path.stat().st_size
    if size == 0:
        path.unlink()
        return target
    with open(path, "rb") as plain:
        plain.seek(size - 1)
        # A crash tore the last line: end it, so the next frame starts a line of its own.
        torn = plain.read(1) != b"\n"
    compressor = _compressor(level, size + torn)
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "wb") as out:
            if target.exists():
                with open(target, "rb") as earlier:
                    while block := earlier.read(_READ_BYTES):
                        out.write(block)
            # Streamed a block at a time: memory stays the same whatever the segment's size
            # (a fast --interval makes segments of tens of MB).
            frame = compressor.compressobj(size=size + torn)
            with open(path, "rb") as plain:
                while block := plain.read(_COMPRESS_BYTES):
                    out.write(frame.compress(block))
            if torn:
                out.write(frame.compress(b"\n"))
            out.write(frame.flush())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException as exc:
        try:
            partial.unlink()
        except OSError:
            pass
        if isinstance(exc, Exception) and not isinstance(exc, OSError):
            # zstd's own error (the file changed size while it was read): same contract.
            raise OSError(f"cannot compress {path.name}: {exc}") from exc
        raise
    _sync_dir(path.parent)
    path.unlink()
    return target


def _compressor(level: int, size: int) -> Any:
    """A zstd compressor at ``level`` for ``size`` bytes, with its memory kept small.

    Left to itself, level 11 sizes its match tables for any input (about 11 MB of context);
    glibc then keeps that much resident after the first few segments, for good. A 1 MiB
    window (a default segment is about 1 MB) and 2^17-entry tables cost 1.2 MB and keep the
    same ratio (15.0 against 15.1 on a 10-minute segment) for less CPU.
    """
    import zstandard

    params = zstandard.ZstdCompressionParameters.from_level(
        level,
        source_size=size,
        window_log=_WINDOW_LOG,
        hash_log=_TABLE_LOG,
        chain_log=_TABLE_LOG,
        write_checksum=1,
        write_content_size=1,
    )
    return zstandard.ZstdCompressor(compression_params=params)


def _sync_dir(folder: Path) -> None:
    # The rename must be on the card before the plain file goes, or a power loss could
    # keep neither.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class SegmentFile(Protocol):
    """A segment opened for reading by `open_segment`, whatever its format."""

    damage: str | None
    """None, or why the data ended early (cut short, or damaged)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes of lines (all that are left for a negative ``size``); ``b""``
        at the end. Raises only `OSError`, for a file that cannot be read."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> SegmentFile: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def open_segment(path: Path) -> SegmentFile:
    """Open a segment for reading by its suffix: `ZstdLineFile` for ``.jsonl.zst``,
    `GzipLineFile` for ``.jsonl.gz``, `PlainLineFile` for anything else.

    Raises:
        OSError: if the file cannot be opened.
    """
    suffix = _compressed_suffix(path)
    if suffix == ".zst":
        return ZstdLineFile(path)
    if suffix == ".gz":
        return GzipLineFile(path)
    return PlainLineFile(path)


class _SegmentReader:
    """An open segment file: what every reader shares (opening, closing, `damage`)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close() / the with block
        self.damage: str | None = None
        """None, or why the data ended early (cut short, or corrupt at some offset)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()


class PlainLineFile(_SegmentReader):
    """A plain segment opened for reading; its `damage` is always None (a torn last line is
    the line reader's business, not the file's)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that are left for a negative ``size``)."""
        return self._file.read(size)


class _Decompressor(Protocol):
    # What zlib's and zstandard's decompressobj() both offer.
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, /) -> bytes: ...
    def flush(self, length: int = ..., /) -> bytes: ...


class _FramedLineFile(_SegmentReader):
    """A compressed segment of concatenated frames (gzip members, zstd frames) opened for
    reading: ``read(n)`` gives decompressed bytes.

    Reads every frame in turn. Where the file ends inside a frame (cut short) or a frame is
    damaged, reading stops after the last byte that could be decompressed and `damage` says
    what happened; ``read`` never raises for bad data, only `OSError` for a file that cannot
    be read.
    """

    _errors: tuple[type[Exception], ...] = ()

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._decoder = self._new_decoder()
        self._buffer = b""
        self._done = False
        self._started = False  # some input went into the current frame

    def _new_decoder(self) -> _Decompressor:
        raise NotImplementedError

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` decompressed bytes (all that are left for a negative ``size``);
        ``b""`` at the end of the data, whether the file ended cleanly or not."""
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._fill()
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def _fill(self) -> None:
        if self._decoder.eof:
            # One frame is over: whatever input followed it starts the next one.
            rest = self._decoder.unused_data
            self._decoder = self._new_decoder()
            self._started = False
            if rest:
                self._feed(rest)
                return
        block = self._file.read(_READ_BYTES)
        if not block:
            self._done = True
            if self._started and not self._decoder.eof:
                try:
                    self._buffer += self._decoder.flush()
                except self._errors:
                    pass
                self.damage = "compressed segment cut short (read up to the break)"
            return
        self._feed(block)

    def _feed(self, block: bytes) -> None:
        self._started = True
        try:
            self._buffer += self._decoder.decompress(block)
        except self._errors as exc:
            self._done = True
            self.damage = f"compressed segment damaged ({exc}); read up to the damage"


class GzipLineFile(_FramedLineFile):
    """A ``.jsonl.gz`` segment (an earlier release's) opened for reading: every gzip member
    in turn, with the reading semantics of `ZstdLineFile`."""

    _errors = (zlib.error,)

    def _new_decoder(self) -> _Decompressor:
        return zlib.decompressobj(_GZIP_WBITS)


class ZstdLineFile(_FramedLineFile):
    """A ``.jsonl.zst`` segment opened for reading: ``read(n)`` gives decompressed bytes.

    Reads every zstd frame in turn. Where the file ends inside a frame (cut short) or a
    frame is damaged (bad data, or a content checksum that does not match), reading stops
    after the last byte that could be decompressed and `damage` says what happened; ``read``
    never raises for bad data, only `OSError` for a file that cannot be read.
    """

    def __init__(self, path: Path) -> None:
        import zstandard

        self._decompressor = zstandard.ZstdDecompressor()
        self._errors = (zstandard.ZstdError,)
        super().__init__(path)

    def _new_decoder(self) -> _Decompressor:
        return self._decompressor.decompressobj()
