"""`JsonlSource`: recorded events read back from a recording root or one ``.jsonl`` file."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Final, NamedTuple, Protocol

from bussdcc.event import Event
from bussdcc.message import Message

from ...codec import EventDecoder, OversizeLineError
from .compress import format_rank, open_segment, plain_path

__all__ = ["JsonlSource", "SkippedLine"]

logger = logging.getLogger(__name__)


class SkippedLine(NamedTuple):
    """A line `JsonlSource` could not use: its file, 1-based line number, and why."""

    path: Path
    line_no: int
    reason: str


class JsonlSource:
    """Yields recorded events from a recording root (every ``*.jsonl``, ``*.jsonl.zst`` and
    ``*.jsonl.gz`` below it) or one file.

    Compressed segments (``.jsonl.zst``, or ``.jsonl.gz`` from earlier releases; see
    `compress`) read exactly like plain ones; one cut short by a power loss, or damaged,
    reads up to the break and the break is reported like a skipped line. Where a window has
    several files (the sink reopened a compressed window, or an upgrade added ``.zst`` beside
    ``.gz``), they are read ``.gz``, then ``.zst``, then plain: oldest lines first.

    Order: files in path order (segment names sort chronologically, so segments come in time
    order); within a file, the order the lines were recorded, which is the order the runtime
    delivered the events. That order is kept even where times step backwards (a wall-clock
    step), because it is the sequence a deterministic replay must reproduce; reading streams
    and holds one chunk of a file at a time.

    Filters: ``start`` (inclusive) and ``end`` (exclusive), timezone-aware datetimes, and
    ``names``, a collection of wire names. Lines outside the filters are skipped silently
    without validating their data. Decoding and filtering are the codec's `EventDecoder`.

    A line that cannot be used — torn, not JSON, not UTF-8, longer than ``max_line_bytes``,
    naming an unknown message, with data that does not validate, or with a time within a day
    of year 1 or 10000 (where a segment window or a replay gap would overflow; see
    `bussdcc_framework.codec.decode_event`) — is skipped: counted in
    `skipped`, kept in `problems` (the first ``max_problems``) and logged as a warning naming
    the file and line (the first ``max_problems`` too). A file that cannot be read is reported
    the same way with line number 0. Both are reset each time iteration starts.

    Message classes are found by name among already-imported messages; a module named in a
    file is imported only if it lies under one of ``allowed_modules`` (dotted prefixes).
    Raises ``ValueError``/``TypeError`` at construction for a bad argument; iterating raises
    ``FileNotFoundError`` if ``path`` does not exist.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        names: Iterable[str] | None = None,
        allowed_modules: tuple[str, ...] = (),
        max_line_bytes: int = 64 * 1024 * 1024,
        max_problems: int = 1000,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a path, got {type(path).__qualname__}")
        if isinstance(names, str):
            raise TypeError(f"names must be a collection of wire names, not the str {names!r}")
        for label, count, least in (
            ("max_line_bytes", max_line_bytes, 1),
            ("max_problems", max_problems, 0),
        ):
            if isinstance(count, bool) or not isinstance(count, int):
                raise TypeError(f"{label} must be an int, got {type(count).__qualname__}")
            if count < least:
                raise ValueError(f"{label} must be at least {least}, got {count!r}")
        self._decoder = EventDecoder(
            start=start,
            end=end,
            names=frozenset(names) if names is not None else None,
            allowed_modules=allowed_modules,
        )
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.max_problems = max_problems
        self.skipped = 0
        self.problems: list[SkippedLine] = []

    def __repr__(self) -> str:
        return f"JsonlSource({str(self.path)!r})"

    @property
    def start(self) -> datetime | None:
        """The inclusive start of the time window, if any."""
        return self._decoder.start

    @property
    def end(self) -> datetime | None:
        """The exclusive end of the time window, if any."""
        return self._decoder.end

    @property
    def names(self) -> frozenset[str] | None:
        """The wire names read, if filtered by name."""
        return self._decoder.names

    @property
    def allowed_modules(self) -> tuple[str, ...]:
        """The module prefixes a file may name for import."""
        return self._decoder.allowed_modules

    def files(self) -> list[Path]:
        """The files this source reads, in reading order."""
        if self.path.is_file():
            return [self.path]
        if not self.path.exists():
            raise FileNotFoundError(f"no recording at {self.path}")
        found = (
            p
            for pattern in ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst")
            for p in self.path.rglob(pattern)
            if p.is_file()
        )
        return sorted(found, key=self._order)

    def _order(self, path: Path) -> tuple[tuple[str, ...], int]:
        # A window's files by age of their lines: .gz, .zst, plain (see format_rank).
        return plain_path(path).relative_to(self.path).parts, format_rank(path)

    def __iter__(self) -> Iterator[Event[Message]]:
        self.skipped = 0
        self.problems = []
        for path in self.files():
            yield from self._read_file(path)

    def _read_file(self, path: Path) -> Iterator[Event[Message]]:
        decode_lines = self._decoder.decode_lines
        line_no = 0
        try:
            with open_segment(path) as file:
                for first, lines, torn in _line_batches(file, self.max_line_bytes):
                    line_no = first
                    if isinstance(lines, OversizeLineError):
                        self._skip(path, line_no, str(lines))
                        continue
                    last = first + len(lines) - 1
                    for line_no, result in enumerate(decode_lines(lines), first):
                        if type(result) is Event:
                            yield result
                        elif result is not None:
                            torn_here = torn and line_no == last
                            prefix = "torn last line (no newline): " if torn_here else ""
                            self._skip(path, line_no, f"{prefix}{result}")
                if file.damage is not None:
                    self._skip(path, line_no, file.damage)
        except OSError as exc:
            where = f"after line {line_no}" if line_no else "at its start"
            self._skip(path, line_no, f"cannot read the file ({where}): {exc}")

    def _skip(self, path: Path, line_no: int, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(SkippedLine(path, line_no, reason))
            logger.warning("skipped %s line %d: %s", path, line_no, reason)
        elif len(self.problems) == self.max_problems and self.skipped == self.max_problems + 1:
            logger.warning("more lines skipped in %s; not reporting each", self.path)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _line_batches(
    file: _Readable, limit: int
) -> Iterator[tuple[int, list[bytes] | OversizeLineError, bool]]:
    """The file's lines in batches: ``(number of the first line, lines, torn)``.

    Lines come without their newline. A line longer than ``limit`` bytes is never held in
    memory whole: it comes alone, as an `OversizeLineError` in place of the batch. ``torn`` is
    True for the final batch when the file does not end with a newline (its last line was
    cut off, or simply not terminated).
    """
    chunk_size = max(1, min(_CHUNK_BYTES, limit))
    line_no = 1
    carry = bytearray()  # the start of a line that continues in the next chunk
    dropping = False  # inside an oversize line: discard up to its newline
    while chunk := file.read(chunk_size):
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines:
            # Lines wholly inside a chunk are at most chunk_size <= limit bytes long; only
            # the first, continuing the previous chunk's tail, can be longer.
            if dropping or len(carry) + len(lines[0]) > limit:
                yield line_no, OversizeLineError(limit), False
                line_no += 1
                del lines[0]
            elif carry:
                lines[0] = bytes(carry + lines[0])
            carry.clear()
            dropping = False
            if lines:
                yield line_no, lines, False
                line_no += len(lines)
        if not dropping:
            carry += tail
            if len(carry) > limit:
                dropping = True
                carry.clear()
    if dropping:
        yield line_no, OversizeLineError(limit), True
    elif carry:
        yield line_no, [bytes(carry)], True


_CHUNK_BYTES: Final = 1 << 20


# JsonlSource(root=...), the 0.46 form (bussdcc_framework._compat.forms; gone at 1.0).
from ..._compat.forms import install_source as _install_source  # noqa: E402

_install_source(JsonlSource)
