"""`FanCollector`: every fan psutil can read (hwmon ``fan*_input``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psutil

from ..message import Fan, FanSpeedUpdated
from .absence import RECHECK_ABSENT, Absence
from .cadence import EVERY_TEN_MINUTES, OnChange

__all__ = ["FanCollector"]


def _fans() -> Mapping[str, Sequence[Any]] | None:
    read = getattr(psutil, "sensors_fans", None)
    return None if read is None else read()


class FanCollector:
    """Fan speeds in RPM, each tick while there are fans.

    With no fans the message says so (``available=False`` and a reason), and is returned
    only when that changes and every ``repeat_unavailable`` seconds (None in between); the
    hardware is looked for again every ``recheck_absent`` seconds, as `TemperatureCollector`
    does.

    Raises:
        TypeError: if ``recheck_absent`` or ``repeat_unavailable`` is not a number.
        ValueError: if either is negative, NaN or infinite.
    """

    name = "fans"

    def __init__(
        self,
        read: Callable[[], Mapping[str, Sequence[Any]] | None] = _fans,
        *,
        recheck_absent: float = RECHECK_ABSENT,
        repeat_unavailable: float = EVERY_TEN_MINUTES,
    ) -> None:
        self._read = read
        self._absence: Absence[FanSpeedUpdated] = Absence(recheck_absent)
        self._news: OnChange[FanSpeedUpdated] = OnChange(
            repeat_unavailable, argument="repeat_unavailable"
        )

    def collect(self, now: float) -> FanSpeedUpdated | None:
        msg = self._absence.recent(now)
        if msg is None:
            msg = self._message(self._read())
            self._absence.note(now, msg, absent=not msg.available)
        if msg.available:
            self._news.forget()  # fans are news every tick; their loss is news at once
            return msg
        return self._news(now, msg)

    @staticmethod
    def _message(chips: Mapping[str, Sequence[Any]] | None) -> FanSpeedUpdated:
        if chips is None:
            return FanSpeedUpdated(
                available=False, reason="psutil cannot read fans on this platform"
            )
        fans = tuple(
            Fan(name=chip, label=reading.label or "", rpm=int(reading.current))
            for chip, readings in sorted(chips.items())
            for reading in readings
            if isinstance(reading.current, int | float) and reading.current >= 0
        )
        if not fans:
            return FanSpeedUpdated(
                available=False, reason="no fans found (no fan*_input in /sys/class/hwmon)"
            )
        return FanSpeedUpdated(available=True, fans=fans)
