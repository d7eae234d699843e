"""`TemperatureCollector`: every temperature sensor psutil can read."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psutil

from ..message import TemperatureSensor, TemperatureUpdated
from .absence import RECHECK_ABSENT, REPEAT_UNAVAILABLE, Absence

__all__ = ["TemperatureCollector"]


def _sensors() -> Mapping[str, Sequence[Any]] | None:
    read = getattr(psutil, "sensors_temperatures", None)
    return None if read is None else read()


def _limit(value: Any) -> float | None:
    # psutil reports an absent limit as None; some drivers report 0 or nonsense instead.
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


class TemperatureCollector:
    """Every temperature sensor psutil can read (hwmon, thermal zones).

    With no sensors the message says so (``available=False`` and a reason), never a number;
    the next ``recheck_absent`` seconds reuse that message without looking again. An
    unavailable message is emitted when it changes and every ``repeat_unavailable`` seconds
    (10 minutes), else `collect` returns None; readings are emitted every tick.

    Raises:
        TypeError: if ``recheck_absent`` or ``repeat_unavailable`` is not a number.
        ValueError: if either is negative, NaN or infinite.
    """

    name = "temperature"

    def __init__(
        self,
        read: Callable[[], Mapping[str, Sequence[Any]] | None] = _sensors,
        *,
        recheck_absent: float = RECHECK_ABSENT,
        repeat_unavailable: float = REPEAT_UNAVAILABLE,
    ) -> None:
        self._read = read
        self._absence: Absence[TemperatureUpdated] = Absence(recheck_absent, repeat_unavailable)

    def collect(self, now: float) -> TemperatureUpdated | None:
        msg = self._absence.recent(now)
        if msg is None:
            chips = self._read()
            # Only "nothing there" is remembered: a sensor that exists but read badly is read
            # again next tick.
            msg = self._absence.note(now, self._message(chips), absent=not chips)
        return self._absence.due(now, msg, msg.available)

    @staticmethod
    def _message(chips: Mapping[str, Sequence[Any]] | None) -> TemperatureUpdated:
        if chips is None:
            return TemperatureUpdated(
                available=False, reason="psutil cannot read temperatures on this platform"
            )
        sensors = tuple(
            TemperatureSensor(
                name=chip,
                label=reading.label or "",
                current=float(reading.current),
                high=_limit(reading.high),
                critical=_limit(reading.critical),
            )
            for chip, readings in sorted(chips.items())
            for reading in readings
            if reading.current is not None and math.isfinite(reading.current)
        )
        if not sensors:
            return TemperatureUpdated(
                available=False,
                reason="no temperature sensors found (nothing readable in /sys/class/hwmon "
                "or /sys/class/thermal)",
            )
        return TemperatureUpdated(available=True, sensors=sensors)
