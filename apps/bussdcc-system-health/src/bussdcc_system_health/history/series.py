"""Which numbers of the app's telemetry become history series, and which become timeline marks.

Series names are dotted paths (SPEC section 8): ``cpu.busy``, ``cpu.user``, ``cpu.system``,
``cpu.iowait``, ``cpu.core.<n>.busy``, ``memory.percent``, ``swap.percent``, ``load.load1``,
``load.load5``, ``load.load15``, ``network.rx_bytes_per_s``, ``network.tx_bytes_per_s``,
``network.<iface>.rx_bytes_per_s``, ``network.<iface>.tx_bytes_per_s``,
``disk.<mountpoint>.percent`` (``disk./.percent``), ``disk.<device>.read_bytes_per_s``,
``disk.<device>.write_bytes_per_s`` and ``disk.<device>.busy`` for each block device the disk
I/O reading reports (``disk.mmcblk0.busy``), ``load.processes``, ``temperature.<sensor>`` and
``fan.<fan>`` (RPM), where a sensor or fan is its chip name, followed by ``.<label>`` when
the chip has labelled readings (``temperature.cpu_thermal``, ``temperature.coretemp.Core 0``,
``fan.pwmfan``).

A reading that is not known (an interface's first sample, an unavailable sensor) yields no
value: history states what was measured and never fills in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from bussdcc.message import Message

from ..message import (
    CpuUsageUpdated,
    DiskIoUpdated,
    DiskUsageUpdated,
    FanSpeedUpdated,
    HealthChanged,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)

__all__ = [
    "BULK_MESSAGES",
    "HEALTH_EVENT",
    "SOURCE_MESSAGES",
    "THROTTLING_EVENT",
    "TimelineEvent",
    "columns",
    "readings",
    "throttling_change",
    "timeline_event",
]

HEALTH_EVENT = HealthChanged.name
THROTTLING_EVENT = "system.throttling.changed"
"""A timeline mark: the firmware's "now" throttling flags differ from the previous reading."""


class TimelineEvent(NamedTuple):
    """A mark on the history timeline: its wire-style name and plain JSON data."""

    name: str
    data: dict[str, Any]


Reading = tuple[str, float]

# Series names of cores, interfaces and mounts, built once each: a name is looked up
# several times a second for as long as the app runs.
_CORE_NAMES: dict[int, str] = {}
_NIC_NAMES: dict[str, tuple[str, str]] = {}
_DISK_NAMES: dict[str, str] = {}
_DEVICE_NAMES: dict[str, tuple[str, str, str]] = {}
_TEMPERATURE_NAMES: dict[tuple[str, str], str] = {}


def _core_name(core: int) -> str:
    name = _CORE_NAMES.get(core)
    if name is None:
        name = _CORE_NAMES[core] = f"cpu.core.{core}.busy"
    return name


def _nic_names(interface: str) -> tuple[str, str]:
    names = _NIC_NAMES.get(interface)
    if names is None:
        names = _NIC_NAMES[interface] = (
            f"network.{interface}.rx_bytes_per_s",
            f"network.{interface}.tx_bytes_per_s",
        )
    return names


def _disk_name(mountpoint: str) -> str:
    name = _DISK_NAMES.get(mountpoint)
    if name is None:
        name = _DISK_NAMES[mountpoint] = f"disk.{mountpoint}.percent"
    return name


def _device_names(device: str) -> tuple[str, str, str]:
    names = _DEVICE_NAMES.get(device)
    if names is None:
        names = _DEVICE_NAMES[device] = (
            f"disk.{device}.read_bytes_per_s",
            f"disk.{device}.write_bytes_per_s",
            f"disk.{device}.busy",
        )
    return names


def _temperature_name(sensor: str, label: str) -> str:
    name = _TEMPERATURE_NAMES.get((sensor, label))
    if name is None:
        name = f"temperature.{sensor}.{label}" if label else f"temperature.{sensor}"
        if len(_TEMPERATURE_NAMES) < _MAX_CACHED:
            _TEMPERATURE_NAMES[(sensor, label)] = name
    return name


_MAX_CACHED = 1024
"""Sensor names a machine may have; a log naming more (damaged, hostile) is not cached."""


def _cpu(msg: CpuUsageUpdated) -> list[Reading]:
    values = [
        ("cpu.busy", msg.busy),
        ("cpu.user", msg.user),
        ("cpu.system", msg.system),
        ("cpu.iowait", msg.iowait),
    ]
    values.extend([(_core_name(core.core), core.busy) for core in msg.cores])
    return values


