"""`JsonlSink`: every event as one wire line in time-segmented ``.jsonl`` files."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from bussdcc.event import Event

from ...codec import encode_event
from ._segments import (
    DAY_SECONDS,
    Segment,
    parse_segment_path,
    plan_retention,
    segment_relpath,
    segment_window,
)

if TYPE_CHECKING:
    from bussdcc.context import ContextProtocol

__all__ = ["JsonlSink", "SegmentWriteError"]

logger = logging.getLogger(__name__)


class SegmentWriteError(OSError):
    """Writing (or opening) a segment failed: disk full, permission denied, a bad path.

    ``errno`` and ``filename`` are the underlying error's; the message says until when events
    are dropped. The sink keeps running and tries again with the next segment.
    """


class JsonlSink:
    """Records every event as one JSON line in ``root/YYYY-MM-DD/HH-MM-SS.jsonl`` segments.

    The segment is chosen by the event's own time (UTC): a new one every ``interval`` seconds,
    aligned down to a multiple of ``interval`` since midnight UTC and named by its start, so a
    replay re-recorded lands in the same files. An event older than the current segment is
    appended to the segment its time belongs to.

    Durability: each line is encoded completely before anything is written, then written with
    a single append, so a crash loses at most the line in flight. With ``flush="event"`` (the
    default) each line reaches the OS before `handle` returns; ``flush="batch"`` keeps up to
    ``batch_size`` lines in memory and writes them together (a crash loses those), and at
    segment changes and `stop`. ``fsync=True`` also forces each write to the disk. Reopening a
    segment whose last line was torn (by a crash) first ends that fragment with a newline, so
    the torn line never swallows the next one.

    Retention runs each time a segment is opened: segments that started more than
    ``retention_age`` (seconds or a timedelta) before the opening event are deleted, then the
    oldest until all segments total at most ``retention_bytes``. The segment being written is
    never deleted; emptied day folders are removed; other files in ``root`` are left alone.

    Failure: if a segment cannot be opened or written (disk full, permission denied), `handle`
    raises `SegmentWriteError` naming the file, and so does every later event of that
    segment's window (those events are not written); the next segment is tried afresh. A value
    that cannot be encoded raises `bussdcc_framework.codec.UnencodableError` and writes nothing.

    Raises ``ValueError``/``TypeError`` at construction for a bad argument.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        interval: float = 600,
        *,
        flush: Literal["event", "batch"] = "event",
        batch_size: int = 100,
        fsync: bool = False,
        retention_age: float | timedelta | None = None,
        retention_bytes: int | None = None,
    ) -> None:
        if not isinstance(root, str | os.PathLike):
            raise TypeError(f"root must be a path, got {type(root).__qualname__}")
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int | float)
            or not 1 <= interval <= DAY_SECONDS
            or not float(interval).is_integer()
        ):
            raise ValueError(
                f"interval must be a whole number of seconds from 1 to {DAY_SECONDS}, "
                f"got {interval!r}"
            )
        if flush not in ("event", "batch"):
            raise ValueError(f"flush must be 'event' or 'batch', got {flush!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(retention_age, timedelta):
            retention_age = retention_age.total_seconds()
        if retention_age is not None and (
            isinstance(retention_age, bool)
            or not isinstance(retention_age, int | float)
            or not retention_age > 0
        ):
            raise ValueError(
                f"retention_age must be positive seconds or a timedelta, got {retention_age!r}"
            )
        if retention_bytes is not None and (
            isinstance(retention_bytes, bool)
            or not isinstance(retention_bytes, int)
            or retention_bytes < 0
        ):
            raise ValueError(f"retention_bytes must be an int >= 0, got {retention_bytes!r}")
        self.root = Path(root)
        self.interval = int(interval)
        self.flush = flush
        self.batch_size = batch_size if flush == "batch" else 1
        self.fsync = bool(fsync)
        self.retention_age: float | None = retention_age
        self.retention_bytes = retention_bytes
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        # The current segment's window; events inside it go to self._file (or, after a
        # failure, are dropped with self._failure until the window ends).
        self._start = 0.0
        self._end = 0.0
        self._failure: SegmentWriteError | None = None
        self._pending: list[bytes] = []

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.root)!r}, interval={self.interval})"

    @property
    def path(self) -> Path | None:
        """The segment file currently being written, if any."""
        return self._path

    def start(self, ctx: ContextProtocol) -> None:
        """Create ``root``. Raises ``OSError`` if it cannot be created."""
        self.root.mkdir(parents=True, exist_ok=True)

    def handle(self, evt: Event[Any]) -> None:
        """Append ``evt`` to its segment. Raises as described in the class docstring."""
        line = encode_event(evt) + b"\n"
        timestamp = evt.time.timestamp()
        with self._lock:
            earlier_failure = None
            if not self._start <= timestamp < self._end:
                earlier_failure = self._switch(timestamp)
            if self._failure is not None:
                raise self._failure
            if self.batch_size == 1:
                self._write(line)
            else:
                self._pending.append(line)
                if len(self._pending) >= self.batch_size:
                    self._write_pending()
            if earlier_failure is not None:
                raise earlier_failure

    def stop(self) -> None:
        """Write any batched lines and close the segment. Raises `SegmentWriteError`."""
        with self._lock:
            try:
                if self._pending and self._failure is None:
                    self._write_pending()
            finally:
                self._pending.clear()
                self._close()
                self._start = self._end = 0.0
                self._failure = None

    # --- internals (called with the lock held) --------------------------------------------------

    def _switch(self, timestamp: float) -> SegmentWriteError | None:
        """Close the current segment and open the one holding ``timestamp``.

        Returns the error of writing the previous segment's batched lines, if that failed, so
        the caller can raise it after recording the current event.
        """
        failure = None
        if self._pending and self._failure is None:
            try:
                self._write_pending()
            except SegmentWriteError as exc:
                failure = exc
        self._pending.clear()
        self._close()
        self._start, self._end = segment_window(timestamp, self.interval)
        self._failure = None
        path = self.root / segment_relpath(self._start)
        self._path = path
        self._apply_retention(timestamp, keep=path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered append (one write per line); readable to check how the file ends.
            file = open(path, "a+b", buffering=0)  # noqa: SIM115 - kept open across calls
        except OSError as exc:
            self._failure = self._failed(exc, path)
            return failure
        self._file = file
        try:
            self._end_torn_line(file, path)
        except OSError as exc:
            self._close()
            self._failure = self._failed(exc, path)
        return failure

    def _end_torn_line(self, file: IO[bytes], path: Path) -> None:
        # A crash may have left this segment ending mid-line; appending straight after it
        # would glue the fragment to our first line and lose both.
        size = os.fstat(file.fileno()).st_size
        if size and os.pread(file.fileno(), 1, size - 1) != b"\n":
            self._write(b"\n")

    def _write_pending(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        self._write(data)

    def _write(self, data: bytes) -> None:
        file = self._file
        assert file is not None
        assert self._path is not None
        try:
            fd = file.fileno()
            written = os.write(fd, data)
            if written < len(data):  # a short write: the disk filled up mid-line, or a signal
                view = memoryview(data)[written:]
                while view:
                    view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            path = self._path
            self._close()
            self._failure = self._failed(exc, path)
            raise self._failure from exc

    def _failed(self, exc: OSError, path: Path) -> SegmentWriteError:
        resume = datetime.fromtimestamp(self._end, UTC).isoformat(timespec="seconds")
        return SegmentWriteError(
            exc.errno,
            f"{exc.strerror or exc}; events until the next segment ({resume}) are not recorded",
            str(path),
        )

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:  # pragma: no cover - unbuffered close only releases the descriptor
                logger.warning("closing %s failed", self._path, exc_info=True)

    def _apply_retention(self, now: float, *, keep: Path) -> None:
        if self.retention_age is None and self.retention_bytes is None:
            return
        try:
            segments = list(_find_segments(self.root))
        except OSError as exc:
            logger.warning("retention: cannot list %s: %s", self.root, exc)
            return
        doomed = plan_retention(
            segments,
            now=now,
            keep=keep,
            max_age=self.retention_age,
            max_bytes=self.retention_bytes,
        )
        days = set()
        for segment in doomed:
            try:
                segment.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("retention: cannot delete %s: %s", segment.path, exc)
            days.add(segment.path.parent)
        for day in days:
            if day != keep.parent:
                try:
                    day.rmdir()
                except OSError:
                    pass  # not empty (other files live there) or already gone


def _find_segments(root: Path) -> Iterator[Segment]:
    """Every ``YYYY-MM-DD/HH-MM-SS.jsonl`` segment file under ``root``."""
    if not root.is_dir():
        return
    with os.scandir(root) as days:
        for day in days:
            if not day.is_dir(follow_symlinks=False):
                continue
            with os.scandir(day.path) as files:
                for file in files:
                    start = parse_segment_path(day.name, file.name)
                    if start is not None and file.is_file(follow_symlinks=False):
                        yield Segment(start, file.stat().st_size, Path(file.path))
