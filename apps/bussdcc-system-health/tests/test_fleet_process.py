"""FleetProcess without a broker: rows kept per event, health judged when read, changes taken
once, and node projections built on demand equal to one fed every event from the start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bussdcc import ManualClock, Runtime
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.mqtt import NodeStatusChanged, RemoteEvent
from bussdcc_system_health.fleet.fleet import PROJECTION_IDLE, FleetProcess, NodeSilent
from bussdcc_system_health.fleet.projection import NodeProjection
from bussdcc_system_health.message import (
    CpuUsageUpdated,
    DiskIo,
    DiskIoUpdated,
    DiskUsageUpdated,
    Filesystem,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    StorageWear,
    StorageWearUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
    WearEstimate,
)
from bussdcc_system_health.processes import (
    CPU_HISTORY,
    HEALTH_STATE,
    NETWORK_HISTORY,
    STATE_PATHS,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def node_tick(n: int, busy: float | None = None) -> list[Message]:
    """A node's seven telemetry messages of second ``n`` (CPU busy ``10 + n`` unless given)."""
    cpu = 10.0 + n if busy is None else busy
    flags = ThrottleFlags(False, False, False, False)
    return [
        CpuUsageUpdated(cpu * 0.8, cpu * 0.2, 0.0, 100 - cpu, cpu),
        MemoryUsageUpdated(4 << 30, 3 << 30, 1 << 30, 25.0, 1 << 30, 0, 0.0),
        DiskUsageUpdated(
            (
                Filesystem("/", "/dev/root", "ext4", 32 << 30, 12 << 30, 20 << 30, 37.5),
                Filesystem("/boot", "/dev/mmcblk0p1", "vfat", 512 << 20, 64 << 20, 448 << 20, 12.5),
            )
        ),
        LoadAverageUpdated(0.4, 0.3, 0.2, 4, 0.1, 0.075, 0.05),
        TemperatureUpdated(True, (TemperatureSensor("cpu_thermal", "", 45.0 + n),)),
        NetworkUsageUpdated(
            1.0,
            2000.0 + n,
            1000.0,
            (
                InterfaceThroughput("eth0", 2000.0 + n, 1000.0, 10_000 + n, 5_000),
                # An interface that comes and goes: the chart's per-member columns.
                *((InterfaceThroughput("wlan0", 5.0, 1.0, n, n),) if n % 3 == 0 else ()),
            ),
        ),
        ThrottlingUpdated(True, 0, flags, flags, "/sys/get_throttled"),
    ]


class Rig:
    """A runtime on a ManualClock with a FleetProcess, fed remote events by hand."""

    def __init__(self, history_limit: int = 300) -> None:
        self.clock = ManualClock()
        self.rt = Runtime(clock=self.clock)
        self.changes = 0
        self.fleet = FleetProcess(history_limit=history_limit, on_change=self._changed)
        self.rt.register_process(self.fleet)
        self.rt.boot()
        self.seqs: dict[str, int] = {}

    def _changed(self) -> None:
        self.changes += 1

    def send(self, node: str, message: Message, at: datetime) -> Event[Message]:
        seq = self.seqs[node] = self.seqs.get(node, 0) + 1
        evt: Event[Message] = Event(at, message, seq)
        self.rt.emit(RemoteEvent(node=node, event=evt))
        return evt

    def tick(self, node: str, n: int, busy: float | None = None) -> list[Event[Message]]:
        """The node's seven telemetry messages of second ``n``."""
        at = START + timedelta(seconds=n)
        sent = [self.send(node, message, at) for message in node_tick(n, busy)]
        self.clock.advance(1.0)
        return sent


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    try:
        yield rig
    finally:
        rig.rt.shutdown()


def test_a_row_summarises_the_latest_telemetry_and_counts_the_events(rig: Rig) -> None:
    rig.tick("pi", 0)
    sent = rig.tick("pi", 1)
    row = rig.fleet.row("pi")
    assert row is not None
    assert row["seq"] == sent[-1].seq == 14
    assert row["events"] == 14
    assert row["status"] == "ok" and row["health"] == "ok"
    assert row["cpu"] == 11.0  # busy of the bench's tick 1
    assert row["disk"] == 37.5 and row["disk_mountpoint"] == "/"
    assert row["temperature"] == 46.0
    assert row["throttled"] is False and row["under_voltage"] is False
    assert rig.fleet.row("nobody") is None


def test_health_is_judged_by_the_hubs_thresholds_and_rows_sort_worst_first(rig: Rig) -> None:
    rig.tick("calm", 0)
    rig.tick("busy", 0, busy=99.0)
    rig.tick("gone", 0)
    rig.rt.emit(NodeStatusChanged(node="gone", status="offline"))
    rows = rig.fleet.rows()
    assert [(r["node"], r["status"]) for r in rows] == [
        ("busy", "critical"),
        ("gone", "offline"),
        ("calm", "ok"),
    ]
    assert rows[0]["reasons"] and "CPU" in rows[0]["reasons"][0]
    # Back with its status "online"; silence takes a node away until its next message.
    rig.rt.emit(NodeStatusChanged(node="gone", status="online"))
    assert rig.fleet.row("gone")["status"] == "ok"  # type: ignore[index]
    rig.rt.emit(NodeSilent(node="calm", last_seen=START))
    assert rig.fleet.row("calm")["status"] == "offline"  # type: ignore[index]
    rig.tick("calm", 1)
    assert rig.fleet.row("calm")["status"] == "ok"  # type: ignore[index]
    rig.rt.emit(NodeSilent(node="calm", last_seen=START))
    assert [r["node"] for r in rig.fleet.rows()] == ["busy", "calm", "gone"]