def _memory(msg: MemoryUsageUpdated) -> list[Reading]:
    return [("memory.percent", msg.percent), ("swap.percent", msg.swap_percent)]


def _disk(msg: DiskUsageUpdated) -> list[Reading]:
    return [(_disk_name(fs.mountpoint), fs.percent) for fs in msg.filesystems]


def _disk_io(msg: DiskIoUpdated) -> list[Reading]:
    values: list[Reading] = []
    for device in msg.devices:
        read, write, busy = _device_names(device.device)
        # None: a rate not known honestly (a new device, a counter that went back).
        if device.read_bytes_per_s is not None:
            values.append((read, device.read_bytes_per_s))
        if device.write_bytes_per_s is not None:
            values.append((write, device.write_bytes_per_s))
        if device.busy is not None:
            values.append((busy, device.busy))
    return values


def _load(msg: LoadAverageUpdated) -> list[Reading]:
    values = [("load.load1", msg.load1), ("load.load5", msg.load5), ("load.load15", msg.load15)]
    if msg.processes is not None:
        values.append(("load.processes", float(msg.processes)))
    return values


def _fans(msg: FanSpeedUpdated) -> list[Reading]:
    if not msg.available:
        return []
    return [
        (f"fan.{f.name}.{f.label}" if f.label else f"fan.{f.name}", float(f.rpm)) for f in msg.fans
    ]


def _temperature(msg: TemperatureUpdated) -> list[Reading]:
    if not msg.available:
        return []
    return [(_temperature_name(s.name, s.label), s.current) for s in msg.sensors]


def _network(msg: NetworkUsageUpdated) -> list[Reading]:
    values = [
        ("network.rx_bytes_per_s", msg.rx_bytes_per_s),
        ("network.tx_bytes_per_s", msg.tx_bytes_per_s),
    ]
    for nic in msg.interfaces:
        rx, tx = _nic_names(nic.interface)
        if nic.rx_bytes_per_s is not None:
            values.append((rx, nic.rx_bytes_per_s))
        if nic.tx_bytes_per_s is not None:
            values.append((tx, nic.tx_bytes_per_s))
    return values


_EXTRACTORS: dict[type[Message], Callable[[Any], list[Reading]]] = {
    CpuUsageUpdated: _cpu,
    MemoryUsageUpdated: _memory,
    DiskUsageUpdated: _disk,
    LoadAverageUpdated: _load,
    TemperatureUpdated: _temperature,
    NetworkUsageUpdated: _network,
    DiskIoUpdated: _disk_io,
    FanSpeedUpdated: _fans,
}

SOURCE_MESSAGES: tuple[type[Message], ...] = (*_EXTRACTORS, HealthChanged, ThrottlingUpdated)
"""Every message the rollups read; the rest of the event stream is ignored."""


Columns = dict[str, list[float]]


def _cpu_columns(msgs: list[CpuUsageUpdated], out: Columns) -> None:
    _extend(out, "cpu.busy", [m.busy for m in msgs])
    _extend(out, "cpu.user", [m.user for m in msgs])
    _extend(out, "cpu.system", [m.system for m in msgs])
    _extend(out, "cpu.iowait", [m.iowait for m in msgs])
    by_core: dict[int, list[float]] = {}
    for msg in msgs:
        for core in msg.cores:
            column = by_core.get(core.core)
            if column is None:
                by_core[core.core] = [core.busy]
            else:
                column.append(core.busy)
    for core_id, column in by_core.items():
        _extend(out, _core_name(core_id), column)


def _memory_columns(msgs: list[MemoryUsageUpdated], out: Columns) -> None:
    _extend(out, "memory.percent", [m.percent for m in msgs])
    _extend(out, "swap.percent", [m.swap_percent for m in msgs])


def _load_columns(msgs: list[LoadAverageUpdated], out: Columns) -> None:
    _extend(out, "load.load1", [m.load1 for m in msgs])
    _extend(out, "load.load5", [m.load5 for m in msgs])
    _extend(out, "load.load15", [m.load15 for m in msgs])
    # None: a recording from before the process count was read.
    processes = [float(m.processes) for m in msgs if m.processes is not None]
    if processes:
        _extend(out, "load.processes", processes)


