"""Rates from monotonically increasing counters, such as network byte counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..message import InterfaceThroughput

__all__ = ["InterfaceCounters", "counter_rate", "interface_throughput"]


@dataclass(slots=True, frozen=True)
class InterfaceCounters:
    """An interface's receive and transmit byte counters at one instant."""

    rx_bytes: int
    tx_bytes: int


def counter_rate(previous: int, current: int, seconds: float) -> float | None:
    """Units per second between two readings of a counter taken ``seconds`` apart.

    A counter that went backwards was reset (interface restarted, driver reloaded, or a
    wrap): how much it counted in between is unknowable, so the answer is None rather than
    a negative or guessed rate. None as well when ``seconds`` is not positive.
    """
    if seconds <= 0 or current < previous:
        return None
    return (current - previous) / seconds


def interface_throughput(
    previous: Mapping[str, InterfaceCounters],
    current: Mapping[str, InterfaceCounters],
    seconds: float,
) -> tuple[InterfaceThroughput, ...]:
    """Each interface in ``current`` with its rates since ``previous``, sorted by name.

    An interface absent from ``previous`` (new, or the first sample) has None rates; one
    absent from ``current`` (removed) is left out.
    """
    result = []
    for name in sorted(current):
        now = current[name]
        before = previous.get(name)
        rx = tx = None
        if before is not None:
            rx = counter_rate(before.rx_bytes, now.rx_bytes, seconds)
            tx = counter_rate(before.tx_bytes, now.tx_bytes, seconds)
        result.append(InterfaceThroughput(name, rx, tx, now.rx_bytes, now.tx_bytes))
    return tuple(result)
