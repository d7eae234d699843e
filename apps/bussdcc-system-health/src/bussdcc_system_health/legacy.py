"""Reading a 0.22 data directory in place: the table of known 0.22 message types.

bussdcc-system-health 0.22 (on bussdcc 0.40 / bussdcc-framework 0.30) wrote history as
``{"time", "type": "module:QualName", "data"}`` lines, with no wire name, and an importer
that imported whatever ``type`` named. 0.23 never imports from history files: a 0.22 line is
converted by `LEGACY_TYPES`, an explicit table from each known 0.22 ``type`` to a function
building today's message from the old fields. A line of any other type is skipped and
counted (never imported).

What the conversion cannot know is stated, never invented (see the README's "Upgrading"):

* memory: 0.22 did not record swap -- ``swap_*`` are 0;
* CPU: no per-core figures (``cores`` is empty); ``busy`` is ``100 - idle - iowait``;
* load: 0.22 did not record the number of CPUs -- ``cores`` is 0 and the ``*_per_core``
  figures are 0.0 (so load never drives the replayed health verdict);
* disk: 0.22 recorded one mount point per line, without device or filesystem type (empty);
* temperature: one reading, as sensor ``"cpu"``;
* network: 0.22's ``tx_bps``/``rx_bps`` were bytes per second already (psutil byte counters
  over the sample interval), so they become ``tx_bytes_per_s``/``rx_bytes_per_s``; counters
  were not recorded (``rx_bytes``/``tx_bytes`` 0); loopback is left out as today; the
  ``interval`` is the time since the previous network line (0 for the first).

`HistorySource` reads a folder holding either format (or both: 0.23 appends its own segments
beside the old ones) in file order, each file in its own format.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from bussdcc import Event, Message
from bussdcc.message import (
    InterfaceStarted,
    ProcessStarted,
    RuntimeBooted,
    RuntimeBooting,
    ServiceStarted,
)
from bussdcc_framework.io.jsonl import JsonlSource
from bussdcc_framework.message import FrameworkBooted, SystemIdentityEvent

from .message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    Filesystem,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureSensor,
    TemperatureUpdated,
)

__all__ = ["LEGACY_TYPES", "TELEMETRY_TYPES", "HistorySource", "convert_line"]

logger = logging.getLogger(__name__)

_Converter = Callable[[Mapping[str, Any], "_Context"], Message]

_STATS = "bussdcc_system_health.message.stats:"


class _Context:
    """What a conversion may remember between lines of one read (the network interval)."""

    def __init__(self) -> None:
        self.time: datetime | None = None
        self.last_network: datetime | None = None


def _memory(d: Mapping[str, Any], _: _Context) -> Message:
    return MemoryUsageUpdated(
        total=int(d["total"]),
        available=int(d["available"]),
        used=int(d["used"]),
        percent=float(d["percent"]),
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
    )


def _cpu(d: Mapping[str, Any], _: _Context) -> Message:
    idle, iowait = float(d["idle"]), float(d["iowait"])
    return CpuUsageUpdated(
        user=float(d["user"]),
        system=float(d["system"]),
        iowait=iowait,
        idle=idle,
        busy=round(max(0.0, 100.0 - idle - iowait), 1),
    )


def _load(d: Mapping[str, Any], _: _Context) -> Message:
    return LoadAverageUpdated(
        load1=float(d["load_1m"]),
        load5=float(d["load_5m"]),
        load15=float(d["load_15m"]),
        cores=0,
        load1_per_core=0.0,
        load5_per_core=0.0,
        load15_per_core=0.0,
    )


def _disk(d: Mapping[str, Any], _: _Context) -> Message:
    fs = Filesystem(
        mountpoint=str(d["mountpoint"]),
        device="",
        fstype="",
        total=int(d["total"]),
        used=int(d["used"]),
        free=int(d["free"]),
        percent=float(d["percent"]),
    )
    return DiskUsageUpdated(filesystems=(fs,))


def _temperature(d: Mapping[str, Any], _: _Context) -> Message:
    value = d.get("value")
    if value is None:
        return TemperatureUpdated(available=False, reason="not recorded by 0.22")
    sensor = TemperatureSensor(name="cpu", label="", current=float(value))
    return TemperatureUpdated(available=True, sensors=(sensor,))


def _network(d: Mapping[str, Any], ctx: _Context) -> Message:
    interfaces = tuple(
        InterfaceThroughput(
            interface=str(i["interface"]),
            rx_bytes_per_s=float(i["rx_bps"]),
            tx_bytes_per_s=float(i["tx_bps"]),
            rx_bytes=0,
            tx_bytes=0,
        )
        for i in d.get("interfaces", ())
        if i["interface"] != "lo"
    )
    interval = 0.0
    if ctx.time is not None and ctx.last_network is not None:
        interval = round((ctx.time - ctx.last_network).total_seconds(), 3)
    ctx.last_network = ctx.time
    return NetworkUsageUpdated(
        interval=interval,
        rx_bytes_per_s=sum(i.rx_bytes_per_s or 0.0 for i in interfaces),
        tx_bytes_per_s=sum(i.tx_bytes_per_s or 0.0 for i in interfaces),
        interfaces=interfaces,
    )


def _identity(d: Mapping[str, Any], _: _Context) -> Message:
    return SystemIdentityEvent(
        hostname=d.get("hostname"),
        model=d.get("model"),
        serial=d.get("serial"),
        serial_source=None,
        os=None,
        kernel=None,
        architecture=None,
        python="",
        boot_time=None,
    )


def _version(cls: type[RuntimeBooting] | type[RuntimeBooted] | type[FrameworkBooted]) -> _Converter:
    return lambda d, _: cls(version=str(d["version"]))


TELEMETRY_TYPES: Mapping[str, _Converter] = {
    _STATS + "MemoryUsageUpdate": _memory,
    _STATS + "CPUUsageUpdate": _cpu,
    _STATS + "LoadAverageUpdate": _load,
    _STATS + "DiskUsageUpdate": _disk,
    _STATS + "SystemTemperatureUpdate": _temperature,
    _STATS + "NetworkUsageUpdate": _network,
}
"""The 0.22 telemetry types: every one of them converts."""

LEGACY_TYPES: Mapping[str, _Converter] = {
    **TELEMETRY_TYPES,
    "bussdcc_framework.message.system:SystemIdentityEvent": _identity,
    "bussdcc.message.runtime:RuntimeBooting": _version(RuntimeBooting),
    "bussdcc.message.runtime:RuntimeBooted": _version(RuntimeBooted),
    "bussdcc_framework.message.framework:FrameworkBooted": _version(FrameworkBooted),
    "bussdcc.message.process:ProcessStarted": lambda d, _: ProcessStarted(process=d["process"]),
    "bussdcc.message.service:ServiceStarted": lambda d, _: ServiceStarted(service=d["service"]),
    "bussdcc.message.interface:InterfaceStarted": lambda d, _: InterfaceStarted(
        interface=d["interface"]
    ),
}
"""Every 0.22 type read; anything else in a 0.22 file is skipped and counted."""


def convert_line(record: Mapping[str, Any], ctx: _Context | None = None) -> Event[Message] | None:
    """Today's event for one decoded 0.22 line, or None if its type is not in the table.

    Raises ``KeyError``/``TypeError``/``ValueError`` for a line of a known type whose fields
    are missing or malformed.
    """
    convert = LEGACY_TYPES.get(record.get("type", ""))
    if convert is None:
        return None
    ctx = ctx or _Context()
    time = datetime.fromisoformat(record["time"])
    ctx.time = time
    return Event(time=time, payload=convert(record["data"], ctx))


def _is_legacy(path: Path) -> bool:
    with open(path, "rb") as file:
        head = file.readline(1 << 20)
    try:
        record = json.loads(head)
    except ValueError:
        return False
    return isinstance(record, dict) and "type" in record and "name" not in record


class HistorySource:
    """Events from a history folder (or one file) of 0.22 and/or 0.23 segments, in file order.

    A file whose first line is a 0.22 record is read through `LEGACY_TYPES`; any other file
    through `JsonlSource`. ``read`` counts the events yielded, ``legacy`` those converted from
    0.22 lines, ``skipped`` the lines that could not be used (unknown 0.22 types included);
    all reset when iteration starts. Raises ``FileNotFoundError`` if ``path`` does not exist.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.read = 0
        self.legacy = 0
        self.skipped = 0
        self.skipped_types: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"HistorySource({str(self.path)!r})"

    def files(self) -> list[Path]:
        return JsonlSource(self.path).files()

    def __iter__(self) -> Iterator[Event[Message]]:
        self.read = self.legacy = self.skipped = 0
        self.skipped_types = {}
        ctx = _Context()
        for path in self.files():
            try:
                legacy = _is_legacy(path)
            except OSError as exc:
                logger.warning("skipped %s: %s", path, exc)
                self.skipped += 1
                continue
            if legacy:
                events = self._read_legacy(path, ctx)
            else:
                source = JsonlSource(path)
                events = self._counted(source)
            for evt in events:
                self.read += 1
                yield evt

    def _counted(self, source: JsonlSource) -> Iterator[Event[Message]]:
        yield from source
        self.skipped += source.skipped

    def _read_legacy(self, path: Path, ctx: _Context) -> Iterator[Event[Message]]:
        with open(path, "rb") as file:
            for line_no, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    evt = convert_line(record, ctx)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    self.skipped += 1
                    logger.warning("skipped %s line %d: %s", path, line_no, exc)
                    continue
                if evt is None:
                    self.skipped += 1
                    kind = str(record.get("type"))
                    self.skipped_types[kind] = self.skipped_types.get(kind, 0) + 1
                    continue
                self.legacy += 1
                yield evt
