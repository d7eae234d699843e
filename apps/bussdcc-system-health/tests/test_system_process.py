"""SystemProcess: telemetry events become state, with bounded CPU and network history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bussdcc import ManualClock, Runtime
from bussdcc.message import ProcessError
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.service import identity_record
from bussdcc_system_health.message import (
    CoreUsage,
    CpuUsageUpdated,
    DiskIo,
    DiskIoUpdated,
    DiskUsageUpdated,
    Fan,
    FanSpeedUpdated,
    Filesystem,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    StorageWearUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from bussdcc_system_health.processes import SystemProcess
from bussdcc_system_health.telemetry.history import ColumnHistory, history_length

T0 = "2000-01-01T00:00:00+00:00"


def cpu(busy: float) -> CpuUsageUpdated:
    return CpuUsageUpdated(
        user=busy - 1.0,
        system=1.0,
        iowait=0.0,
        idle=100.0 - busy,
        busy=busy,
        cores=(CoreUsage(0, busy - 1.0, 1.0, 0.0, 100.0 - busy, busy),),
    )


def network(eth0_rx: float | None) -> NetworkUsageUpdated:
    return NetworkUsageUpdated(
        interval=1.0,
        rx_bytes_per_s=eth0_rx or 0.0,
        tx_bytes_per_s=10.0,
        interfaces=(InterfaceThroughput("eth0", eth0_rx, 10.0, 1000, 2000),),
    )


def disk_io(sda_read: float | None, *, sdb: bool = False) -> DiskIoUpdated:
    devices = [DiskIo("sda", sda_read, 20.0, 1.0, 2.0, 5.0, 100, 200)]
    if sdb:
        devices.append(DiskIo("sdb", 1.0, 2.0, 1.0, 1.0, None, 1, 2))
    return DiskIoUpdated(
        interval=1.0,
        read_bytes_per_s=(sda_read or 0.0) + (1.0 if sdb else 0.0),
        write_bytes_per_s=20.0 + (2.0 if sdb else 0.0),
        devices=tuple(devices),
    )


@pytest.fixture
def rig() -> Iterator[tuple[Runtime, ManualClock]]:
    clock = ManualClock()
    rt = Runtime(clock=clock)
    rt.register_process(SystemProcess(history_limit=3))
    rt.boot()
    yield rt, clock
    rt.shutdown()


def test_each_message_lands_at_its_path_with_the_event_time(
    rig: tuple[Runtime, ManualClock],
) -> None:
    rt, _ = rig
    messages = {
        "system.cpu.usage": cpu(20.0),
        "system.memory.usage": MemoryUsageUpdated(100, 60, 40, 40.0, 10, 1, 10.0),
        "system.disk.usage": DiskUsageUpdated(
            (Filesystem("/", "/dev/sda1", "ext4", 9, 3, 6, 33.3),)
        ),
        "system.load": LoadAverageUpdated(1.0, 1.0, 1.0, 2, 0.5, 0.5, 0.5),
        "system.temperature": TemperatureUpdated(available=False, reason="none"),
        "system.network.usage": network(100.0),
        "system.throttling": ThrottlingUpdated(available=False, reason="not a Pi"),
        "system.disk.io": disk_io(sda_read=100.0),
        "system.storage.wear": StorageWearUpdated(available=False, reason="no eMMC"),
        "system.fans": FanSpeedUpdated(available=True, fans=(Fan("pwmfan", "", 3000),)),
    }
    for msg in messages.values():
        rt.emit(msg)
    for path, msg in messages.items():
        assert rt.state.get(path) == {**msg.to_dict(), "time": T0}
    assert rt.state.get("system.cpu.usage.cores") == [
        {"core": 0, "user": 19.0, "system": 1.0, "iowait": 0.0, "idle": 80.0, "busy": 20.0}
    ]
    assert rt.state.get("system.disk.usage.filesystems")[0]["mountpoint"] == "/"


def test_latest_message_replaces_the_previous(rig: tuple[Runtime, ManualClock]) -> None:
    rt, clock = rig
    rt.emit(cpu(10.0))
    clock.advance(1.5)
    rt.emit(cpu(30.0))
    state = rt.state.get("system.cpu.usage")
    assert (state["busy"], state["time"]) == (30.0, "2000-01-01T00:00:01.500000+00:00")


def test_cpu_history_is_bounded_oldest_first(rig: tuple[Runtime, ManualClock]) -> None:
    rt, clock = rig
    for busy in (10.0, 20.0, 30.0, 40.0):
        rt.emit(cpu(busy))
        clock.advance(1.0)
    history = rt.state.get("system.history.cpu")
    assert history == {
        "t": tuple(f"2000-01-01T00:00:0{i}+00:00" for i in (1, 2, 3)),
        "user": (19.0, 29.0, 39.0),
        "system": (1.0, 1.0, 1.0),
        "iowait": (0.0, 0.0, 0.0),
        "total": (20.0, 30.0, 40.0),
    }
    assert history_length(history) == 3


def test_network_history_has_totals_and_per_interface_rates(
    rig: tuple[Runtime, ManualClock],
) -> None:
    rt, _ = rig
    rt.emit(network(100.0))
    rt.emit(network(None))  # a counter reset: the rate is unknown, not zero
    assert rt.state.get("system.history.network") == {
        "t": (T0, T0),
        "rx": (100.0, 0.0),
        "tx": (10.0, 10.0),
        "interfaces": {"eth0": {"rx": (100.0, None), "tx": (10.0, 10.0)}},
    }


def test_disk_io_history_has_totals_and_per_device_rates_and_busy(
    rig: tuple[Runtime, ManualClock],
) -> None:
    rt, _ = rig
    rt.emit(disk_io(100.0))
    rt.emit(disk_io(None, sdb=True))
    assert rt.state.get("system.history.disk_io") == {
        "t": (T0, T0),
        "read": (100.0, 1.0),
        "write": (20.0, 22.0),
        "devices": {
            "sda": {"read": (100.0, None), "write": (20.0, 20.0), "busy": (5.0, 5.0)},
            "sdb": {"read": (None, 1.0), "write": (None, 2.0), "busy": (None, None)},
        },
    }


def test_interfaces_that_come_and_go_stay_aligned_with_the_time_column(
    rig: tuple[Runtime, ManualClock],
) -> None:
    rt, _ = rig

    def sample(*names: str) -> NetworkUsageUpdated:
        return NetworkUsageUpdated(
            interval=1.0,
            rx_bytes_per_s=0.0,
            tx_bytes_per_s=0.0,
            interfaces=tuple(InterfaceThroughput(n, 1.0, 2.0, 0, 0) for n in names),
        )

    rt.emit(sample("eth0"))
    rt.emit(sample("eth0", "wlan0"))  # wlan0 appears: padded before
    rt.emit(sample("wlan0"))  # eth0 gone from this sample: None
    interfaces = rt.state.get("system.history.network.interfaces")
    assert interfaces == {
        "eth0": {"rx": (1.0, 1.0, None), "tx": (2.0, 2.0, None)},
        "wlan0": {"rx": (None, 1.0, 1.0), "tx": (None, 2.0, 2.0)},
    }
    rt.emit(sample("wlan0"))
    rt.emit(sample("wlan0"))  # eth0 absent from the whole 3-sample window: dropped
    assert set(rt.state.get("system.history.network.interfaces")) == {"wlan0"}


def test_other_messages_are_ignored(rig: tuple[Runtime, ManualClock]) -> None:
    rt, _ = rig
    before = rt.state.snapshot("system")
    rt.emit(ProcessError(process="x", error="y"))
    assert rt.state.snapshot("system") == before


def test_same_events_give_the_same_state() -> None:
    def run() -> dict[str, object]:
        clock = ManualClock()
        with Runtime(clock=clock) as rt:
            rt.register_process(SystemProcess())
            for busy in (5.0, 50.0, 95.0):
                rt.emit(cpu(busy))
                rt.emit(network(busy))
                clock.advance(1.0)
            return rt.state.snapshot("system")

    first = run()
    assert history_length(first["history"]["cpu"]) == 3  # type: ignore[index]
    assert first == run()


@pytest.mark.parametrize("bad", [0, -5])
def test_a_history_limit_below_one_is_a_value_error(bad: int) -> None:
    with pytest.raises(ValueError, match=r"^history_limit must be a positive int"):
        SystemProcess(history_limit=bad)


@pytest.mark.parametrize("bad", [2.5, True, "3"])
def test_a_history_limit_that_is_not_an_int_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^history_limit must be a positive int"):
        SystemProcess(history_limit=bad)  # type: ignore[arg-type]


def test_column_history_keeps_the_newest() -> None:
    history = ColumnHistory(("t", "v"), 2)
    assert history.record() == {"t": (), "v": ()}
    for t in (1, 2, 3):
        history.append({"t": t, "v": t * 10})
    assert history.record() == {"t": (2, 3), "v": (20, 30)}
    history.append({"t": 4})  # a missing value is stored as None, keeping columns aligned
    assert history.record() == {"t": (3, 4), "v": (30, None)}
    assert len(history) == 2
    with pytest.raises(ValueError, match=r"^limit must be a positive int"):
        ColumnHistory(("t",), 0)


def test_a_process_continues_the_history_already_in_state() -> None:
    rt = Runtime(clock=ManualClock())
    # As JSON gives it back (lists), e.g. restored from a saved /api/state.
    rt.state.set(
        "system.history",
        {
            "cpu": {"t": ["a"], "user": [1.0], "system": [2.0], "iowait": [0.0], "total": [3.0]},
            "network": {
                "t": ["a"],
                "rx": [5.0],
                "tx": [1.0],
                "interfaces": {"eth0": {"rx": [5.0], "tx": [1.0]}},
            },
        },
    )
    rt.register_process(SystemProcess(history_limit=3))
    with rt:
        rt.emit(cpu(20.0))
        rt.emit(network(6.0))
        assert rt.state.get("system.history.cpu.total") == (3.0, 20.0)
        network_history = rt.state.get("system.history.network")
        assert network_history["rx"] == (5.0, 6.0)
        assert network_history["interfaces"]["eth0"]["rx"] == (5.0, 6.0)


@pytest.mark.parametrize(
    "stored",
    [None, [1, 2], {"t": (1, 2), "user": (1,)}, {"t": "ab"}, {"user": (1, 2)}],
)
def test_a_malformed_history_in_state_is_started_afresh(stored: object) -> None:
    history = ColumnHistory(("t", "user"), 3)
    history.seed(stored)
    assert len(history) == 0
    history.append({"t": 9, "user": 1.0})
    assert history.record() == {"t": (9,), "user": (1.0,)}


def test_a_replayed_identity_is_projected_like_the_service_stores_it(
    rig: tuple[Runtime, ManualClock],
) -> None:
    rt, _ = rig
    boot = datetime(2025, 7, 14, 10, 51, 19, tzinfo=UTC)
    identity = SystemIdentityEvent(
        hostname="pi-07",
        model="Raspberry Pi 4 Model B Rev 1.4",
        serial="10000000b7e2a94c",
        serial_source="cpuinfo",
        os="Debian GNU/Linux 12 (bookworm)",
        kernel="6.6.51",
        architecture="aarch64",
        python="3.11.2",
        boot_time=boot,
    )
    rt.emit(identity)
    stored = rt.state.get("system.identity")
    assert stored == identity_record(identity)
    assert stored["model"] == "Raspberry Pi 4 Model B Rev 1.4"
    assert stored["boot_time"] == "2025-07-14T10:51:19+00:00"
