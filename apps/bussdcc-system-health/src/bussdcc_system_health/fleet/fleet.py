"""`FleetProcess`: every node's projection and its one-line summary, kept from remote events.

Pure bus logic, no I/O: the hub feeds it `RemoteEvent` and `NodeStatusChanged` from
`MqttSource` (live) or from its own recorded history (replay), and `NodeSilent` from
`FleetWatch`. What it keeps:

* a `NodeProjection` per node (the node's own state, through the app's processes);
* a summary row per node (`NodeRow`): status, last seen, CPU, memory, fullest disk, hottest
  sensor, throttling -- what ``GET /api/nodes`` and the fleet table show;
* hub state ``fleet.row`` (the row that changed last) and ``fleet.order`` (node names,
  worst first), which the fleet page's views are rendered from.

A node is ``offline`` when its last will (or clean stop) says so, or when nothing came from
it for more than three of its intervals (`FleetWatch` emits `NodeSilent`); the next event
from it brings it back. Otherwise its status is its health (``ok``/``warning``/``critical``,
as the hub's `HealthProcess` for that node judges it), ``unknown`` before the first verdict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bussdcc.component import Process
from bussdcc.event import Event
from bussdcc.message import Message, Severity
from bussdcc_framework.interface.push import Pending
from bussdcc_framework.mqtt import NodeStatusChanged, RemoteEvent

from ..message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..processes import HEALTH_STATE
from ..telemetry.health import HealthThresholds
from .projection import NodeProjection

if TYPE_CHECKING:
    from collections.abc import Callable

    from bussdcc.context import ContextProtocol

__all__ = [
    "FLEET_ORDER",
    "FLEET_ROW",
    "SILENT_INTERVALS",
    "STATUS_RANK",
    "FleetProcess",
    "NodeRow",
    "NodeSilent",
]

FLEET_ROW = "fleet.row"
FLEET_ORDER = "fleet.order"
SILENT_INTERVALS = 3
"""A node silent for more than this many of its intervals is offline."""

STATUS_RANK = {"critical": 0, "offline": 1, "warning": 2, "unknown": 3, "ok": 4}
"""Worst first: a critical node needs someone now, an offline one may be down or cut off."""

_SUMMARISED = (
    CpuUsageUpdated,
    MemoryUsageUpdated,
    DiskUsageUpdated,
    LoadAverageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)


@dataclass(slots=True, frozen=True)
class NodeSilent(Message):
    """Nothing came from ``node`` since ``last_seen`` (hub time), more than three of its
    intervals: the hub shows it offline until it is heard again."""

    name = "fleet.node.silent"
    severity = Severity.WARNING
    node: str
    last_seen: datetime


@dataclass(slots=True)
class NodeRow:
    """One node at a glance (the values of ``GET /api/nodes``)."""

    node: str
    health: str = "unknown"
    reasons: tuple[str, ...] = ()
    will: str = "unknown"
    """The retained status topic: ``online``, ``offline`` or ``unknown``."""
    silent: bool = False
    last_seen: datetime | None = None
    interval: float = 1.0
    cpu: float | None = None
    memory: float | None = None
    disk: float | None = None
    disk_mountpoint: str | None = None
    temperature: float | None = None
    load1: float | None = None
    throttled: bool | None = None
    under_voltage: bool | None = None
    seq: int = 0
    """The ``seq`` of the node's latest event (the node's own numbering)."""
    sent: datetime | None = None
    """The node's time of its latest event."""
    _cpu_time: datetime | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        if self.will == "offline" or self.silent:
            return "offline"
        return self.health

    def record(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "status": self.status,
            "health": self.health,
            "reasons": list(self.reasons),
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "cpu": self.cpu,
            "memory": self.memory,
            "disk": self.disk,
            "disk_mountpoint": self.disk_mountpoint,
            "temperature": self.temperature,
            "load1": self.load1,
            "throttled": self.throttled,
            "under_voltage": self.under_voltage,
            "seq": self.seq,
            "sent": self.sent.isoformat() if self.sent else None,
        }


def _sort_key(row: NodeRow) -> tuple[int, str]:
    return STATUS_RANK.get(row.status, 3), row.node


