"""What a collector remembers when the hardware it reads is not there (no sensors, not a Pi)."""

from __future__ import annotations

from typing import Generic, TypeVar

from bussdcc.message import Message

from ..validation import non_negative

__all__ = ["RECHECK_ABSENT", "Absence"]

M = TypeVar("M", bound=Message)

RECHECK_ABSENT = 60.0
"""Seconds a collector that found nothing to read (no sensors, not a Pi) waits before looking
again. Looking means globbing sysfs and searching PATH: on a host that has none, doing so
every tick is most of what the collector costs. Hardware that appears later (a module
loaded, a sensor plugged in) is reported within this time."""


class Absence(Generic[M]):
    """The "nothing to read here" message of a collector, repeated for ``recheck`` seconds.

    Raises:
        TypeError: if ``recheck`` is not a number.
        ValueError: if ``recheck`` is negative, NaN or infinite (0 means always look again).
    """

    def __init__(self, recheck: float) -> None:
        # Named as the collectors' parameter, which is where a bad value comes from.
        self.recheck = non_negative(recheck, "recheck_absent")
        self._noted: tuple[float, M] | None = None
        """When the hardware was last found missing, and the message saying so."""

    def recent(self, now: float) -> M | None:
        """The remembered message while it is fresh, else None (look again)."""
        if self._noted is not None and now - self._noted[0] < self.recheck:
            return self._noted[1]
        return None

    def note(self, now: float, msg: M, absent: bool) -> M:
        """Remember ``msg`` if the hardware is ``absent`` (else forget); return ``msg``."""
        self._noted = (now, msg) if absent else None
        return msg
