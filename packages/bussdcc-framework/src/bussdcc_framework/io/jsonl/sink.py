"""`JsonlSink`: every event as one wire line in time-segmented ``.jsonl`` files."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from bussdcc.event import Event

from ...codec import encode_event
from ...message.framework import SinkRecovered
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

__all__ = [
    "CHECK_INTERVAL",
    "CHECK_LINES",
    "RETRY_FIRST",
    "RETRY_MAX",
    "JsonlSink",
    "SegmentWriteError",
]

logger = logging.getLogger(__name__)


RETRY_FIRST = 1.0
"""Seconds after a failed write or open before the sink tries again."""

RETRY_MAX = 5.0
"""The retry delay doubles after each failed try, up to this many seconds."""

CHECK_INTERVAL = 0.5
"""Seconds (at most) between two checks that the open segment is still reachable from root."""

CHECK_LINES = 1024
"""Lines (at most) written between two such checks, whatever the time."""


class SegmentWriteError(OSError):
    """Writing (or opening) a segment failed: disk full, permission denied, a bad path, or the
    open segment was deleted or replaced (``errno.ENOENT``).

    ``errno`` and ``filename`` are the underlying error's; the message says what was lost and
    when the sink tries again. The sink keeps running.
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
    raises `SegmentWriteError` naming the file, and so does every later event until a retry
    succeeds (those events are not written). The sink retries on the first event at least
    `RETRY_FIRST` seconds after the failure, then after a delay doubling up to `RETRY_MAX`
    seconds (1, 2, 4, 5, 5, ... s), so recording resumes within about 5 s of the cause going
    away, in the segment of the event's time. The first event it records again is preceded
    by a ``sink.recovered`` message (`SinkRecovered`, emitted through the context given to
    `start`) saying how many events were dropped.

    Deleted or replaced root: at most every `CHECK_INTERVAL` seconds or `CHECK_LINES` lines
    the sink checks that its open segment is still the file its path names under ``root``.
    If not (the file, its day folder or the root was deleted, renamed or replaced), it opens
    the segment afresh (creating the folders), writes there again every line written since
    the last check (they went to a file no longer reachable from ``root``), records the event
    and then raises `SegmentWriteError` (``errno.ENOENT``) so the incident is reported at once
    as ``sink.error``; nothing it was given is lost. The next event recorded brings
    ``sink.recovered``.

    A value that cannot be encoded raises `bussdcc_framework.codec.UnencodableError` and writes
    nothing. Raises ``ValueError``/``TypeError`` at construction for a bad argument.
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
        self._ctx: ContextProtocol | None = None
        self._monotonic: Callable[[], float] = time.monotonic
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        # (st_dev, st_ino) of the open segment, to tell whether its path still names it.
        self._identity: tuple[int, int] = (0, 0)
        # Lines written since the open segment was last found reachable: written again into
        # a fresh segment if it turns out to have been deleted meanwhile.
        self._unverified: list[bytes] = []
        self._next_check = 0.0
        # The current segment's window; events inside it go to self._file.
        self._start = 0.0
        self._end = 0.0
        # While failing: the error every event raises until self._retry_at (monotonic).
        self._failure: SegmentWriteError | None = None
        self._retry_at = 0.0
        self._delay = RETRY_FIRST
        # Whether handle/stop raised since the last event recorded, and how many events
        # were not recorded meanwhile (for sink.recovered).
        self._raised = False
        self._dropped = 0
        self._pending: list[bytes] = []

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.root)!r}, interval={self.interval})"

    @property
    def path(self) -> Path | None:
        """The segment file currently being written, if any."""
        return self._path

    @property
    def failing(self) -> bool:
        """True while events are being dropped (between a failure and a successful retry)."""
        return self._failure is not None

    def start(self, ctx: ContextProtocol) -> None:
        """Create ``root``; keep ``ctx`` for its clock (retry timing) and to emit
        ``sink.recovered``. Raises ``OSError`` if ``root`` cannot be created (the sink still
        retries when events arrive)."""
        self._ctx = ctx
        self._monotonic = ctx.clock.monotonic
        self.root.mkdir(parents=True, exist_ok=True)

    def handle(self, evt: Event[Any]) -> None:
        """Append ``evt`` to its segment. Raises as described in the class docstring."""
        line = encode_event(evt) + b"\n"
        timestamp = evt.time.timestamp()
        with self._lock:
            # The usual case in one test: the open segment's window, nothing failing, no
            # reachability check due, no recovery to announce.
            if (
                self._file is not None  # None while failing
                and self.batch_size == 1
                and self._start <= timestamp < self._end
                and len(self._unverified) < CHECK_LINES
                and not self._raised
                and self._monotonic() < self._next_check
            ):
                self._write(line)
                return
            try:
                self._handle(line, timestamp)
            except SegmentWriteError:
                self._raised = True
                raise
            recovered = self._recovered()
        if recovered is not None:
            self._announce(recovered)

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
                self._delay = RETRY_FIRST

    # --- internals (called with the lock held) --------------------------------------------------

    def _handle(self, line: bytes, timestamp: float) -> None:
        earlier_failure = None
        if not self._start <= timestamp < self._end:
            earlier_failure = self._switch(timestamp)
        elif self._failure is not None and self._monotonic() >= self._retry_at:
            self._open(self._segment_path())
        self._drop_if_failing()
        detached = None
        if self._file is not None and (
            len(self._unverified) >= CHECK_LINES or self._monotonic() >= self._next_check
        ):
            detached = self._check_reachable()
            self._drop_if_failing()  # the segment could not be opened afresh
        if self.batch_size == 1:
            self._write(line)
        else:
            self._pending.append(line)
            if len(self._pending) >= self.batch_size:
                self._write_pending()
        if earlier_failure is not None:
            raise earlier_failure
        if detached is not None:
            raise detached

    def _drop_if_failing(self) -> None:
        if self._failure is not None:
            self._dropped += 1
            raise self._failure

    def _segment_path(self) -> Path:
        return self.root / segment_relpath(self._start)

    def _switch(self, timestamp: float) -> SegmentWriteError | None:
        """Close the current segment and open the one holding ``timestamp``.

        Returns the error of writing the previous segment's batched lines, if that failed, so
        the caller can raise it after recording the current event. A new segment is always
        tried at once, even while failing.
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
        path = self._segment_path()
        self._apply_retention(timestamp, keep=path)
        self._open(path)
        return failure

    def _open(self, path: Path) -> None:
        """Open ``path`` for appending; on failure set the failure and schedule a retry."""
        self._close()
        self._path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered append (one write per line); readable to check how the file ends.
            file = open(path, "a+b", buffering=0)  # noqa: SIM115 - kept open across calls
        except OSError as exc:
            self._fail(exc, path)
            return
        self._file = file
        try:
            status = os.fstat(file.fileno())
            self._identity = (status.st_dev, status.st_ino)
            self._end_torn_line(file, status.st_size)
        except OSError as exc:
            self._close()
            self._fail(exc, path)
            return
        self._failure = None
        self._next_check = self._monotonic() + CHECK_INTERVAL

    def _end_torn_line(self, file: IO[bytes], size: int) -> None:
        # A crash may have left this segment ending mid-line; appending straight after it
        # would glue the fragment to our first line and lose both.
        if size and os.pread(file.fileno(), 1, size - 1) != b"\n":
            self._write(b"\n")

    def _check_reachable(self) -> SegmentWriteError | None:
        """If the open segment is no longer the file its path names, move to a fresh one.

        Returns the error to raise once the current event is recorded (None if all is well).
        """
        path = self._path
        assert path is not None
        try:
            status = os.stat(path)
            reachable = (status.st_dev, status.st_ino) == self._identity
        except OSError:
            reachable = False
        self._next_check = self._monotonic() + CHECK_INTERVAL
        if reachable:
            self._unverified.clear()
            return None
        lost = b"".join(self._unverified)
        count = lost.count(b"\n")
        self._unverified = []
        self._open(path)
        if self._failure is not None:
            self._dropped += count
            return None  # the caller raises the failure
        if lost:
            self._write(lost)
        return SegmentWriteError(
            errno.ENOENT,
            f"the open segment was deleted or replaced; recording resumed in a new file, "
            f"with the {count} line(s) written since the last check written again",
            str(path),
        )

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
            self._dropped += data.count(b"\n")
            self._close()
            raise self._fail(exc, self._path) from exc
        self._unverified.append(data)

    def _fail(self, exc: OSError, path: Path) -> SegmentWriteError:
        """Enter (or stay in) the failing state; the error events raise until the retry."""
        delay = self._delay
        self._delay = min(delay * 2, RETRY_MAX)
        self._retry_at = self._monotonic() + delay
        self._failure = SegmentWriteError(
            exc.errno,
            f"{exc.strerror or exc}; events are not recorded until writing works again "
            f"(next try in {delay:g} s)",
            str(path),
        )
        return self._failure

    def _recovered(self) -> SinkRecovered | None:
        """After an event was recorded: the ``sink.recovered`` to announce, if it ends a failure."""
        if not self._raised:
            return None
        self._raised = False
        self._delay = RETRY_FIRST
        report = SinkRecovered(sink=_label(self), path=str(self._path or ""), dropped=self._dropped)
        self._dropped = 0
        return report

    def _announce(self, report: SinkRecovered) -> None:
        ctx = self._ctx
        if ctx is None:
            logger.warning("%s records again (%d events dropped)", self, report.dropped)
            return
        try:
            ctx.emit(report)
        except Exception:  # the report is best effort; recording itself works again
            logger.exception("%s: emitting sink.recovered failed", self)

    def _close(self) -> None:
        self._unverified.clear()
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


def _label(sink: object) -> str:
    """The sink's name as the runtime reports it in ``sink.error``."""
    return getattr(sink, "name", None) or type(sink).__name__
