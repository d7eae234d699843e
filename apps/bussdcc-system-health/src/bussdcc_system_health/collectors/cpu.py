"""`CpuCollector`: CPU time shares per tick, from psutil's cumulative counters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import psutil

from ..message import CoreUsage, CpuUsageUpdated
from ..telemetry.cpu import cpu_shares

__all__ = ["CpuCollector", "CpuTimes"]

CpuTimes = Mapping[str, float]
"""Cumulative seconds per CPU state, as the fields of `psutil.cpu_times`."""


def _cpu_times() -> tuple[CpuTimes, list[CpuTimes]]:
    return (
        psutil.cpu_times()._asdict(),
        [core._asdict() for core in psutil.cpu_times(percpu=True)],
    )


class CpuCollector:
    """CPU time shares since the previous sample, whole machine and per core.

    Differences the cumulative CPU time counters itself (see `cpu_shares`) rather than use
    psutil's ``cpu_times_percent(interval=None)``, whose "previous call" is one global
    shared by every caller in the process. The first sample only records the counters and
    reports nothing (None), as does a sample taken before any CPU time has passed. A core
    whose share cannot be computed is left out of ``cores``.
    """

    name = "cpu"

    def __init__(
        self, read: Callable[[], tuple[CpuTimes, Sequence[CpuTimes]]] = _cpu_times
    ) -> None:
        self._read = read
        self._previous: tuple[CpuTimes, Sequence[CpuTimes]] | None = None

    def collect(self, now: float) -> CpuUsageUpdated | None:
        current = self._read()
        previous, self._previous = self._previous, current
        if previous is None:
            return None
        total = cpu_shares(previous[0], current[0])
        if total is None:
            return None
        cores = []
        for index, (before, after) in enumerate(zip(previous[1], current[1], strict=False)):
            shares = cpu_shares(before, after)
            if shares is not None:
                cores.append(
                    CoreUsage(
                        index, shares.user, shares.system, shares.iowait, shares.idle, shares.busy
                    )
                )
        return CpuUsageUpdated(
            user=total.user,
            system=total.system,
            iowait=total.iowait,
            idle=total.idle,
            busy=total.busy,
            cores=tuple(cores),
        )
