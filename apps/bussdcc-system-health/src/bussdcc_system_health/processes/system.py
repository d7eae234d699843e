"""`SystemProcess`: projects telemetry events into state, with bounded histories for charts."""

from __future__ import annotations

from typing import Any

from bussdcc.component import Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import to_plain
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.service import IDENTITY_STATE, identity_record

from ..message import (
    CpuUsageUpdated,
    DiskIoUpdated,
    DiskUsageUpdated,
    FanSpeedUpdated,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    StorageWearUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..telemetry.history import DEFAULT_HISTORY_LIMIT, ColumnHistory
from ..validation import positive_int

__all__ = [
    "CPU_HISTORY",
    "DISK_IO_HISTORY",
    "NETWORK_HISTORY",
    "STATE_PATHS",
    "SystemProcess",
    "cpu_history",
    "network_history",
    "record_sample",
]

STATE_PATHS: dict[type[Message], str] = {
    CpuUsageUpdated: "system.cpu.usage",
    MemoryUsageUpdated: "system.memory.usage",
    DiskUsageUpdated: "system.disk.usage",
    LoadAverageUpdated: "system.load",
    TemperatureUpdated: "system.temperature",
    NetworkUsageUpdated: "system.network.usage",
    ThrottlingUpdated: "system.throttling",
    DiskIoUpdated: "system.disk.io",
    StorageWearUpdated: "system.storage.wear",
    FanSpeedUpdated: "system.fans",
}
"""Where each telemetry message's latest value lives in state."""

CPU_HISTORY = "system.history.cpu"
NETWORK_HISTORY = "system.history.network"
DISK_IO_HISTORY = "system.history.disk_io"
CPU_COLUMNS = ("t", "user", "system", "iowait", "total")
NETWORK_COLUMNS = ("t", "rx", "tx")
DISK_IO_COLUMNS = ("t", "read", "write")


def cpu_history(limit: int = DEFAULT_HISTORY_LIMIT) -> ColumnHistory:
    """An empty CPU history as `SystemProcess` keeps it (``system.history.cpu``)."""
    return ColumnHistory(CPU_COLUMNS, limit)


def network_history(limit: int = DEFAULT_HISTORY_LIMIT) -> ColumnHistory:
    """An empty network history as `SystemProcess` keeps it (``system.history.network``)."""
    return ColumnHistory(NETWORK_COLUMNS, limit, group="interfaces", group_columns=("rx", "tx"))


def record_sample(
    payload: Message, time: str, cpu: ColumnHistory, network: ColumnHistory
) -> ColumnHistory | None:
    """Append ``payload``'s sample (taken at ISO-8601 ``time``) to the history it belongs to
    and return that history; None (nothing appended) for a message with no history."""
    if isinstance(payload, CpuUsageUpdated):
        cpu.append(
            {
                "t": time,
                "user": payload.user,
                "system": payload.system,
                "iowait": payload.iowait,
                "total": payload.busy,
            }
        )
        return cpu
    if isinstance(payload, NetworkUsageUpdated):
        network.append(
            {"t": time, "rx": payload.rx_bytes_per_s, "tx": payload.tx_bytes_per_s},
            {
                i.interface: {"rx": i.rx_bytes_per_s, "tx": i.tx_bytes_per_s}
                for i in payload.interfaces
            },
        )
        return network
    return None


class SystemProcess(Process):
    """Keeps the latest of each telemetry message in state, plus CPU, network and disk I/O history.

    Each message is stored at its `STATE_PATHS` entry as ``msg.to_dict()`` plus ``time``
    (the event's ISO-8601 UTC time); a non-finite float, which JSON cannot carry, is stored
    as None, as the wire writes it. Histories hold the newest ``history_limit`` samples,
    oldest first, as columns of equal length (see `ColumnHistory`):

    * ``system.history.cpu``: ``{"t", "user", "system", "iowait", "total"}`` where
      ``total`` is the busy percentage;
    * ``system.history.network``: ``{"t", "rx", "tx", "interfaces": {name: {"rx", "tx"}}}``
      in bytes per second (None where a rate is unknown or the interface was absent);
    * ``system.history.disk_io``: ``{"t", "read", "write", "devices": {name: {"read",
      "write", "busy"}}}``, bytes per second and busy percent, alike.

    ``system.identity`` events are stored at ``system.identity`` the way the identity
    service stores them. Everything derives from the events alone, so a replay rebuilds the
    same state.

    Raises:
        TypeError: if ``history_limit`` is not an int.
        ValueError: if ``history_limit`` is less than 1.
    """

    name = "system"
    subscriptions = (*STATE_PATHS, SystemIdentityEvent)

    def __init__(self, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self.history_limit = positive_int(history_limit, "history_limit")
        self._cpu = cpu_history(history_limit)
        self._network = network_history(history_limit)
        self._disk_io = ColumnHistory(
            DISK_IO_COLUMNS,
            history_limit,
            group="devices",
            group_columns=("read", "write", "busy"),
        )
        self._seeded = False

    def start(self, ctx: ContextProtocol) -> None:
        # A new run (or a restart) continues from whatever history its state holds.
        self._seeded = False

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        payload = evt.payload
        if isinstance(payload, SystemIdentityEvent):
            # Live, the identity service stores this itself; in a replay only we can.
            ctx.state.set(IDENTITY_STATE, identity_record(payload))
            return
        path = STATE_PATHS.get(type(payload))
        if path is None:
            return
        time = evt.time.isoformat()
        # The wire's plain form: for these messages (numbers, strings, tuples of records)
        # the same as ``to_dict()``, built by msgspec at a tenth of the cost, every event.
        record = to_plain(payload)
        record["time"] = time
        ctx.state.set(path, record)
        if not self._seeded:
            self._cpu.seed(ctx.state.get(CPU_HISTORY))
            self._network.seed(ctx.state.get(NETWORK_HISTORY))
            self._disk_io.seed(ctx.state.get(DISK_IO_HISTORY))
            self._seeded = True
        history = record_sample(payload, time, self._cpu, self._network)
        if history is self._cpu:
            ctx.state.set(CPU_HISTORY, history.record())
        elif history is self._network:
            ctx.state.set(NETWORK_HISTORY, history.record())
        elif isinstance(payload, DiskIoUpdated):
            self._disk_io.append(
                {"t": time, "read": payload.read_bytes_per_s, "write": payload.write_bytes_per_s},
                {
                    d.device: {
                        "read": d.read_bytes_per_s,
                        "write": d.write_bytes_per_s,
                        "busy": d.busy,
                    }
                    for d in payload.devices
                },
            )
            ctx.state.set(DISK_IO_HISTORY, self._disk_io.record())
