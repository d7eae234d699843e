"""`MemoryCollector`: RAM and swap usage from psutil."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from ..message import MemoryUsageUpdated

__all__ = ["MemoryCollector"]


class MemoryCollector:
    """RAM and swap usage."""

    name = "memory"

    def __init__(
        self,
        read_memory: Callable[[], Any] = psutil.virtual_memory,
        read_swap: Callable[[], Any] = psutil.swap_memory,
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
