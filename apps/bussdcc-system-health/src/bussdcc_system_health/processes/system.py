"""`SystemProcess`: projects telemetry events into state, with bounded histories for charts."""

from __future__ import annotations

from collections import deque
from typing import Any

from bussdcc.component import Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.service import IDENTITY_STATE, identity_record

from ..message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..telemetry.history import DEFAULT_HISTORY_LIMIT, append_bounded

__all__ = ["CPU_HISTORY", "NETWORK_HISTORY", "STATE_PATHS", "SystemProcess"]

STATE_PATHS: dict[type[Message], str] = {
    CpuUsageUpdated: "system.cpu.usage",
    MemoryUsageUpdated: "system.memory.usage",
    DiskUsageUpdated: "system.disk.usage",
    LoadAverageUpdated: "system.load",
    TemperatureUpdated: "system.temperature",
    NetworkUsageUpdated: "system.network.usage",
    ThrottlingUpdated: "system.throttling",
}
"""Where each telemetry message's latest value lives in state."""

CPU_HISTORY = "system.history.cpu"
NETWORK_HISTORY = "system.history.network"


class SystemProcess(Process):
    """Keeps the latest of each telemetry message in state, plus CPU and network history.

    Each message is stored at its `STATE_PATHS` entry as ``msg.to_dict()`` plus ``time``
    (the event's ISO-8601 UTC time). Histories hold the newest ``history_limit`` samples,
    oldest first:

    * ``system.history.cpu``: ``{"t", "user", "system", "iowait", "total"}`` where
      ``total`` is the busy percentage;
    * ``system.history.network``: ``{"t", "rx", "tx", "interfaces": {name: {"rx", "tx"}}}``
      in bytes per second (None where a rate is unknown).

    ``system.identity`` events are stored at ``system.identity`` the way the identity
    service stores them. Everything derives from the events alone, so a replay rebuilds the
    same state.

    Raises:
        ValueError: if ``history_limit`` is not a positive int.
    """

    name = "system"
    subscriptions = (*STATE_PATHS, SystemIdentityEvent)

    def __init__(self, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            raise ValueError(f"history_limit must be a positive int, got {history_limit!r}")
        if history_limit < 1:
            raise ValueError(f"history_limit must be a positive int, got {history_limit!r}")
        self.history_limit = history_limit
        self._histories: dict[str, deque[dict[str, Any]]] = {}

    def start(self, ctx: ContextProtocol) -> None:
        # A new run (or a restart) continues from whatever history its state holds.
        self._histories.clear()

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
        record = payload.to_dict()
        record["time"] = time
        ctx.state.set(path, record)
        if isinstance(payload, CpuUsageUpdated):
            self._append(ctx, CPU_HISTORY, _cpu_sample(payload, time))
        elif isinstance(payload, NetworkUsageUpdated):
            self._append(ctx, NETWORK_HISTORY, _network_sample(payload, time))

    def _append(self, ctx: ContextProtocol, path: str, sample: dict[str, Any]) -> None:
        # The history is kept here and written whole: `StateStore.update` would copy the
        # whole list three times per sample (in, stored, returned), a few ms per tick.
        history = self._histories.get(path)
        if history is None:
            # Seeded from state on first use, so history already in state is kept.
            history = self._histories[path] = deque(
                append_bounded(ctx.state.get(path), sample, self.history_limit),
                maxlen=self.history_limit,
            )
        else:
            history.append(sample)
        ctx.state.set(path, list(history))


def _cpu_sample(msg: CpuUsageUpdated, time: str) -> dict[str, Any]:
    return {
        "t": time,
        "user": msg.user,
        "system": msg.system,
        "iowait": msg.iowait,
        "total": msg.busy,
    }


def _network_sample(msg: NetworkUsageUpdated, time: str) -> dict[str, Any]:
    return {
        "t": time,
        "rx": msg.rx_bytes_per_s,
        "tx": msg.tx_bytes_per_s,
        "interfaces": {
            i.interface: {"rx": i.rx_bytes_per_s, "tx": i.tx_bytes_per_s} for i in msg.interfaces
        },
    }