def test_the_hub_judges_flash_wear_and_a_sustained_busy_disk_as_the_node_does(rig: Rig) -> None:
    worn = WearEstimate(0x02, 10, 20)
    rig.tick("worn", 0)
    rig.send(
        "worn", StorageWearUpdated(True, (StorageWear("mmcblk0", worn, worn, "urgent", 3),)), START
    )
    busy_disk = DiskIoUpdated(2.0, 0.0, 1e6, (DiskIo("sda", 0.0, 1e6, 0.0, 10.0, 99.0, 0, 0),))
    rig.tick("copying", 0)
    for t in range(2, 300, 2):  # 99 % busy from 0 s to 298 s: not yet sustained
        rig.send("copying", busy_disk, START + timedelta(seconds=t))
    assert rig.fleet.row("copying")["status"] == "ok"  # type: ignore[index]
    rig.send("copying", busy_disk, START + timedelta(seconds=300))
    rows = {r["node"]: r for r in rig.fleet.rows()}
    assert rows["worn"]["status"] == "critical"
    assert rows["worn"]["reasons"] == ["mmcblk0 reserved blocks 90% used (pre-EOL urgent)"]
    assert rows["copying"]["status"] == "critical"
    assert rows["copying"]["reasons"] == ["disk sda busy 99.0% (critical at 98% sustained 300 s)"]


def test_changes_are_taken_once_and_the_order_only_when_it_changed(rig: Rig) -> None:
    rig.tick("a", 0)
    rig.tick("b", 0)
    first = rig.fleet.take_changes()
    assert sorted(r["node"] for r in first.rows) == ["a", "b"]
    assert first.order == ["a", "b"]
    assert rig.changes >= 14  # on_change on every event: wakes the page's sender
    empty = rig.fleet.take_changes()
    assert empty.rows == [] and empty.order is None
    rig.tick("b", 1)
    again = rig.fleet.take_changes()
    assert [r["node"] for r in again.rows] == ["b"] and again.order is None
    rig.tick("b", 2, busy=99.0)
    worse = rig.fleet.take_changes()
    assert [r["status"] for r in worse.rows] == ["critical"]
    assert worse.order == ["b", "a"]


def _reference(rig: Rig, node: str, events: list[Event[Message]]) -> NodeProjection:
    """What the hub used to keep: a projection fed every one of the node's events."""
    projection = NodeProjection(node, rig.clock, rig.rt, history_limit=rig.fleet.history_limit)
    for evt in events:
        projection.feed(evt.payload, evt.time)
    return projection


def _comparable(projection: NodeProjection) -> dict[str, Any]:
    state = projection.state
    health = state.get(HEALTH_STATE)
    return {
        **{path: state.get(path) for path in STATE_PATHS.values()},
        CPU_HISTORY: state.get(CPU_HISTORY),
        NETWORK_HISTORY: state.get(NETWORK_HISTORY),
        "health": (health["status"], health["reasons"]) if health else None,
    }


def test_a_projection_built_on_demand_equals_one_fed_every_event() -> None:
    rig = Rig(history_limit=5)  # fewer samples than events: the histories roll over
    try:
        events = [evt for n in range(8) for evt in rig.tick("pi", n)]
        assert rig.fleet.projections() == []  # nothing built per event
        built = rig.fleet.projection("pi")
        assert built is not None
        reference = _reference(rig, "pi", events)
        assert _comparable(built) == _comparable(reference)
        assert len(built.state.get(CPU_HISTORY)["t"]) == 5
        # Once built it is fed live, and stays equal.
        for n in range(8, 11):
            for evt in rig.tick("pi", n):
                reference.feed(evt.payload, evt.time)
        assert rig.fleet.projection("pi") is built
        assert _comparable(built) == _comparable(reference)
    finally:
        rig.rt.shutdown()


def test_unused_projections_are_released_and_pages_keep_theirs(rig: Rig) -> None:
    rig.tick("open", 0)
    rig.tick("idle", 0)
    page = rig.fleet.projection("open")
    assert page is not None and rig.fleet.projection("idle") is not None
    page.listening = True
    rig.clock.advance(PROJECTION_IDLE / 2)
    assert rig.fleet.release_idle() == []
    rig.clock.advance(PROJECTION_IDLE)
    assert rig.fleet.release_idle() == ["idle"]
    assert [name for name, _ in rig.fleet.projections()] == ["open"]
    assert rig.fleet.projection("idle", build=False) is None
    assert rig.fleet.projection("ghost") is None


def test_readers_give_the_metrics_records_without_building_projections(rig: Rig) -> None:
    rig.tick("pi", 0, busy=99.0)
    ((node, read),) = rig.fleet.readers()
    assert node == "pi"
    assert read(STATE_PATHS[CpuUsageUpdated])["busy"] == 99.0
    assert read(HEALTH_STATE)["status"] == "critical"
    assert read("system.nothing") is None
    assert rig.fleet.projections() == []
