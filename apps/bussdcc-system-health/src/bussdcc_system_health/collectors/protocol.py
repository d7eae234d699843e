"""The `Collector` protocol: what `SystemService` samples once per tick."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bussdcc.message import Message

__all__ = ["Collector"]


@runtime_checkable
class Collector(Protocol):
    """Reads one category of telemetry."""

    name: str

    def collect(self, now: float) -> Message | None:
        """One sample taken at monotonic time ``now``; None when there is nothing to report."""
        ...
