"""The app's telemetry messages: what `SystemService` observes and `HealthProcess` concludes.

Every message is a frozen, slotted dataclass holding plain typed data (str, int, float, bool,
None, Literal, tuples of the frozen records below), so it round-trips through the JSONL wire
format unchanged. Sizes are bytes, rates bytes per second, percentages 0-100, temperatures
degrees Celsius.

A reading that cannot be taken is stated, never invented: temperature, fans, storage wear and
throttling carry ``available`` and a ``reason`` instead of a fake value.

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
    "DiskIo",
    "DiskIoUpdated",
    "DiskUsageUpdated",
    "Fan",
    "FanSpeedUpdated",
    "Filesystem",
    "HealthChanged",
    "HealthStatus",
    "InterfaceThroughput",
    "LoadAverageUpdated",
    "MemoryUsageUpdated",
    "NetworkUsageUpdated",
    "NotificationFailed",
    "NotificationSent",
    "PreEol",
    "StorageWear",
    "StorageWearUpdated",
    "TemperatureSensor",
    "TemperatureUpdated",
    "ThrottleFlags",
    "ThrottlingUpdated",
    "WearEstimate",
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


@dataclass(slots=True, frozen=True)
class DiskIo:
    """One block device's I/O over the sample interval.

    A rate is None when it cannot be known honestly: the device is new since the previous
    sample, or its counter went backwards (the device was removed and re-added). ``busy`` is
    the share of the interval the device had I/O in flight (the kernel's ``io_ticks``), None
    where the platform does not count it.
    """

    device: str
    """The kernel's name for it, as in ``/proc/diskstats`` (``sda``, ``mmcblk0p2``, ``dm-0``)."""
    read_bytes_per_s: float | None
    write_bytes_per_s: float | None
    reads_per_s: float | None
    """Read operations completed per second."""
    writes_per_s: float | None
    busy: float | None
    """Percent of the interval (0-100)."""
    read_bytes: int
    """The read counter (bytes since boot) at this sample."""
    write_bytes: int
    whole: bool = True
    """A whole disk (``/sys/block/<device>``) rather than a partition of one."""


@dataclass(slots=True, frozen=True)
class DiskIoUpdated(Message):
    """Per-device block I/O over the last ``interval`` seconds.

    Devices: every whole disk except RAM, compressed-RAM (zram), loop and similar virtual
    devices, plus every partition or virtual device that backs a mounted filesystem. Totals
    sum the whole disks that no other reported device is stacked on (device-mapper, md RAID
    and loop devices count their I/O again on the disks below them), where the rate is known.
    """

    name = "system.disk.io.updated"
    interval: float
    read_bytes_per_s: float
    write_bytes_per_s: float
    devices: tuple[DiskIo, ...] = ()


# --- storage wear (eMMC) -----------------------------------------------------------------------

PreEol = Literal["undefined", "normal", "warning", "urgent", "reserved"]
"""The eMMC ``PRE_EOL_INFO`` field: how much of the reserved blocks is consumed.

``normal`` (0x01) below 80 %, ``warning`` (0x02) 80 % or more, ``urgent`` (0x03) 90 % or more;
``undefined`` (0x00) when the device does not say, ``reserved`` for values the standard does
not define."""


@dataclass(slots=True, frozen=True)
class WearEstimate:
    """An eMMC ``DEVICE_LIFE_TIME_EST_TYP_A/B`` value: how much of the rated life is used.

    ``raw`` 0x01-0x0A is 0-10 % ... 90-100 % used (``used_min``..``used_max``); 0x0B means the
    rated life is exceeded (``exceeded``, ``used_min`` 100, ``used_max`` None); 0x00 (not
    defined) and values above 0x0B leave both bounds None.
    """

    raw: int
    used_min: int | None
    used_max: int | None
    exceeded: bool = False


@dataclass(slots=True, frozen=True)
class StorageWear:
    """One eMMC device's wear, as its firmware estimates it.

    Type A and type B are two kinds of memory in the device (typically SLC and MLC); the
    vendor decides which is which.
    """

    device: str
    """The block device, e.g. ``mmcblk0``."""
    life_time_a: WearEstimate
    life_time_b: WearEstimate
    pre_eol: PreEol
    pre_eol_raw: int
    model: str | None = None
    """The card's product name (``device/name`` in sysfs), when readable."""


@dataclass(slots=True, frozen=True)
class StorageWearUpdated(Message):
    """Flash wear of every eMMC device; with none, ``available`` is False and ``reason`` says why.

    Emitted when the reading changes and otherwise at most hourly: wear moves over months.
    SD cards and other disks do not report wear.
    """

    name = "system.storage.wear.updated"
    available: bool
    devices: tuple[StorageWear, ...] = ()
    reason: str | None = None


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
    processes: int | None = None
    """How many processes exist (None in recordings made before it was counted)."""


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


# --- fans --------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Fan:
    """One fan's speed."""

    name: str
    """The hwmon chip, e.g. ``pwmfan`` (a Raspberry Pi 5's fan) or ``thinkpad``."""
    label: str
    rpm: int


@dataclass(slots=True, frozen=True)
class FanSpeedUpdated(Message):
    """Every fan psutil can read; with none, ``available`` is False and ``reason`` says why.

    Where there are no fans this is emitted when that changes and at most every ten minutes.
    """

    name = "system.fans.updated"
    available: bool
    fans: tuple[Fan, ...] = ()
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
