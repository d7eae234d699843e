"""`LoadCollector`: 1/5/15-minute load averages, whole and per logical CPU, and process count."""

from __future__ import annotations

import os
from collections.abc import Callable

import psutil

from ..message import LoadAverageUpdated

__all__ = ["LoadCollector"]


def _logical_cpus() -> int:
    return psutil.cpu_count(logical=True) or 1


def _process_count() -> int:
    # One listing of /proc, nothing read per process: half what psutil.pids() costs, which
    # also converts every name to an int.
    try:
        return sum(1 for name in os.listdir("/proc") if name.isdigit())
    except FileNotFoundError:  # not Linux
        return len(psutil.pids())


class LoadCollector:
    """1/5/15-minute load averages, whole and per logical CPU, and how many processes exist."""

    name = "load"

    def __init__(
        self,
        read_load: Callable[[], tuple[float, float, float]] = psutil.getloadavg,
        read_cores: Callable[[], int] = _logical_cpus,
        read_processes: Callable[[], int] = _process_count,
    ) -> None:
        self._read_load = read_load
        self._read_cores = read_cores
        self._read_processes = read_processes

    def collect(self, now: float) -> LoadAverageUpdated:
        load1, load5, load15 = self._read_load()
        cores = max(1, int(self._read_cores()))
        return LoadAverageUpdated(
            load1=float(load1),
            load5=float(load5),
            load15=float(load15),
            cores=cores,
            load1_per_core=load1 / cores,
            load5_per_core=load5 / cores,
            load15_per_core=load15 / cores,
            processes=int(self._read_processes()),
        )
