"""What a collector remembers when it cannot read (no sensors, not a Pi); how often it says so."""

from __future__ import annotations

from typing import Generic, TypeVar

from bussdcc.message import Message

from ..validation import non_negative

__all__ = ["RECHECK_ABSENT", "REPEAT_UNAVAILABLE", "Absence"]

M = TypeVar("M", bound=Message)

RECHECK_ABSENT = 60.0
"""Seconds a collector that found nothing to read (no sensors, not a Pi) waits before looking
again. Looking means globbing sysfs and searching PATH: on a host that has none, doing so
every tick is most of what the collector costs. Hardware that appears later (a module
loaded, a sensor plugged in) is reported within this time."""

REPEAT_UNAVAILABLE = 600.0
"""Seconds between two emissions of the same "unavailable" reading (SPEC section 8). Said
every tick, the same sentence was a quarter of the recorded log; said on change and every
ten minutes, the dashboard, the health assessment and a replay starting mid-log still learn
it within ten minutes, and a reading that becomes available is emitted at once."""


class Absence(Generic[M]):
    """The "cannot read here" message of a collector: remembered, and rationed.

    `recent` and `note` keep the message of hardware that is not there for ``recheck``
    seconds, so the collector does not look again every tick. `due` decides what is emitted:
    an available reading always; an unavailable one when it differs from the last message
    emitted (a reading before, or another reason) or ``repeat`` seconds after the last time
    it was emitted, else nothing (the collector returns None).

    Raises:
        TypeError: if ``recheck`` or ``repeat`` is not a number.
        ValueError: if either is negative, NaN or infinite (0 means every tick).
    """

    def __init__(self, recheck: float, repeat: float = REPEAT_UNAVAILABLE) -> None:
        # Named as the collectors' parameters, which is where a bad value comes from.
        self.recheck = non_negative(recheck, "recheck_absent")
        self.repeat = non_negative(repeat, "repeat_unavailable")
        self._noted: tuple[float, M] | None = None
        """When the hardware was last found missing, and the message saying so."""
        self._said: tuple[float, M] | None = None
        """When the unavailable message now in force was last emitted, and that message."""

    def recent(self, now: float) -> M | None:
        """The remembered message while it is fresh, else None (look again)."""
        if self._noted is not None and now - self._noted[0] < self.recheck:
            return self._noted[1]
        return None

    def note(self, now: float, msg: M, absent: bool) -> M:
        """Remember ``msg`` if the hardware is ``absent`` (else forget); return ``msg``."""
        self._noted = (now, msg) if absent else None
        return msg

    def due(self, now: float, msg: M, available: bool) -> M | None:
        """``msg`` if it is to be emitted at ``now`` (see the class docstring), else None."""
        if available:
            self._said = None
            return msg
        said = self._said
        # Equal messages compare by value: a re-read giving the same reason is no change.
        if said is None or said[1] != msg or not 0 <= now - said[0] < self.repeat:
            self._said = (now, msg)
            return msg
        return None
