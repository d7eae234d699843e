"""HealthProcess: system.health in state, and system.health.changed only on transitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bussdcc import ContextProtocol, ManualClock, Runtime, Service
from bussdcc.event import Event
from bussdcc.message import (
    RuntimeBooting,
    RuntimeShuttingDown,
    ServiceError,
    ServiceFailure,
    ServiceStarted,
    ServiceStopped,
)
from bussdcc_framework.message import SinkError, SinkRecovered
from bussdcc_framework.testing import EventRecorder
from bussdcc_system_health.message import (
    CpuUsageUpdated,
    DiskIo,
    DiskIoUpdated,
    HealthChanged,
    MemoryUsageUpdated,
    StorageWear,
    StorageWearUpdated,
    ThrottlingUpdated,
    WearEstimate,
)
from bussdcc_system_health.processes import HealthProcess
from bussdcc_system_health.telemetry.health import HealthThresholds, Threshold
from bussdcc_system_health.telemetry.throttling import decode_throttled


def cpu(busy: float) -> CpuUsageUpdated:
    return CpuUsageUpdated(user=busy, system=0.0, iowait=0.0, idle=100.0 - busy, busy=busy)


def memory(percent: float) -> MemoryUsageUpdated:
    return MemoryUsageUpdated(100, 100 - int(percent), int(percent), percent, 0, 0, 0.0)


def throttling(raw: int) -> ThrottlingUpdated:
    now, since_boot = decode_throttled(raw)
    return ThrottlingUpdated(available=True, raw=raw, now=now, since_boot=since_boot)


class Rig:
    def __init__(self, process: HealthProcess) -> None:
        self.clock = ManualClock()
        self.rt = Runtime(clock=self.clock)
        self.process = process
        self.rt.register_process(process)
        self.recorder = EventRecorder(HealthChanged).attach(self.rt)
        self.rt.boot()

    @property
    def changes(self) -> list[Event[Any]]:
        return self.recorder.events

    def at(self, seconds: float, *messages: Any) -> None:
        self.clock.advance(seconds - self.clock.monotonic())
        for msg in messages:
            self.rt.emit(msg)

    @property
    def health(self) -> Any:
        return self.rt.state.get("system.health")


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig(HealthProcess())
    yield made
    made.rt.shutdown()


def test_nothing_is_known_before_telemetry(rig: Rig) -> None:
    assert rig.health is None
    assert rig.process.status == "unknown"
    assert rig.changes == []


def test_first_evaluation_is_a_change_from_unknown(rig: Rig) -> None:
    rig.at(0, cpu(10.0))
    assert rig.health == {
        "status": "ok",
        "reasons": [],
        "notes": [],
        "since": "2000-01-01T00:00:00+00:00",
    }
    assert [c.payload for c in rig.changes] == [HealthChanged("unknown", "ok", ())]


def test_transitions_are_emitted_with_reasons_and_since_moves(rig: Rig) -> None:
    rig.at(0, cpu(10.0), memory(40.0))
    rig.at(5, cpu(96.0))
    rig.at(6, cpu(97.0))  # still critical: a new reason text, but no change event
    rig.at(9, cpu(10.0))
    assert [c.payload for c in rig.changes] == [
        HealthChanged("unknown", "ok", ()),
        HealthChanged("ok", "critical", ("CPU busy 96.0% (critical at 95%)",)),
        HealthChanged("critical", "ok", ()),
    ]
    assert [c.time.second for c in rig.changes] == [0, 5, 9]
    assert rig.health["since"] == "2000-01-01T00:00:09+00:00"


def test_reasons_update_in_state_within_one_status(rig: Rig) -> None:
    rig.at(0, cpu(96.0))
    rig.at(2, cpu(97.0))
    assert rig.health == {
        "status": "critical",
        "reasons": ["CPU busy 97.0% (critical at 95%)"],
        "notes": [],
        "since": "2000-01-01T00:00:00+00:00",
    }
    assert len(rig.changes) == 1


def test_status_combines_the_latest_of_every_category(rig: Rig) -> None:
    rig.at(0, cpu(90.0))
    rig.at(1, memory(99.0))
    assert rig.health["status"] == "critical"
    assert rig.health["reasons"] == [
        "memory used 99.0% (critical at 95%)",
        "CPU busy 90.0% (warning at 85%)",
    ]
    rig.at(2, memory(10.0))  # memory recovered; the cpu warning still stands
    assert rig.health["status"] == "warning"
    assert [c.payload.status for c in rig.changes] == ["warning", "critical", "warning"]


def test_under_voltage_now_is_critical_and_past_is_a_note(rig: Rig) -> None:
    rig.at(0, throttling(0x50005))
    assert rig.health["status"] == "critical"
    rig.at(1, throttling(0x50000))
    assert rig.health["status"] == "ok"
    assert rig.health["notes"] == ["occurred since boot: under-voltage, throttled"]


def test_custom_thresholds_apply() -> None:
    rig = Rig(HealthProcess(HealthThresholds(cpu_busy_percent=Threshold(5.0, 50.0))))
    try:
        rig.at(0, cpu(10.0))
        assert rig.health["status"] == "warning"
    finally:
        rig.rt.shutdown()


def test_restart_forgets_old_telemetry() -> None:
    process = HealthProcess()
    first = Rig(process)
    first.at(0, cpu(99.0))
    first.rt.shutdown()
    second = Rig(process)
    try:
        assert process.status == "unknown"
        second.at(0, memory(10.0))
        assert second.health["status"] == "ok"
    finally:
        second.rt.shutdown()


def test_wrong_thresholds_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="thresholds must be HealthThresholds"):
        HealthProcess({"cpu": 90})  # type: ignore[arg-type]


def disk_io(busy: float | None, interval: float = 2.0) -> DiskIoUpdated:
    return DiskIoUpdated(
        interval=interval,
        read_bytes_per_s=0.0,
        write_bytes_per_s=1e6,
        devices=(DiskIo("mmcblk0", 0.0, 1e6, 0.0, 10.0, busy, 0, 0),),
    )


def test_a_disk_busy_for_the_sustained_time_changes_health(rig: Rig) -> None:
    rig.at(0, cpu(10.0))
    for t in range(2, 300, 2):  # 99 % busy from t=0: critical once 300 s are covered
        rig.at(t, disk_io(99.0))
        assert rig.health["status"] == "ok", t
    rig.at(300, disk_io(99.0))
    assert rig.health["status"] == "critical"
    assert rig.health["reasons"] == ["disk mmcblk0 busy 99.0% (critical at 98% sustained 300 s)"]
    rig.at(302, disk_io(20.0))
    assert rig.health["status"] == "ok"
    assert [c.payload.status for c in rig.changes] == ["ok", "critical", "ok"]


def test_a_missing_disk_sample_restarts_the_busy_streak(rig: Rig) -> None:
    for t in range(2, 200, 2):
        rig.at(t, disk_io(99.0))
    for t in range(220, 510, 2):  # after a 20 s gap the streak restarts at 218 s
        rig.at(t, disk_io(99.0))
    assert rig.health["status"] == "ok"
    rig.at(520, disk_io(99.0, interval=10.0))  # a longer sample, but no gap: 302 s
    assert rig.health["status"] == "critical"


def test_pre_eol_urgent_is_critical(rig: Rig) -> None:
    estimate = WearEstimate(0x02, 10, 20)
    rig.at(0, StorageWearUpdated(True, (StorageWear("mmcblk0", estimate, estimate, "urgent", 3),)))
    assert rig.health["status"] == "critical"
    assert rig.health["reasons"] == ["mmcblk0 reserved blocks 90% used (pre-EOL urgent)"]


# --- the app's own faults: history not recorded, a service that died ------------------------


def test_a_history_sink_error_is_a_warning_until_the_sink_recovers(rig: Rig) -> None:
    rig.at(0, cpu(10.0))
    rig.at(1, SinkError(sink="JsonlSink", error="[Errno 28] No space left on device"))
    assert rig.health["status"] == "warning"
    assert rig.health["reasons"] == [
        "history is not being recorded ([Errno 28] No space left on device)"
    ]
    assert [e.payload.status for e in rig.changes] == ["ok", "warning"]
    rig.at(3, SinkRecovered(sink="JsonlSink", path="/data/x.jsonl", dropped=12))
    assert rig.health["status"] == "ok"
    assert rig.health["reasons"] == []
    assert [e.payload.status for e in rig.changes] == ["ok", "warning", "ok"]


def test_other_sinks_failing_do_not_say_history_is_lost(rig: Rig) -> None:
    rig.at(0, cpu(10.0), SinkError(sink="ConsoleSink", error="broken pipe"))
    assert rig.health["status"] == "ok"


def test_a_history_sink_under_another_label_can_be_named() -> None:
    rig = Rig(HealthProcess(history_sink="archive"))
    try:
        rig.at(0, SinkError(sink="archive", error="read-only file system"))
        assert rig.health["reasons"] == ["history is not being recorded (read-only file system)"]
    finally:
        rig.rt.shutdown()


def test_a_failing_service_is_a_warning_until_it_starts_again(rig: Rig) -> None:
    rig.at(0, cpu(10.0), ServiceError(service="system", error="OSError: boom"))
    assert rig.health["reasons"] == ["service system failed: OSError: boom"]
    rig.at(1, ServiceStopped(service="system", reason="OSError: boom"))
    assert rig.health["reasons"] == ["service system failed: OSError: boom"]
    rig.at(2, ServiceStarted(service="system"))
    assert rig.health["status"] == "ok"


def test_a_service_failure_is_critical_and_an_event_handler_error_is_not_a_reason(
    rig: Rig,
) -> None:
    rig.at(0, ServiceError(service="identity", error="KeyError: x", event="system.cpu"))
    assert rig.process.status == "unknown"  # a handler error: the service still runs
    rig.at(1, ServiceFailure(service="system", reason="more than 5 restarts within 60 s"))
    health = rig.health
    assert health["status"] == "critical"
    assert health["reasons"] == [
        "service system has stopped for good: more than 5 restarts within 60 s"
    ]


def test_a_service_stopped_on_purpose_is_not_a_fault_and_shutdown_changes_nothing(
    rig: Rig,
) -> None:
    rig.at(0, cpu(10.0), ServiceStopped(service="system"))
    assert rig.health["status"] == "ok"
    rig.at(1, RuntimeShuttingDown(reason="signal"))
    rig.at(2, ServiceError(service="system", error="did not stop within 5 s; abandoned"))
    assert rig.health["status"] == "ok"
    # A replayed history holds the next run too: its services are judged again.
    rig.at(3, RuntimeBooting(version="0.43.0"), ServiceError(service="system", error="boom"))
    assert rig.health["reasons"] == ["service system failed: boom"]


def test_a_service_thread_that_dies_in_a_real_runtime_shows_in_health(rig: Rig) -> None:
    class Dies(Service):
        name = "dies"
        interval = 1.0
        restart = False

        def tick(self, ctx: ContextProtocol) -> None:
            raise RuntimeError("collector gone")

    rig.rt.register_service(Dies())  # the first tick runs at once, in the service's thread
    [change] = rig.recorder.wait_for_payload(HealthChanged)
    assert change.status == "warning"
    assert rig.health["reasons"] == ["service dies failed: RuntimeError: collector gone"]
