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

import msgspec

from bussdcc.event import Event

from ..._compat.sinks import LegacySinkHooks, legacy_encoder
from ...message.framework import SinkRecovered, SinkRetentionDeleted
from ._segments import (
    DAY_SECONDS,
    Segment,
    parse_segment_path,
    plan_retention,
    segment_relpath,
    segment_window,
)
from .compress import compress_segment, is_compressed, open_segment

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


class JsonlSink(LegacySinkHooks):
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
    Sizes are what the files take on disk, so compressed segments count compressed.

    Compression: with ``compress=True`` each segment is zstd-compressed to
    ``HH-MM-SS.jsonl.zst`` when the sink leaves it (the next window starts, or `stop`), and
    plain segments left by an earlier run (a crash) are compressed by a background thread
    after `start`. A segment that fails to compress stays plain (a warning is logged);
    `JsonlSource` reads both, and the ``.jsonl.gz`` segments of earlier releases, which are
    never rewritten (retention manages them too). See `bussdcc_framework.io.jsonl.compress`.

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

    Encoding: each event becomes its line through ``encoder`` (default
    `bussdcc_framework.codec.encode_event`); another encoder must return the same wire record
    (one JSON object, no newline), e.g. one that reuses bytes it already has instead of
    encoding again (`bussdcc_framework.mqtt.MqttSource.encode`).

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
        compress: bool = False,
        encoder: Callable[[Event[Any]], bytes] | None = None,
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
        if encoder is not None and not callable(encoder):
            raise TypeError(f"encoder must be callable or None, got {type(encoder).__qualname__}")
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
        # Retention: deletions to announce once the lock is released, and which segment
        # files are known to be in this sink's own format (only those may be deleted).
        self._deleted: list[tuple[Segment, str]] = []
        self._readable: dict[Path, bool] = {}
        # encode_event, unless a 0.46 subclass overrides transform/json_fallback (_compat).
        self._encode = legacy_encoder(self) if encoder is None else encoder
        self.compress = bool(compress)
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()

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
        """Create ``root``; keep ``ctx`` for its clock (retry timing), to emit
        ``sink.recovered`` and to announce retention's deletions. Raises ``OSError`` if
        ``root`` cannot be created (the sink still retries when events arrive)."""
        self._ctx = ctx
        self._monotonic = ctx.clock.monotonic
        self.root.mkdir(parents=True, exist_ok=True)
        if self.compress:
            self._stopping.clear()
            self._sweeper = threading.Thread(
                target=self._compress_stray, name="jsonl-compress", daemon=True
            )
            self._sweeper.start()

    def handle(self, evt: Event[Any]) -> None:
        """Append ``evt`` to its segment. Raises as described in the class docstring."""
        line = self._encode(evt) + b"\n"
        timestamp = evt.time.timestamp()
        try:
            self._locked_handle(line, timestamp)
        finally:
            if self._deleted:
                self._report_deleted()

    def _locked_handle(self, line: bytes, timestamp: float) -> None:
        with self._lock:
            # The usual case in one test: the open segment's window, nothing failing, no
            # reachability check due, no recovery to announce, and no batch to write yet
            # (the line that fills a batch writes it on the full path, which handles errors).
            if (
                self._file is not None  # None while failing
                and self._start <= timestamp < self._end
                and len(self._unverified) < CHECK_LINES
                and not self._raised
                and self._monotonic() < self._next_check
            ):
                if self.batch_size == 1:
                    self._write(line)
                    return
                if len(self._pending) + 1 < self.batch_size:
                    self._pending.append(line)
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
        self._stopping.set()
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.join()
        with self._lock:
            try:
                if self._pending and self._failure is None:
                    self._write_pending()
            finally:
                self._pending.clear()
                self._close()
                self._compress_closed(self._path)
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
        if self._path is not None and self._path != path:
            self._compress_closed(self._path)  # the window it held is over
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

    def _compress_closed(self, path: Path | None) -> None:
        if not self.compress or path is None:
            return
        try:
            if path.exists():
                compress_segment(path)
        except OSError as exc:
            logger.warning("cannot compress %s (left plain): %s", path, exc)

    def _compress_stray(self) -> None:
        """Compress the plain segments an earlier run left (the thread started by `start`)."""
        try:
            stray = sorted(s.path for s in _find_segments(self.root) if not is_compressed(s.path))
        except OSError as exc:
            logger.warning("cannot list %s for compression: %s", self.root, exc)
            return
        for path in stray:
            if self._stopping.is_set():
                return
            if not _first_line_is_record(path):
                continue  # not this format (a 0.22 recording, a foreign file): left as it is
            with self._lock:  # never while handle() may append to it
                if path != self._path:
                    self._compress_closed(path)

    def _apply_retention(self, now: float, *, keep: Path) -> None:
        # Only segments this sink can read back are managed: a file in another format (a
        # 0.22 recording, a damaged or foreign file) is neither deleted nor counted against
        # retention_bytes -- deleting what cannot be read would lose it without a trace.
        if self.retention_age is None and self.retention_bytes is None:
            return
        try:
            segments = [s for s in _find_segments(self.root) if self._own_format(s.path)]
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
        aged = {
            s.path
            for s in segments
            if s.path != keep
            and self.retention_age is not None
            and s.start < now - self.retention_age
        }
        days = set()
        for segment in doomed:
            try:
                segment.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("retention: cannot delete %s: %s", segment.path, exc)
                continue
            self._readable.pop(segment.path, None)
            self._deleted.append((segment, "age" if segment.path in aged else "size"))
            days.add(segment.path.parent)
        for day in days:
            if day != keep.parent:
                try:
                    day.rmdir()
                except OSError:
                    pass  # not empty (other files live there) or already gone

    def _own_format(self, path: Path) -> bool:
        """Whether ``path`` holds this sink's wire records (judged by its first line; an
        empty file holds nothing to lose). Cached: a segment's first line never changes."""
        known = self._readable.get(path)
        if known is None:
            known = _first_line_is_record(path)
            if known is not None:
                self._readable[path] = known
            else:
                return False  # could not tell (unreadable right now): keep it
            if not known:
                logger.warning("retention: keeping %s, not written by this sink's format", path)
        return known

    def _report_deleted(self) -> None:
        deleted, self._deleted = self._deleted, []
        ctx = self._ctx
        if ctx is None or not deleted:
            return
        reasons = sorted({reason for _, reason in deleted})
        ctx.emit(
            SinkRetentionDeleted(
                sink=repr(self),
                root=str(self.root),
                files=tuple(s.path.relative_to(self.root).as_posix() for s, _ in deleted),
                bytes=sum(s.size for s, _ in deleted),
                reason="+".join(reasons),
            )
        )


def _first_line_is_record(path: Path) -> bool | None:
    """True if the file is empty or its first line is a wire record (time, seq, name, data);
    False if it is something else; None if it cannot be read. A compressed segment
    (``.jsonl.zst`` or ``.jsonl.gz``) is judged by its first decompressed line."""
    head = b""
    try:
        with open_segment(path) as file:
            # Up to the first newline, at most 1 MiB: a record's line is far shorter.
            while b"\n" not in head and len(head) < 1 << 20 and (block := file.read(4096)):
                head += block
            if not head and file.damage is not None:
                return None  # not one line could be read: cannot tell
    except OSError:
        return None
    head = head.split(b"\n", 1)[0]
    if not head.strip():
        return True
    try:
        record = msgspec.json.decode(head)
    except msgspec.DecodeError:
        return False
    return isinstance(record, dict) and {"time", "seq", "name", "data"} <= record.keys()


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
