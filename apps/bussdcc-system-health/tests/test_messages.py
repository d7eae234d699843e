"""The telemetry messages: wire names, severities, plain data, and an exact JSONL round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bussdcc.event import Event
from bussdcc.message import Message, Severity, lookup
from bussdcc_framework.codec import decode_event, encode_event
from bussdcc_system_health.message import (
    CollectorFailed,
    CoreUsage,
    CpuUsageUpdated,
    DiskUsageUpdated,
    Filesystem,
    HealthChanged,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)

SAMPLES: list[Message] = [
    CpuUsageUpdated(
        user=12.4,
        system=3.1,
        iowait=0.5,
        idle=84.0,
        busy=15.5,
        cores=(CoreUsage(0, 20.0, 5.0, 1.0, 74.0, 25.0), CoreUsage(1, 4.8, 1.2, 0.0, 94.0, 6.0)),
    ),
    MemoryUsageUpdated(
        total=8_000_000_000,
        available=6_000_000_000,
        used=1_500_000_000,
        percent=25.0,
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
    ),
    DiskUsageUpdated(filesystems=(Filesystem("/", "/dev/mmcblk0p2", "ext4", 100, 40, 60, 40.0),)),
    LoadAverageUpdated(
        load1=1.0,
        load5=0.5,
        load15=0.25,
        cores=4,
        load1_per_core=0.25,
        load5_per_core=0.125,
        load15_per_core=0.0625,
    ),
    TemperatureUpdated(
        available=True,
        sensors=(
            TemperatureSensor("cpu_thermal", "", 48.3),
            TemperatureSensor("coretemp", "Core 0", 55.0, high=80.0, critical=100.0),
        ),
    ),
    TemperatureUpdated(available=False, reason="no temperature sensors found"),
    NetworkUsageUpdated(
        interval=1.0,
        rx_bytes_per_s=1500.0,
        tx_bytes_per_s=300.0,
        interfaces=(
            InterfaceThroughput("eth0", 1500.0, 300.0, 10_000, 2_000),
            InterfaceThroughput("wlan0", None, None, 5, 7),
        ),
    ),
    ThrottlingUpdated(
        available=True,
        raw=0x50005,
        now=ThrottleFlags(True, False, True, False),
        since_boot=ThrottleFlags(True, False, True, False),
        source="vcgencmd",
    ),
    ThrottlingUpdated(available=False, reason="vcgencmd is not on PATH"),
    HealthChanged(previous="unknown", status="warning", reasons=("CPU busy 90.0%",)),
    CollectorFailed(collector="disk", error="PermissionError: denied"),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trips_through_the_wire_format_unchanged(message: Message) -> None:
    evt = Event(time=datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC), payload=message, seq=7)
    back = decode_event(encode_event(evt))
    assert back == evt
    assert type(back.payload) is type(message)


def test_seed_wire_names_are_registered() -> None:
    expected = {
        "system.cpu.usage.updated": CpuUsageUpdated,
        "system.memory.usage.updated": MemoryUsageUpdated,
        "system.disk.usage.updated": DiskUsageUpdated,
        "system.load.updated": LoadAverageUpdated,
        "system.temperature.updated": TemperatureUpdated,
        "system.network.usage.updated": NetworkUsageUpdated,
        "system.throttling.updated": ThrottlingUpdated,
        "system.health.changed": HealthChanged,
        "system.collector.failed": CollectorFailed,
    }
    for name, cls in expected.items():
        assert lookup(name) is cls


def test_telemetry_is_info_and_changes_and_failures_are_warnings() -> None:
    assert CpuUsageUpdated.severity is Severity.INFO
    assert ThrottlingUpdated.severity is Severity.INFO
    assert HealthChanged.severity is Severity.WARNING
    assert CollectorFailed.severity is Severity.WARNING


def test_to_dict_gives_plain_nested_data() -> None:
    msg = SAMPLES[0]
    data = msg.to_dict()
    assert data["busy"] == 15.5
    assert data["cores"][1] == {
        "core": 1,
        "user": 4.8,
        "system": 1.2,
        "iowait": 0.0,
        "idle": 94.0,
        "busy": 6.0,
    }


def test_messages_are_immutable() -> None:
    msg = SAMPLES[0]
    with pytest.raises(AttributeError):
        msg.user = 0.0  # type: ignore[attr-defined]
