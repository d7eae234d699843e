"""`LoadCollector`: 1/5/15-minute load averages, whole and per logical CPU, and process count."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import psutil

from ..message import LoadAverageUpdated
from .cadence import EVERY_MINUTE, OnChange

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


def _same_load(previous: LoadAverageUpdated, current: LoadAverageUpdated) -> bool:
    return (previous.load1, previous.load5, previous.load15, previous.cores) == (
        current.load1,
        current.load5,
        current.load15,
        current.cores,
    )


class LoadCollector:
    """1/5/15-minute load averages, whole and per logical CPU, and how many processes exist.

    Linux recomputes the load averages every 5 seconds, so most 1 s samples repeat the last
    one: a sample is reported when the averages (or the CPU count) changed - the process
    count alone, which moves nearly every second, is no news and rides along - and at least
    every ``repeat`` seconds (default a minute) otherwise; in between `collect` returns
    None. The state and the health verdicts keep the last reported value, which is the
    current one. The averages are rounded to two decimals as ``/proc/loadavg`` shows them,
    per-core figures to thousandths, so no float noise reaches the log.

    Raises:
        TypeError: if ``repeat`` is not a number.
        ValueError: if ``repeat`` is negative, NaN or infinite.
    """

    name = "load"

    def __init__(
        self,
        read_load: Callable[[], tuple[float, float, float]] = psutil.getloadavg,
        read_cores: Callable[[], int] = _logical_cpus,
        read_processes: Callable[[], int] = _process_count,
        *,
        repeat: float = EVERY_MINUTE,
    ) -> None:
        self._read_load = read_load
        self._read_cores = read_cores
        self._read_processes = read_processes
        self._news: OnChange[LoadAverageUpdated] = OnChange(
            repeat, argument="repeat", same=_same_load
        )

    def collect(self, now: float) -> LoadAverageUpdated | None:
        # getloadavg() gives the kernel's fixed-point figures in binary (3.876953125);
        # /proc/loadavg, and anyone reading them, shows two decimals.
        load1, load5, load15 = (round(float(x), 2) for x in self._read_load())
        cores = max(1, int(self._read_cores()))
        reading = LoadAverageUpdated(
            load1=load1,
            load5=load5,
            load15=load15,
            cores=cores,
            load1_per_core=round(load1 / cores, 3),
            load5_per_core=round(load5 / cores, 3),
            load15_per_core=round(load15 / cores, 3),
        )
        if self._news(now, reading) is None:
            return None
        # Counted only for a sample that is reported (about one in five): listing /proc is
        # most of this collector's cost, and the count alone is no news.
        return dataclasses.replace(reading, processes=int(self._read_processes()))
