"""`NetworkCollector`: receive and transmit rates per interface, from psutil's byte counters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import psutil

from ..message import NetworkUsageUpdated
from ..telemetry.rates import InterfaceCounters, interface_throughput

__all__ = ["NetworkCollector"]


def _interface_counters() -> dict[str, InterfaceCounters]:
    # nowrap=True (the default, stated for the reader): psutil folds a counter that restarts
    # from zero into an ever-increasing total, so a reset yields the bytes counted since.
    counters = psutil.net_io_counters(pernic=True, nowrap=True)
    return {name: InterfaceCounters(c.bytes_recv, c.bytes_sent) for name, c in counters.items()}


class NetworkCollector:
    """Receive and transmit rates per interface, from byte counters differenced between ticks.

    The first sample only records the counters and reports nothing (None): a rate needs an
    interval. Afterwards each sample covers the time since the previous one. Counters that
    go backwards give no rate for that interval (see `counter_rate`). Loopback is left out
    unless ``include_loopback``. Rates are rounded to whole bytes per second and the
    interval to milliseconds.
    """

    name = "network"

    def __init__(
        self,
        read: Callable[[], Mapping[str, InterfaceCounters]] = _interface_counters,
        *,
        include_loopback: bool = False,
    ) -> None:
        self._read = read
        self._include_loopback = include_loopback
        self._previous: Mapping[str, InterfaceCounters] | None = None
        self._previous_time = 0.0

    def collect(self, now: float) -> NetworkUsageUpdated | None:
        current = {
            name: counters
            for name, counters in self._read().items()
            if self._include_loopback or name != "lo"
        }
        previous, elapsed = self._previous, now - self._previous_time
        self._previous, self._previous_time = current, now
        if previous is None or elapsed <= 0:
            return None
        # Whole bytes per second and whole milliseconds: the digits beyond are noise of
        # the sampling moment, yet would cost the log a dozen characters per figure.
        interfaces = tuple(
            replace(
                nic,
                rx_bytes_per_s=_whole(nic.rx_bytes_per_s),
                tx_bytes_per_s=_whole(nic.tx_bytes_per_s),
            )
            for nic in interface_throughput(previous, current, elapsed)
        )
        return NetworkUsageUpdated(
            interval=round(elapsed, 3),
            rx_bytes_per_s=float(sum(i.rx_bytes_per_s or 0.0 for i in interfaces)),
            tx_bytes_per_s=float(sum(i.tx_bytes_per_s or 0.0 for i in interfaces)),
            interfaces=interfaces,
        )


def _whole(rate: float | None) -> float | None:
    return None if rate is None else float(round(rate))