class FleetProcess(Process):
    """Keeps every node's projection and summary row (see the module docstring).

    ``interval`` is the sampling interval assumed for a node until two of its CPU samples
    show its own. ``on_push`` receives each node's pushed events (for node pages).
    Thread-safe readers: `rows`, `row`, `projection`, `nodes`.
    """

    name = "fleet"
    subscriptions = (RemoteEvent, NodeStatusChanged, NodeSilent)

    def __init__(
        self,
        *,
        interval: float = 1.0,
        thresholds: HealthThresholds | None = None,
        on_push: Callable[[NodeProjection, Pending], None] | None = None,
    ) -> None:
        self.interval = interval
        self.thresholds = thresholds or HealthThresholds()
        self.on_push = on_push
        self._rows: dict[str, NodeRow] = {}
        self._projections: dict[str, NodeProjection] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()

    # -- readers (any thread) --------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Every node's record, worst first."""
        with self._lock:
            return [self._rows[name].record() for name in self._order]

    def row(self, node: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows.get(node)
            return None if row is None else row.record()

    def projection(self, node: str) -> NodeProjection | None:
        with self._lock:
            return self._projections.get(node)

    def nodes(self) -> list[tuple[str, NodeProjection]]:
        with self._lock:
            return sorted(self._projections.items())

    def silent_nodes(self, now: datetime) -> list[tuple[str, datetime]]:
        """Nodes heard of, not yet silent, whose last event is older than three intervals."""
        with self._lock:
            return [
                (row.node, row.last_seen)
                for row in self._rows.values()
                if not row.silent
                and row.last_seen is not None
                and now - row.last_seen > timedelta(seconds=SILENT_INTERVALS * row.interval)
            ]

    # -- the bus ---------------------------------------------------------------------------------

    def start(self, ctx: ContextProtocol) -> None:
        with self._lock:
            self._rows.clear()
            self._projections.clear()
            self._order = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        payload = evt.payload
        if isinstance(payload, RemoteEvent):
            self._remote(ctx, payload)
        elif isinstance(payload, NodeStatusChanged):
            row = self._row(ctx, payload.node)
            row.will = payload.status
            if payload.status == "online":
                row.silent = False
            self._changed(ctx, row)
        elif isinstance(payload, NodeSilent):
            row = self._row(ctx, payload.node)
            row.silent = True
            self._changed(ctx, row)

    def _row(self, ctx: ContextProtocol, node: str) -> NodeRow:
        row = self._rows.get(node)
        if row is None:
            projection = NodeProjection(
                node,
                ctx.clock,
                ctx.runtime,
                thresholds=self.thresholds,
                on_push=self.on_push,
            )
            row = NodeRow(node, interval=self.interval)
            with self._lock:
                self._rows[node] = row
                self._projections[node] = projection
        return row

    def _remote(self, ctx: ContextProtocol, remote: RemoteEvent) -> None:
        row = self._row(ctx, remote.node)
        remote_evt = remote.event
        payload = remote_evt.payload
        projection = self._projections[remote.node]
        projection.feed(payload, remote_evt.time)
        with self._lock:
            row.last_seen = ctx.clock.now_utc()
            row.silent = False
            row.seq = remote_evt.seq
            row.sent = remote_evt.time
            if isinstance(payload, CpuUsageUpdated):
                if row._cpu_time is not None:
                    gap = (remote_evt.time - row._cpu_time).total_seconds()
                    if 0.05 <= gap <= 3600:
                        row.interval = gap
                row._cpu_time = remote_evt.time
            if isinstance(payload, _SUMMARISED):
                _summarise(row, payload)
            health = projection.state.get(HEALTH_STATE)
            if isinstance(health, dict):
                row.health = health.get("status", "unknown")
                row.reasons = tuple(health.get("reasons", ()))
        self._changed(ctx, row)

    def _changed(self, ctx: ContextProtocol, row: NodeRow) -> None:
        with self._lock:
            order = [r.node for r in sorted(self._rows.values(), key=_sort_key)]
            reordered = order != self._order
            self._order = order
            record = row.record()
        if reordered:
            ctx.state.set(FLEET_ORDER, order)
        ctx.state.set(FLEET_ROW, record)


def _summarise(row: NodeRow, payload: Message) -> None:
    if isinstance(payload, CpuUsageUpdated):
        row.cpu = payload.busy
    elif isinstance(payload, MemoryUsageUpdated):
        row.memory = payload.percent
    elif isinstance(payload, DiskUsageUpdated):
        fullest = max(payload.filesystems, key=lambda fs: fs.percent, default=None)
        row.disk = fullest.percent if fullest else None
        row.disk_mountpoint = fullest.mountpoint if fullest else None
    elif isinstance(payload, LoadAverageUpdated):
        row.load1 = payload.load1
    elif isinstance(payload, TemperatureUpdated):
        row.temperature = max((s.current for s in payload.sensors), default=None)
    elif isinstance(payload, ThrottlingUpdated):
        row.throttled = None if payload.now is None else payload.now.throttled
        row.under_voltage = None if payload.now is None else payload.now.under_voltage
