"""`FleetProcess`: every node's one-line summary, kept from remote events, and its projection
built on demand.

Pure bus logic, no I/O: the hub feeds it `RemoteEvent` and `NodeStatusChanged` from
`MqttSource` (live) or from its own recorded history (replay), and `NodeSilent` from
`FleetWatch`. What it keeps, per node, at a cost per event of a few dictionary writes:

* a summary row (`NodeRow`): status, last seen, CPU, memory, fullest disk, hottest sensor,
  throttling, the node's latest ``seq`` and how many of its events arrived -- what
  ``GET /api/nodes`` and the fleet table show. Health is judged (`evaluate_health`, the
  function the node's own `HealthProcess` uses, by the hub's thresholds) when a row is read,
  not per event, and the worst-first order is sorted only when a status changed;
* the latest event of each kind and the CPU and network chart histories, from which a
  `NodeProjection` (the node's own state through the app's `SystemProcess` and
  `HealthProcess`, for its page on the hub) is built when someone asks for it, fed live while
  it exists, and dropped again once it has been unused for `PROJECTION_IDLE` seconds;
* which rows changed since `take_changes` was last called (what the fleet page is sent).

A node is ``offline`` when its last will (or clean stop) says so, or when nothing came from
it for more than three of its intervals (`FleetWatch` emits `NodeSilent`); the next event
from it brings it back. Otherwise its status is its health (``ok``/``warning``/``critical``),
``unknown`` before the first telemetry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    NetworkUsageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..processes import CPU_HISTORY, HEALTH_STATE, NETWORK_HISTORY, STATE_PATHS
from ..processes.system import cpu_history, network_history, record_sample
from ..telemetry.health import (
    HealthAssessment,
    HealthThresholds,
    LatestTelemetry,
    evaluate_health,
    take_reading,
)
from ..telemetry.history import DEFAULT_HISTORY_LIMIT
from .projection import NodeProjection

if TYPE_CHECKING:
    from bussdcc.context import ContextProtocol

__all__ = [
    "PROJECTION_IDLE",
    "SILENT_INTERVALS",
    "STATUS_RANK",
    "FleetChanges",
    "FleetProcess",
    "NodeRow",
    "NodeSilent",
]

SILENT_INTERVALS = 3
"""A node silent for more than this many of its intervals is offline."""

PROJECTION_IDLE = 30.0
"""Seconds a node projection nobody listens to is kept after it was last asked for."""

STATUS_RANK = {"critical": 0, "offline": 1, "warning": 2, "unknown": 3, "ok": 4}
"""Worst first: a critical node needs someone now, an offline one may be down or cut off."""


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
    events: int = 0
    """How many of the node's events the hub received (duplicates not counted)."""
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
            "events": self.events,
            "sent": self.sent.isoformat() if self.sent else None,
        }


def _sort_key(row: NodeRow) -> tuple[int, str]:
    return STATUS_RANK.get(row.status, 3), row.node


@dataclass(frozen=True, slots=True)
class FleetChanges:
    """What changed since the previous `FleetProcess.take_changes`."""

    rows: list[dict[str, Any]]
    """The records of the rows that changed (health judged), in no particular order."""
    order: list[str] | None
    """Every node, worst first, when the order changed (else None)."""


class _Node:
    """Everything the fleet keeps of one node (guarded by the fleet's lock)."""

    __slots__ = (
        "assessment",
        "cpu",
        "demanded",
        "latest",
        "network",
        "pending",
        "projection",
        "row",
        "stale",
        "telemetry",
    )

    def __init__(self, row: NodeRow, history_limit: int) -> None:
        self.row = row
        self.latest: dict[type[Message], Event[Message]] = {}
        """The latest event of each kind, in arrival order (re-inserted on arrival)."""
        self.telemetry: dict[str, Any] = {}
        """What health is judged from: `LatestTelemetry`'s fields (see `take_reading`)."""
        self.assessment: HealthAssessment | None = None
        self.stale = False
        """Whether telemetry arrived since health was last judged."""
        # The chart histories run one sample behind: the latest CPU and network events are
        # in `latest`, and a projection built from both gets every sample exactly once.
        self.cpu = cpu_history(history_limit)
        self.network = network_history(history_limit)
        self.pending: dict[type[Message], Event[Message]] = {}
        self.projection: NodeProjection | None = None
        self.demanded = 0.0


