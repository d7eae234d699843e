"""`MemoryCollector`: RAM and swap usage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import psutil

from ..message import MemoryUsageUpdated

__all__ = ["MemoryCollector", "SwapUsage", "parse_swap"]

MEMINFO = Path("/proc/meminfo")


class SwapUsage(NamedTuple):
    """Swap space in bytes, and the share used in percent (as `psutil.swap_memory` gives)."""

    total: int
    used: int
    percent: float


def parse_swap(meminfo: bytes) -> SwapUsage | None:
    """Swap from the text of ``/proc/meminfo`` (``SwapTotal:`` and ``SwapFree:``, in kB);
    None when either line is missing. ``percent`` is rounded to 0.1, 0.0 without swap."""
    total = free = None
    for line in meminfo.splitlines():
        if line.startswith(b"SwapTotal:"):
            total = int(line.split()[1]) * 1024
        elif line.startswith(b"SwapFree:"):
            free = int(line.split()[1]) * 1024
    if total is None or free is None:
        return None
    used = total - free
    return SwapUsage(total, used, round(100.0 * used / total, 1) if total else 0.0)


def read_swap(meminfo: Path = MEMINFO) -> Any:
    """Swap now: from ``/proc/meminfo``, else (not Linux) `psutil.swap_memory`.

    psutil's swap reading also parses ``/proc/vmstat`` for the pages swapped in and out,
    which this app does not report: two thirds of its cost, every tick.
    """
    try:
        swap = parse_swap(meminfo.read_bytes())
    except OSError:
        swap = None
    return swap if swap is not None else psutil.swap_memory()


class MemoryCollector:
    """RAM and swap usage."""

    name = "memory"

    def __init__(
        self,
        read_memory: Callable[[], Any] = psutil.virtual_memory,
        read_swap: Callable[[], Any] = read_swap,
    ) -> None:
        self._read_memory = read_memory
        self._read_swap = read_swap

    def collect(self, now: float) -> MemoryUsageUpdated:
        memory, swap = self._read_memory(), self._read_swap()
        return MemoryUsageUpdated(
            total=int(memory.total),
            available=int(memory.available),
            used=int(memory.used),
            percent=float(memory.percent),
            swap_total=int(swap.total),
            swap_used=int(swap.used),
            swap_percent=float(swap.percent),
        )