def _network_columns(msgs: list[NetworkUsageUpdated], out: Columns) -> None:
    _extend(out, "network.rx_bytes_per_s", [m.rx_bytes_per_s for m in msgs])
    _extend(out, "network.tx_bytes_per_s", [m.tx_bytes_per_s for m in msgs])
    by_nic: dict[str, tuple[list[float], list[float]]] = {}
    for msg in msgs:
        for nic in msg.interfaces:
            pair = by_nic.get(nic.interface)
            if pair is None:
                pair = by_nic[nic.interface] = ([], [])
            if nic.rx_bytes_per_s is not None:
                pair[0].append(nic.rx_bytes_per_s)
            if nic.tx_bytes_per_s is not None:
                pair[1].append(nic.tx_bytes_per_s)
    for interface, (rx_column, tx_column) in by_nic.items():
        rx, tx = _nic_names(interface)
        if rx_column:
            _extend(out, rx, rx_column)
        if tx_column:
            _extend(out, tx, tx_column)


def _temperature_columns(msgs: list[TemperatureUpdated], out: Columns) -> None:
    for msg in msgs:
        if msg.available:
            for sensor in msg.sensors:
                _append(out, _temperature_name(sensor.name, sensor.label), sensor.current)


def _each_columns(extract: Callable[[Any], list[Reading]]) -> Callable[[list[Any], Columns], None]:
    def columns(msgs: list[Any], out: Columns) -> None:
        for msg in msgs:
            for name, value in extract(msg):
                _append(out, name, value)

    return columns


def _extend(out: Columns, name: str, values: list[float]) -> None:
    found = out.get(name)
    if found is None:
        out[name] = values
    else:
        found.extend(values)


def _append(out: Columns, name: str, value: float) -> None:
    found = out.get(name)
    if found is None:
        out[name] = [value]
    else:
        found.append(value)


# The frequent messages get a column per fixed field in one pass each (a list comprehension
# per field costs a fraction of a Python-level loop per reading); any other goes reading by
# reading through its extractor.
_FAST_COLUMNS: dict[type[Message], Callable[[list[Any], Columns], None]] = {
    CpuUsageUpdated: _cpu_columns,
    MemoryUsageUpdated: _memory_columns,
    LoadAverageUpdated: _load_columns,
    NetworkUsageUpdated: _network_columns,
    TemperatureUpdated: _temperature_columns,
}
_COLUMNS: dict[type[Message], Callable[[list[Any], Columns], None]] = {
    kind: _FAST_COLUMNS.get(kind) or _each_columns(extract) for kind, extract in _EXTRACTORS.items()
}

BULK_MESSAGES: tuple[type[Message], ...] = tuple(_COLUMNS)
"""The messages that hold series readings (some may hold none: an unavailable sensor)."""


def columns(payloads: dict[type[Message], list[Any]]) -> Columns:
    """Every series' values in ``payloads`` (messages grouped by their exact type), in one
    dict ``{series: [value, ...]}``: the same values `readings` gives message by message,
    grouped per series. Types that hold no readings are ignored.
    """
    out: Columns = {}
    for kind, msgs in payloads.items():
        extract = _COLUMNS.get(kind)
        if extract is not None:
            extract(msgs, out)
    return out


def readings(payload: Message) -> list[Reading]:
    """The ``(series, value)`` pairs ``payload`` contributes; empty for any other message."""
    extract = _EXTRACTORS.get(type(payload))
    return extract(payload) if extract is not None else []


def _flags(flags: ThrottleFlags) -> dict[str, bool]:
    return {
        "under_voltage": flags.under_voltage,
        "frequency_capped": flags.frequency_capped,
        "throttled": flags.throttled,
        "soft_temperature_limit": flags.soft_temperature_limit,
    }


def throttling_change(
    previous: ThrottleFlags | None, msg: ThrottlingUpdated
) -> TimelineEvent | None:
    """A timeline mark when the "now" flags differ from ``previous`` (None: not known yet).

    The first known reading is a mark only if some flag is set, so a healthy Pi's timeline
    stays empty; an unavailable reading is never a mark.
    """
    now = msg.now
    if not msg.available or now is None or now == previous:
        return None
    if previous is None and not any(_flags(now).values()):
        return None
    return TimelineEvent(THROTTLING_EVENT, {"now": _flags(now), "raw": msg.raw})


def timeline_event(payload: Message) -> TimelineEvent | None:
    """The mark a health change makes on the timeline, or None for any other message."""
    if isinstance(payload, HealthChanged):
        return TimelineEvent(
            HEALTH_EVENT,
            {
                "previous": payload.previous,
                "status": payload.status,
                "reasons": list(payload.reasons),
            },
        )
    return None
