"""Segment naming and retention planning for JSONL recordings: pure functions, no I/O.

A recording root holds ``YYYY-MM-DD/HH-MM-SS.jsonl`` segments (``.jsonl.zst`` once
compressed, or ``.jsonl.gz`` as earlier releases compressed them). A segment is named by the
UTC start of the time window it covers; windows are ``interval`` seconds long, aligned down
to a multiple of ``interval`` since midnight UTC (the last one of a day ends at midnight).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "DAY_SECONDS",
    "Segment",
    "parse_segment_path",
    "plan_retention",
    "segment_relpath",
    "segment_window",
]

DAY_SECONDS = 86_400


class Segment(NamedTuple):
    """A segment file found on disk: its start (POSIX seconds), size in bytes and path."""

    start: float
    size: int
    path: Path


def segment_window(timestamp: float, interval: int) -> tuple[float, float]:
    """The ``[start, end)`` POSIX-seconds window of the segment holding ``timestamp``."""
    midnight = math.floor(timestamp / DAY_SECONDS) * DAY_SECONDS
    start = midnight + (timestamp - midnight) // interval * interval
    return float(start), float(min(start + interval, midnight + DAY_SECONDS))


def segment_relpath(start: float) -> str:
    """The path, relative to the root, of the segment starting at ``start``."""
    moment = datetime.fromtimestamp(start, UTC)
    return moment.strftime("%Y-%m-%d/%H-%M-%S.jsonl")


def parse_segment_path(day: str, filename: str) -> float | None:
    """The start of the segment named ``day/filename`` (plain ``.jsonl`` or compressed
    ``.jsonl.zst`` / ``.jsonl.gz``), or None if it is not a segment name."""
    for suffix in (".zst", ".gz"):
        if filename.endswith(suffix):
            filename = filename.removesuffix(suffix)
            break
    if len(day) != 10 or len(filename) != 14 or not filename.endswith(".jsonl"):
        return None
    try:
        moment = datetime.strptime(f"{day} {filename[:8]}", "%Y-%m-%d %H-%M-%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC).timestamp()


def plan_retention(
    segments: Iterable[Segment],
    *,
    now: float,
    keep: Path,
    max_age: float | None,
    max_bytes: int | None,
) -> list[Segment]:
    """Which segments to delete, oldest first.

    First every segment that started more than ``max_age`` seconds before ``now``; then, oldest
    first, as many more as it takes for the remaining total to be at most ``max_bytes``. The
    segment at ``keep`` (the one being written) is never chosen, even if that leaves the total
    above ``max_bytes``.
    """
    ordered: Sequence[Segment] = sorted(segments)
    doomed: list[Segment] = []
    kept: list[Segment] = []
    for segment in ordered:
        if segment.path != keep and max_age is not None and segment.start < now - max_age:
            doomed.append(segment)
        else:
            kept.append(segment)
    if max_bytes is not None:
        total = sum(segment.size for segment in kept)
        for segment in kept:
            if total <= max_bytes:
                break
            if segment.path != keep:
                doomed.append(segment)
                total -= segment.size
    return doomed
