"""Rates from monotonically increasing counters: network and disk bytes, operations, busy time."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ..message import DiskIo, InterfaceThroughput

__all__ = [
    "DiskCounters",
    "InterfaceCounters",
    "busy_percent",
    "counter_rate",
    "disk_throughput",
    "interface_throughput",
    "known_sum",
    "per_member",
]

C = TypeVar("C")
R = TypeVar("R")


@dataclass(slots=True, frozen=True)
class InterfaceCounters:
    """An interface's receive and transmit byte counters at one instant."""

    rx_bytes: int
    tx_bytes: int


@dataclass(slots=True, frozen=True)
class DiskCounters:
    """A block device's cumulative counters at one instant (as ``/proc/diskstats`` keeps them).

    ``busy_ms`` is the milliseconds the device has had I/O in flight (``io_ticks``); None where
    the platform does not count it.
    """

    read_bytes: int
    write_bytes: int
    reads: int
    writes: int
    busy_ms: int | None = None


def counter_rate(previous: int, current: int, seconds: float) -> float | None:
    """Units per second between two readings of a counter taken ``seconds`` apart.

    A counter that went backwards was reset (interface restarted, device re-added, driver
    reloaded, or a wrap): how much it counted in between is unknowable, so the answer is None
    rather than a negative or guessed rate. None as well when ``seconds`` is not positive.
    """
    if seconds <= 0 or current < previous:
        return None
    return (current - previous) / seconds


def busy_percent(previous_ms: int | None, current_ms: int | None, seconds: float) -> float | None:
    """The percentage of ``seconds`` a device was busy, from two readings of its busy-time counter.

    None where either reading is missing or the counter was reset (see `counter_rate`).
    Capped at 100: the kernel updates the counter when I/O completes, so an interval can
    receive a few milliseconds that belong to the one before.
    """
    if previous_ms is None or current_ms is None:
        return None
    rate = counter_rate(previous_ms, current_ms, seconds)
    return None if rate is None else min(100.0, rate / 10.0)  # ms per s -> percent


def per_member(
    previous: Mapping[str, C],
    current: Mapping[str, C],
    rates: Callable[[str, C | None, C], R],
) -> tuple[R, ...]:
    """``rates(name, before, now)`` for each member of ``current``, sorted by name.

    ``before`` is the member's reading in ``previous``, None when it is new (or on the first
    sample); a member absent from ``current`` (removed) is left out. Interfaces and block
    devices both come and go this way.
    """
    return tuple(rates(name, previous.get(name), current[name]) for name in sorted(current))


def interface_throughput(
    previous: Mapping[str, InterfaceCounters],
    current: Mapping[str, InterfaceCounters],
    seconds: float,
) -> tuple[InterfaceThroughput, ...]:
    """Each interface in ``current`` with its rates since ``previous``, sorted by name.

    An interface absent from ``previous`` (new, or the first sample) has None rates; one
    absent from ``current`` (removed) is left out.
    """

    def rates(
        name: str, before: InterfaceCounters | None, now: InterfaceCounters
    ) -> InterfaceThroughput:
        rx = tx = None
        if before is not None:
            rx = counter_rate(before.rx_bytes, now.rx_bytes, seconds)
            tx = counter_rate(before.tx_bytes, now.tx_bytes, seconds)
        return InterfaceThroughput(name, rx, tx, now.rx_bytes, now.tx_bytes)

    return per_member(previous, current, rates)


def disk_throughput(
    previous: Mapping[str, DiskCounters],
    current: Mapping[str, DiskCounters],
    seconds: float,
    partitions: Collection[str] = (),
) -> tuple[DiskIo, ...]:
    """Each device in ``current`` with its rates and busy share since ``previous``, by name.

    As `interface_throughput`: a new device has None rates, a removed one is left out, and a
    counter that went backwards gives None for that figure alone. Devices named in
    ``partitions`` are marked ``whole=False``.
    """

    def rates(name: str, before: DiskCounters | None, now: DiskCounters) -> DiskIo:
        if before is None:
            return DiskIo(
                name, None, None, None, None, None, now.read_bytes, now.write_bytes,
                whole=name not in partitions,
            )  # fmt: skip
        return DiskIo(
            device=name,
            read_bytes_per_s=counter_rate(before.read_bytes, now.read_bytes, seconds),
            write_bytes_per_s=counter_rate(before.write_bytes, now.write_bytes, seconds),
            reads_per_s=counter_rate(before.reads, now.reads, seconds),
            writes_per_s=counter_rate(before.writes, now.writes, seconds),
            busy=busy_percent(before.busy_ms, now.busy_ms, seconds),
            read_bytes=now.read_bytes,
            write_bytes=now.write_bytes,
            whole=name not in partitions,
        )

    return per_member(previous, current, rates)


def known_sum(values: Iterable[float | None]) -> float:
    """The sum of the values that are known (None counts as nothing)."""
    return sum(value for value in values if value is not None)
