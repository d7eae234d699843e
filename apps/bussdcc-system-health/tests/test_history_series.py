"""Which telemetry numbers become series, and which messages become timeline marks."""

from __future__ import annotations

from typing import Any

from bussdcc_system_health.history.series import (
    HEALTH_EVENT,
    THROTTLING_EVENT,
    readings,
    throttling_change,
    timeline_event,
)
from bussdcc_system_health.message import (
    CollectorFailed,
    CoreUsage,
    CpuUsageUpdated,
    DiskIo,
    DiskIoUpdated,
    Fan,
    FanSpeedUpdated,
    HealthChanged,
    InterfaceThroughput,
    NetworkUsageUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)

CLEAR = ThrottleFlags(False, False, False, False)
UNDER_VOLTAGE = ThrottleFlags(True, False, False, False)


def test_cpu_gives_the_whole_machine_and_each_core() -> None:
    cores = (CoreUsage(0, 10, 5, 1, 84, 15), CoreUsage(1, 50, 10, 0, 40, 60))
    msg = CpuUsageUpdated(user=30, system=7.5, iowait=0.5, idle=62, busy=37.5, cores=cores)
    assert readings(msg) == [
        ("cpu.busy", 37.5),
        ("cpu.user", 30),
        ("cpu.system", 7.5),
        ("cpu.iowait", 0.5),
        ("cpu.core.0.busy", 15),
        ("cpu.core.1.busy", 60),
    ]


def test_memory_disk_and_load(telemetry: Any) -> None:
    assert readings(telemetry.memory(percent=41.5)) == [
        ("memory.percent", 41.5),
        ("swap.percent", 0.0),
    ]
    assert readings(telemetry.disks(percent=30.0)) == [("disk./.percent", 30.0)]
    assert readings(telemetry.load(load1=1.25, processes=231)) == [
        ("load.load1", 1.25),
        ("load.load5", 0.4),
        ("load.load15", 0.3),
        ("load.processes", 231.0),
    ]
    # A recording made before processes were counted has none: no value, not a zero.
    assert [name for name, _ in readings(telemetry.load(processes=None))] == [
        "load.load1",
        "load.load5",
        "load.load15",
    ]


def test_disk_io_gives_each_device_and_leaves_out_unknown_values() -> None:
    msg = DiskIoUpdated(
        interval=1.0,
        read_bytes_per_s=4096.0,
        write_bytes_per_s=65536.0,
        devices=(
            DiskIo("mmcblk0", 4096.0, 65536.0, 1.0, 2.0, 12.5, 10, 20),
            DiskIo("mmcblk0p2", 4096.0, 65536.0, 1.0, 2.0, None, 10, 20, whole=False),
            DiskIo("sda", None, None, None, None, 0.0, 0, 0),  # new since the last sample
        ),
    )
    assert readings(msg) == [
        ("disk.mmcblk0.read_bytes_per_s", 4096.0),
        ("disk.mmcblk0.write_bytes_per_s", 65536.0),
        ("disk.mmcblk0.busy", 12.5),
        ("disk.mmcblk0p2.read_bytes_per_s", 4096.0),
        ("disk.mmcblk0p2.write_bytes_per_s", 65536.0),
        ("disk.sda.busy", 0.0),
    ]
    assert readings(DiskIoUpdated(interval=1.0, read_bytes_per_s=0.0, write_bytes_per_s=0.0)) == []


def test_fans_give_rpm_named_by_chip_and_label() -> None:
    msg = FanSpeedUpdated(
        available=True, fans=(Fan("pwmfan", "", 2950), Fan("thinkpad", "fan1", 1800))
    )
    assert readings(msg) == [("fan.pwmfan", 2950.0), ("fan.thinkpad.fan1", 1800.0)]
    assert readings(FanSpeedUpdated(available=False, reason="no fans found")) == []


def test_network_totals_and_interfaces_leave_out_unknown_rates() -> None:
    msg = NetworkUsageUpdated(
        interval=1.0,
        rx_bytes_per_s=300.0,
        tx_bytes_per_s=20.0,
        interfaces=(
            InterfaceThroughput("eth0", 300.0, 20.0, 1, 2),
            InterfaceThroughput("wlan0", None, None, 5, 6),  # new since the last sample
        ),
    )
    assert readings(msg) == [
        ("network.rx_bytes_per_s", 300.0),
        ("network.tx_bytes_per_s", 20.0),
        ("network.eth0.rx_bytes_per_s", 300.0),
        ("network.eth0.tx_bytes_per_s", 20.0),
    ]


def test_temperature_names_a_sensor_by_chip_and_label() -> None:
    msg = TemperatureUpdated(
        available=True,
        sensors=(
            TemperatureSensor("cpu_thermal", "", 51.2),
            TemperatureSensor("coretemp", "Core 0", 47.0, high=80.0),
        ),
    )
    assert readings(msg) == [
        ("temperature.cpu_thermal", 51.2),
        ("temperature.coretemp.Core 0", 47.0),
    ]
    assert readings(TemperatureUpdated(available=False, reason="no sensors")) == []


def test_other_messages_give_no_readings() -> None:
    assert readings(CollectorFailed(collector="cpu", error="boom")) == []
    assert readings(HealthChanged(previous="ok", status="warning")) == []


def test_a_health_change_is_a_timeline_mark() -> None:
    mark = timeline_event(HealthChanged(previous="ok", status="critical", reasons=("disk full",)))
    assert mark is not None
    assert mark.name == HEALTH_EVENT == "system.health.changed"
    assert mark.data == {"previous": "ok", "status": "critical", "reasons": ["disk full"]}
    assert timeline_event(CollectorFailed(collector="cpu", error="boom")) is None


def test_throttling_marks_only_changes_of_the_now_flags() -> None:
    clear = ThrottlingUpdated(available=True, raw=0, now=CLEAR, since_boot=CLEAR)
    low = ThrottlingUpdated(available=True, raw=0x1, now=UNDER_VOLTAGE, since_boot=UNDER_VOLTAGE)
    assert throttling_change(None, clear) is None  # a healthy start is not a mark
    mark = throttling_change(None, low)
    assert mark is not None and mark.name == THROTTLING_EVENT
    assert mark.data == {
        "now": {
            "under_voltage": True,
            "frequency_capped": False,
            "throttled": False,
            "soft_temperature_limit": False,
        },
        "raw": 1,
    }
    assert throttling_change(UNDER_VOLTAGE, low) is None  # unchanged
    back = throttling_change(UNDER_VOLTAGE, clear)
    assert back is not None and not any(back.data["now"].values())
    assert throttling_change(CLEAR, ThrottlingUpdated(available=False, reason="none")) is None