class FleetProcess(Process):
    """Keeps every node's summary row, and its projection on demand (see the module
    docstring).

    ``interval`` is the sampling interval assumed for a node until two of its CPU samples
    show its own. ``on_push`` receives each projected node's pushed events (for node
    pages); ``on_change`` is called (on the bus thread, so it must be quick) whenever a row
    changed, to wake whoever calls `take_changes`. ``history_limit`` is the length of the
    chart histories kept per node (the node page's charts).

    Thread-safe readers: `rows`, `row`, `projection`, `projections`, `readers`,
    `take_changes`, `silent_nodes`, `release_idle`.
    """

    name = "fleet"
    subscriptions = (RemoteEvent, NodeStatusChanged, NodeSilent)

    def __init__(
        self,
        *,
        interval: float = 1.0,
        thresholds: HealthThresholds | None = None,
        on_push: Callable[[NodeProjection, Pending], None] | None = None,
        on_change: Callable[[], None] | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
    ) -> None:
        self.interval = interval
        self.thresholds = thresholds or HealthThresholds()
        self.on_push = on_push
        self.on_change = on_change
        self.history_limit = history_limit
        self._nodes: dict[str, _Node] = {}
        self._order: list[str] = []
        self._order_stale = False
        self._order_sent: list[str] | None = None
        self._changed: dict[str, None] = {}
        # Re-entrant: a projection fed under the lock may call on_push, which may read.
        self._lock = threading.RLock()
        self._ctx: ContextProtocol | None = None

    # -- readers (any thread) --------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Every node's record, worst first."""
        with self._lock:
            return [self._nodes[name].row.record() for name in self._ordered()]

    def row(self, node: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._nodes.get(node)
            if entry is None:
                return None
            self._judge(entry)
            return entry.row.record()

    def take_changes(self) -> FleetChanges:
        """The rows changed since the previous call, and the order if it changed."""
        with self._lock:
            changed, self._changed = self._changed, {}
            rows = []
            for name in changed:
                entry = self._nodes.get(name)
                if entry is not None:
                    self._judge(entry)
                    rows.append(entry.row.record())
            order = self._ordered()
            if order == self._order_sent:
                return FleetChanges(rows, None)
            self._order_sent = list(order)
            return FleetChanges(rows, list(order))

    def projection(self, node: str, *, build: bool = True) -> NodeProjection | None:
        """The node's projection (its state as its own dashboard has it), built now from
        what the fleet kept if there is none (unless ``build`` is False); None for a node
        never heard of."""
        with self._lock:
            entry = self._nodes.get(node)
            if entry is None or self._ctx is None:
                return None
            if entry.projection is None:
                if not build:
                    return None
                entry.projection = self._build(node, entry)
            entry.demanded = self._ctx.clock.monotonic()
            return entry.projection

    def projections(self) -> list[tuple[str, NodeProjection]]:
        """The projections that exist now, by node name (none is built)."""
        with self._lock:
            return sorted(
                (name, e.projection) for name, e in self._nodes.items() if e.projection is not None
            )

    def readers(self) -> list[tuple[str, Callable[[str], Any]]]:
        """Per node, by name, a reader of its latest telemetry records by state path (the
        `STATE_PATHS` records and ``system.health`` as the node's own state would hold
        them), without building projections: what ``/metrics`` reports."""
        with self._lock:
            result: list[tuple[str, Callable[[str], Any]]] = []
            for name in sorted(self._nodes):
                entry = self._nodes[name]
                self._judge(entry)
                records: dict[str, Any] = {}
                for cls, evt in entry.latest.items():
                    path = STATE_PATHS.get(cls)
                    if path is not None:
                        records[path] = {**evt.payload.to_dict(), "time": evt.time.isoformat()}
                if entry.assessment is not None:
                    records[HEALTH_STATE] = {
                        "status": entry.assessment.status,
                        "reasons": list(entry.assessment.reasons),
                        "notes": list(entry.assessment.notes),
                    }
                result.append((name, records.get))
            return result

    def silent_nodes(self, now: datetime) -> list[tuple[str, datetime]]:
        """Nodes heard of, not yet silent, whose last event is older than three intervals."""
        with self._lock:
            return [
                (e.row.node, e.row.last_seen)
                for e in self._nodes.values()
                if not e.row.silent
                and e.row.last_seen is not None
                and now - e.row.last_seen > timedelta(seconds=SILENT_INTERVALS * e.row.interval)
            ]

    def release_idle(self) -> list[str]:
        """Drop the projections nobody listens to and nobody asked for in the last
        `PROJECTION_IDLE` seconds (they are built again on demand); returns their nodes."""
        with self._lock:
            if self._ctx is None:
                return []
            now = self._ctx.clock.monotonic()
            released = []
            for name, entry in self._nodes.items():
                projection = entry.projection
                if (
                    projection is not None
                    and not projection.listening
                    and now - entry.demanded > PROJECTION_IDLE
                ):
                    entry.projection = None
                    released.append(name)
            return released

    # -- the bus ---------------------------------------------------------------------------------

    def start(self, ctx: ContextProtocol) -> None:
        with self._lock:
            self._ctx = ctx
            self._nodes.clear()
            self._order = []
            self._order_stale = False
            self._order_sent = None
            self._changed = {}

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        payload = evt.payload
        if isinstance(payload, RemoteEvent):
            # The event's own time is when the hub received it (its bus stamped it then):
            # no second clock read per remote event.
            self._remote(payload, evt.time)
            return
        with self._lock:
            entry = self._entry(payload.node)
            row = entry.row
            if isinstance(payload, NodeStatusChanged):
                row.will = payload.status
                if payload.status == "online":
                    row.silent = False
            elif isinstance(payload, NodeSilent):
                row.silent = True
            self._order_stale = True
            self._changed[payload.node] = None
        if self.on_change is not None:
            self.on_change()

    def _entry(self, node: str) -> _Node:
        entry = self._nodes.get(node)
        if entry is None:
            entry = self._nodes[node] = _Node(
                NodeRow(node, interval=self.interval), self.history_limit
            )
            self._order_stale = True
        return entry

    def _remote(self, remote: RemoteEvent, now: datetime) -> None:
        remote_evt = remote.event
        payload = remote_evt.payload
        cls = type(payload)
        with self._lock:
            entry = self._entry(remote.node)
            row = entry.row
            if row.silent:
                self._order_stale = True
            row.last_seen = now
            row.silent = False
            row.seq = remote_evt.seq
            row.sent = remote_evt.time
            row.events += 1
            latest = entry.latest
            latest.pop(cls, None)  # re-inserted last: the dict keeps arrival order
            latest[cls] = remote_evt
            if take_reading(entry.telemetry, payload, remote_evt.time, self.thresholds):
                entry.stale = True
                summarise = _SUMMARISE.get(cls)
                if summarise is not None:
                    summarise(row, payload)
                if cls is CpuUsageUpdated:
                    if row._cpu_time is not None:
                        gap = (remote_evt.time - row._cpu_time).total_seconds()
                        if 0.05 <= gap <= 3600:
                            row.interval = gap
                    row._cpu_time = remote_evt.time
            previous = entry.pending.pop(cls, None)
            if previous is not None:
                record_sample(previous.payload, previous.time.isoformat(), entry.cpu, entry.network)
            if cls in _CHARTED:
                entry.pending[cls] = remote_evt
            self._changed[remote.node] = None
            if entry.projection is not None:
                entry.projection.feed(payload, remote_evt.time)
        if self.on_change is not None:
            self.on_change()

    # -- under the lock ----------------------------------------------------------------------------

    def _judge(self, entry: _Node) -> None:
        """Judge the node's health if telemetry arrived since the last time."""
        if not entry.stale:
            return
        entry.stale = False
        assessment = evaluate_health(LatestTelemetry(**entry.telemetry), self.thresholds)
        entry.assessment = assessment
        row = entry.row
        if row.health != assessment.status:
            self._order_stale = True
        row.health = assessment.status
        row.reasons = assessment.reasons

    def _ordered(self) -> list[str]:
        for entry in self._nodes.values():
            self._judge(entry)
        if self._order_stale or len(self._order) != len(self._nodes):
            self._order = [
                r.node for r in sorted((e.row for e in self._nodes.values()), key=_sort_key)
            ]
            self._order_stale = False
        return self._order

    def _build(self, node: str, entry: _Node) -> NodeProjection:
        """A projection of ``node`` from the kept histories and latest events."""
        ctx = self._ctx
        assert ctx is not None
        projection = NodeProjection(
            node,
            ctx.clock,
            ctx.runtime,
            thresholds=self.thresholds,
            on_push=self.on_push,
            history_limit=self.history_limit,
        )
        # The histories as the node's SystemProcess would have them before its latest CPU
        # and network samples; it continues from them (it seeds from state at its first
        # event) and appends those samples when the latest events are fed below.
        projection.state.set(CPU_HISTORY, entry.cpu.record())
        projection.state.set(NETWORK_HISTORY, entry.network.record())
        for evt in entry.latest.values():
            projection.feed(evt.payload, evt.time)
        return projection


_CHARTED: frozenset[type[Message]] = frozenset({CpuUsageUpdated, NetworkUsageUpdated})
"""The messages whose samples make the chart histories."""


def _summarise_cpu(row: NodeRow, payload: CpuUsageUpdated) -> None:
    row.cpu = payload.busy


def _summarise_memory(row: NodeRow, payload: MemoryUsageUpdated) -> None:
    row.memory = payload.percent


def _summarise_disk(row: NodeRow, payload: DiskUsageUpdated) -> None:
    fullest = max(payload.filesystems, key=lambda fs: fs.percent, default=None)
    row.disk = fullest.percent if fullest else None
    row.disk_mountpoint = fullest.mountpoint if fullest else None


def _summarise_load(row: NodeRow, payload: LoadAverageUpdated) -> None:
    row.load1 = payload.load1


def _summarise_temperature(row: NodeRow, payload: TemperatureUpdated) -> None:
    row.temperature = max((s.current for s in payload.sensors), default=None)


def _summarise_throttling(row: NodeRow, payload: ThrottlingUpdated) -> None:
    row.throttled = None if payload.now is None else payload.now.throttled
    row.under_voltage = None if payload.now is None else payload.now.under_voltage


_SUMMARISE: dict[type[Message], Callable[[NodeRow, Any], None]] = {
    CpuUsageUpdated: _summarise_cpu,
    MemoryUsageUpdated: _summarise_memory,
    DiskUsageUpdated: _summarise_disk,
    LoadAverageUpdated: _summarise_load,
    TemperatureUpdated: _summarise_temperature,
    ThrottlingUpdated: _summarise_throttling,
}
"""What a health message sets in a row, if anything (found by exact
class, one lookup per event rather than a chain of isinstance tests)."""
