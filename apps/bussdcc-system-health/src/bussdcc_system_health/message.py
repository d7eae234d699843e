"""The app's telemetry messages: what `SystemService` observes and `HealthProcess` concludes.

Every message is a frozen, slotted dataclass holding plain typed data (str, int, float, bool,
None, Literal, tuples of the frozen records below), so it round-trips through the JSONL wire
format unchanged. Sizes are bytes, rates bytes per second, percentages 0-100, temperatures
degrees Celsius.

A reading that cannot be taken is stated, never invented: temperature and throttling carry
``available`` and a ``reason`` instead of a fake value.

Severity is a class attribute in bussdcc, so it cannot vary with the content: periodic
telemetry is INFO (it is emitted every second), a failing collector and a health status
change are WARNING.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bussdcc.message import Message, Severity

__all__ = [
    "CollectorFailed",
    "CoreUsage",
    "CpuUsageUpdated",
    "DiskUsageUpdated",
    "Filesystem",
    "HealthChanged",
    "HealthStatus",
    "InterfaceThroughput",
    "LoadAverageUpdated",
    "MemoryUsageUpdated",
    "NetworkUsageUpdated",
    "NotificationFailed",
    "NotificationSent",
    "TemperatureSensor",
    "TemperatureUpdated",
    "ThrottleFlags",
    "ThrottlingUpdated",
]

HealthStatus = Literal["ok", "warning", "critical"]


# --- CPU ---------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class CoreUsage:
    """One logical CPU's share of time since the previous sample, in percent."""

    core: int
    user: float
    system: float
    iowait: float
    idle: float
    busy: float
    """100 - idle - iowait: time spent doing work (as `psutil.cpu_percent` counts it)."""


@dataclass(slots=True, frozen=True)
class CpuUsageUpdated(Message):
    """Whole-machine CPU time shares since the previous sample, plus each core's."""

    name = "system.cpu.usage.updated"
    user: float
    system: float
    iowait: float
    idle: float
    busy: float
    """100 - idle - iowait, the figure health thresholds apply to."""
    cores: tuple[CoreUsage, ...] = ()


# --- memory ------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class MemoryUsageUpdated(Message):
    """RAM and swap. ``percent`` is (total - available) / total, as `psutil` reports it."""

    name = "system.memory.usage.updated"
    total: int
    available: int
    used: int
    percent: float
    swap_total: int
    swap_used: int
    swap_percent: float


# --- disks -------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Filesystem:
    """One mounted filesystem's capacity."""

    mountpoint: str
    device: str
    fstype: str
    total: int
    used: int
    free: int
    percent: float


@dataclass(slots=True, frozen=True)
class DiskUsageUpdated(Message):
    """Every real mounted filesystem: no pseudo filesystems, snaps or repeated devices."""

    name = "system.disk.usage.updated"
    filesystems: tuple[Filesystem, ...] = ()


# --- load --------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class LoadAverageUpdated(Message):
    """1/5/15-minute load averages, and each divided by the number of logical CPUs."""

    name = "system.load.updated"
    load1: float
    load5: float
    load15: float
    cores: int
    load1_per_core: float
    load5_per_core: float
    load15_per_core: float


# --- temperature -------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class TemperatureSensor:
    """One temperature reading. ``high``/``critical`` are the hardware's limits, when known."""

    name: str
    """The sensor chip or zone, e.g. ``cpu_thermal``, ``coretemp``."""
    label: str
    """The reading within the chip, e.g. ``Core 0``; empty when the chip has one reading."""
    current: float
    high: float | None = None
    critical: float | None = None


@dataclass(slots=True, frozen=True)
class TemperatureUpdated(Message):
    """Every temperature sensor; with none, ``available`` is False and ``reason`` says why."""

    name = "system.temperature.updated"
    available: bool
    sensors: tuple[TemperatureSensor, ...] = ()
    reason: str | None = None


# --- network -----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class InterfaceThroughput:
    """One interface's throughput over the sample interval.

    A rate is None when it cannot be known honestly: the interface is new since the previous
    sample, or its counters went backwards (the interface was reset or recreated).
    """

    interface: str
    rx_bytes_per_s: float | None
    tx_bytes_per_s: float | None
    rx_bytes: int
    """The receive counter (bytes since the interface came up) at this sample."""
    tx_bytes: int


@dataclass(slots=True, frozen=True)
class NetworkUsageUpdated(Message):
    """Per-interface throughput and totals over the last ``interval`` seconds.

    Totals sum the interfaces whose rate is known. Loopback is left out.
    """

    name = "system.network.usage.updated"
    interval: float
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    interfaces: tuple[InterfaceThroughput, ...] = ()


# --- throttling --------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ThrottleFlags:
    """The four Raspberry Pi firmware conditions, either "now" or "has occurred since boot"."""

    under_voltage: bool
    frequency_capped: bool
    """ARM frequency capped."""
    throttled: bool
    soft_temperature_limit: bool


@dataclass(slots=True, frozen=True)
class ThrottlingUpdated(Message):
    """Raspberry Pi firmware throttling state (`vcgencmd get_throttled`).

    ``raw`` is the firmware's bit field as read; ``now`` decodes bits 0-3 and ``since_boot``
    bits 16-19. On a host without that firmware interface ``available`` is False, the other
    fields are None and ``reason`` says what was looked for.
    """

    name = "system.throttling.updated"
    available: bool
    raw: int | None = None
    now: ThrottleFlags | None = None
    since_boot: ThrottleFlags | None = None
    source: str | None = None
    """Where the value came from: the sysfs path or ``vcgencmd``."""
    reason: str | None = None


# --- health and collection ---------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class HealthChanged(Message):
    """The host's health status changed; ``previous`` is ``"unknown"`` for the first evaluation."""

    name = "system.health.changed"
    severity = Severity.WARNING
    previous: Literal["unknown", "ok", "warning", "critical"]
    status: HealthStatus
    reasons: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class CollectorFailed(Message):
    """One telemetry collector started failing; the others keep reporting.

    Emitted once per failure streak (not every tick); `SystemService` emits it again only
    after the collector has worked in between.
    """

    name = "system.collector.failed"
    severity = Severity.WARNING
    collector: str
    error: str


# --- notifications -----------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class NotificationSent(Message):
    """A health notification (``alert`` or ``recovery``) reached ``target`` (secrets masked)."""

    name = "notify.sent"
    kind: Literal["alert", "recovery"]
    status: HealthStatus
    target: str


@dataclass(slots=True, frozen=True)
class NotificationFailed(Message):
    """A health notification could not be delivered to ``target``; the app carries on."""

    name = "notify.failed"
    severity = Severity.WARNING
    kind: Literal["alert", "recovery"]
    status: HealthStatus
    target: str
    error: str
