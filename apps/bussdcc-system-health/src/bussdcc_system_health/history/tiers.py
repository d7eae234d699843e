"""Tier arithmetic for the rollups: bucketing, exact min/avg/max merges and tier choice.

Everything here is pure. A reading is quantized to an integer number of hundredths
(`quantize`), so a bucket's ``(min, max, sum, count)`` is four integers and merging two
buckets is exact and order-free: the same readings give the same row however they were
batched, whether the rollups were kept live (with restarts) or rebuilt from the log.

Time jumps: a reading lands in the bucket its own event time falls in, whenever it arrives.
A clock stepping backwards merges later readings into earlier (possibly existing) buckets; a
step forwards leaves empty buckets behind. Neither can corrupt a bucket, because a merge is
the same operation whatever the order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "DEFAULT_POINTS",
    "SCALE",
    "TIERS",
    "Aggregate",
    "Tier",
    "absorb",
    "bucket_start",
    "choose_step",
    "merge",
    "quantize",
    "single",
]

SCALE = 100
"""Readings are kept in hundredths (0.01 %, 0.01 degC, 0.01 byte/s)."""

DEFAULT_POINTS = 300


@dataclass(frozen=True, slots=True)
class Tier:
    """One resolution: buckets ``seconds`` wide; the newest ``keep`` buckets are kept.

    ``keep`` counts buckets, not a time span, so a clock that jumped years ahead and back
    costs the tier as many old buckets as the wrong time wrote, never its whole content.
    None keeps everything.
    """

    name: str
    seconds: int
    keep: int | None

    @property
    def table(self) -> str:
        return f"tier_{self.name}"


DAY = 86400
TIERS: tuple[Tier, ...] = (
    Tier("10s", 10, 7 * DAY // 10),
    Tier("1m", 60, 30 * DAY // 60),
    Tier("10m", 600, 180 * DAY // 600),
    Tier("1h", 3600, None),
)
"""Each resolution divides the next, so a finer bucket lies inside exactly one coarser one."""


class Aggregate(NamedTuple):
    """Readings in hundredths: smallest, largest, their sum and how many."""

    min: int
    max: int
    sum: int
    samples: int
    """How many readings (the database's ``count`` column)."""

    @property
    def avg(self) -> float:
        """The mean reading in the reading's own unit (not hundredths)."""
        return self.sum / (self.samples * SCALE)


def quantize(value: float) -> int | None:
    """``value`` in whole hundredths (half to even), or None for NaN and infinities.

    Raises:
        TypeError: if ``value`` is not an int or float (bool included).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"value must be a number, got {value!r}")
    if not math.isfinite(value):
        return None
    return round(value * SCALE)


def single(q: int) -> Aggregate:
    """The aggregate of one quantized reading."""
    return Aggregate(q, q, q, 1)


def merge(a: Aggregate, b: Aggregate) -> Aggregate:
    """The aggregate of both buckets' readings (exact, commutative, associative)."""
    return Aggregate(
        a.min if a.min <= b.min else b.min,
        a.max if a.max >= b.max else b.max,
        a.sum + b.sum,
        a.samples + b.samples,
    )


def absorb(into: list[int], other: Sequence[int]) -> None:
    """`merge` in place: fold ``other``'s ``[min, max, sum, count]`` into ``into``."""
    if other[0] < into[0]:
        into[0] = other[0]
    if other[1] > into[1]:
        into[1] = other[1]
    into[2] += other[2]
    into[3] += other[3]


def bucket_start(timestamp: float, seconds: int) -> int:
    """The start (POSIX seconds) of the ``seconds``-wide bucket holding ``timestamp``.

    Buckets are aligned to multiples of ``seconds`` since the epoch, also before it.

    Raises:
        ValueError: if ``seconds`` is not a positive int.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise ValueError(f"seconds must be a positive int, got {seconds!r}")
    return int(timestamp // seconds) * seconds


def choose_step(
    start: float,
    end: float,
    points: int = DEFAULT_POINTS,
    oldest: Mapping[str, int | None] | None = None,
    tiers: Sequence[Tier] = TIERS,
) -> tuple[Tier, int]:
    """The tier to read ``[start, end)`` from and the step (seconds) to group its rows by.

    The wanted step is ``(end - start) / points``. The tier is the coarsest whose resolution
    is at most that step, among the tiers that still hold data from ``start`` on (``oldest``
    maps a tier name to its oldest bucket start, None when empty); if no tier reaches back
    to ``start`` every tier counts, and if none is fine enough the finest that qualifies is
    used. The step is the smallest multiple of the tier's resolution that is at least the
    wanted step, so the answer has at most about ``points`` points.

    Raises:
        ValueError: if ``end <= start`` or ``points`` is not a positive int.
    """
    if not end > start:
        raise ValueError(f"end must be after start, got start={start!r} end={end!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise ValueError(f"points must be a positive int, got {points!r}")
    wanted = (end - start) / points
    ordered = sorted(tiers, key=lambda tier: tier.seconds)
    if oldest is not None:
        covering = [
            tier
            for tier in ordered
            if (first := oldest.get(tier.name)) is not None and first <= start
        ]
        if covering:
            ordered = covering
    fine_enough = [tier for tier in ordered if tier.seconds <= wanted]
    tier = fine_enough[-1] if fine_enough else ordered[0]
    return tier, max(1, math.ceil(wanted / tier.seconds)) * tier.seconds
