"""Bounded sample histories for charts."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_HISTORY_LIMIT", "append_bounded"]

DEFAULT_HISTORY_LIMIT = 300
"""Samples kept per chart: five minutes at the default 1 s interval."""


def append_bounded(samples: list[Any] | None, sample: Any, limit: int) -> list[Any]:
    """``samples`` plus ``sample`` at the end, keeping only the newest ``limit`` entries.

    ``samples`` may be None (no history yet). Returns a new list; the input is not changed.

    Raises:
        ValueError: if ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"history limit must be at least 1, got {limit}")
    kept = [] if samples is None else samples[max(0, len(samples) - limit + 1) :]
    kept.append(sample)
    return kept
