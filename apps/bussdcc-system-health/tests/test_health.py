"""Health evaluation: thresholds, reasons, throttling rules and configurable limits."""

from __future__ import annotations

import pytest

from bussdcc_system_health.message import (
    CpuUsageUpdated,
    DiskIo,
    DiskIoUpdated,
    DiskUsageUpdated,
    Filesystem,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    StorageWear,
    StorageWearUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from bussdcc_system_health.telemetry.health import (
    BusyStreak,
    HealthAssessment,
    HealthThresholds,
    LatestTelemetry,
    Threshold,
    evaluate_health,
    extend_busy_streak,
    extend_busy_streaks,
    sustained_level,
    worst,
)
from bussdcc_system_health.telemetry.throttling import decode_throttled
from bussdcc_system_health.telemetry.wear import decode_life_time, decode_pre_eol


def cpu(busy: float) -> CpuUsageUpdated:
    return CpuUsageUpdated(user=busy, system=0.0, iowait=0.0, idle=100.0 - busy, busy=busy)


def memory(percent: float) -> MemoryUsageUpdated:
    return MemoryUsageUpdated(
        total=1000,
        available=1000 - int(percent * 10),
        used=int(percent * 10),
        percent=percent,
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
    )


def disk(*mounts: tuple[str, float]) -> DiskUsageUpdated:
    return DiskUsageUpdated(
        filesystems=tuple(
            Filesystem(mp, f"/dev/sd{i}", "ext4", 100, int(p), 100 - int(p), p)
            for i, (mp, p) in enumerate(mounts)
        )
    )


def load(per_core: float, cores: int = 4) -> LoadAverageUpdated:
    return LoadAverageUpdated(
        load1=per_core * cores,
        load5=0.0,
        load15=0.0,
        cores=cores,
        load1_per_core=per_core,
        load5_per_core=0.0,
        load15_per_core=0.0,
    )


def temperature(*celsius: float) -> TemperatureUpdated:
    return TemperatureUpdated(
        available=True, sensors=tuple(TemperatureSensor("cpu_thermal", "", c) for c in celsius)
    )


def throttling(raw: int) -> ThrottlingUpdated:
    now, since_boot = decode_throttled(raw)
    return ThrottlingUpdated(available=True, raw=raw, now=now, since_boot=since_boot)


HEALTHY = LatestTelemetry(
    cpu=cpu(20.0),
    memory=memory(40.0),
    disk=disk(("/", 50.0)),
    load=load(0.25),
    temperature=temperature(45.0),
    throttling=throttling(0x0),
)


def test_healthy_readings_are_ok_without_reasons() -> None:
    assert evaluate_health(HEALTHY) == HealthAssessment("ok", (), ())


def test_nothing_received_yet_is_ok() -> None:
    assert evaluate_health(LatestTelemetry()) == HealthAssessment("ok", (), ())


@pytest.mark.parametrize(
    ("busy", "status"),
    [(84.9, "ok"), (85.0, "warning"), (94.9, "warning"), (95.0, "critical"), (100.0, "critical")],
)
def test_cpu_thresholds_are_inclusive(busy: float, status: str) -> None:
    latest = LatestTelemetry(cpu=cpu(busy))
    assert evaluate_health(latest).status == status


def test_reason_names_the_metric_value_and_limit() -> None:
    result = evaluate_health(LatestTelemetry(cpu=cpu(96.0)))
    assert result.reasons == ("CPU busy 96.0% (critical at 95%)",)


def test_memory_warning() -> None:
    result = evaluate_health(LatestTelemetry(memory=memory(88.0)))
    assert result == HealthAssessment("warning", ("memory used 88.0% (warning at 85%)",), ())


def test_every_full_disk_is_a_reason() -> None:
    result = evaluate_health(LatestTelemetry(disk=disk(("/", 91.0), ("/data", 97.5), ("/b", 10))))
    assert result.status == "critical"
    assert result.reasons == (
        "disk /data used 97.5% (critical at 95%)",
        "disk / used 91.0% (warning at 90%)",
    )


def test_load_is_judged_per_core() -> None:
    assert evaluate_health(LatestTelemetry(load=load(1.4))).status == "ok"
    assert evaluate_health(LatestTelemetry(load=load(1.5))).reasons == (
        "load per core 1.5 (warning at 1.5)",
    )
    assert evaluate_health(LatestTelemetry(load=load(3.0))).status == "critical"


def test_hottest_sensor_decides_and_each_hot_sensor_is_named() -> None:
    result = evaluate_health(LatestTelemetry(temperature=temperature(50.0, 72.0, 81.0)))
    assert result.status == "critical"
    assert result.reasons == (
        "cpu_thermal 81.0 °C (critical at 80 °C)",
        "cpu_thermal 72.0 °C (warning at 70 °C)",
    )


def test_unavailable_temperature_is_not_a_problem() -> None:
    unavailable = TemperatureUpdated(available=False, reason="no sensors")
    assert evaluate_health(LatestTelemetry(temperature=unavailable)).status == "ok"


def test_under_voltage_now_is_critical() -> None:
    result = evaluate_health(LatestTelemetry(throttling=throttling(0x50005)))
    assert result.status == "critical"
    assert result.reasons == (
        "under-voltage now: the power supply is insufficient",
        "throttled now",
    )
    assert result.notes == ()  # what is active now is not repeated as history


def test_soft_temperature_limit_now_is_a_warning() -> None:
    result = evaluate_health(LatestTelemetry(throttling=throttling(0x80008)))
    assert result == HealthAssessment("warning", ("soft temperature limit now",), ())


def test_frequency_capped_now_is_a_warning() -> None:
    assert evaluate_health(LatestTelemetry(throttling=throttling(0x2))).reasons == (
        "ARM frequency capped now",
    )


def test_past_events_since_boot_are_notes_and_keep_status_ok() -> None:
    result = evaluate_health(LatestTelemetry(throttling=throttling(0x50000)))
    assert result == HealthAssessment("ok", (), ("occurred since boot: under-voltage, throttled",))


def test_throttling_unavailable_is_not_a_problem() -> None:
    off_pi = ThrottlingUpdated(available=False, reason="not a Pi")
    assert evaluate_health(LatestTelemetry(throttling=off_pi)) == HealthAssessment("ok")


def test_critical_reasons_come_first() -> None:
    latest = LatestTelemetry(cpu=cpu(90.0), memory=memory(99.0))
    assert evaluate_health(latest).reasons == (
        "memory used 99.0% (critical at 95%)",
        "CPU busy 90.0% (warning at 85%)",
    )


def test_thresholds_are_configurable() -> None:
    strict = HealthThresholds(cpu_busy_percent=Threshold(warning=10.0, critical=30.0))
    assert evaluate_health(LatestTelemetry(cpu=cpu(20.0)), strict).status == "warning"
    assert evaluate_health(LatestTelemetry(cpu=cpu(20.0))).status == "ok"
    # other limits keep their defaults
    assert strict.memory_percent == Threshold(85.0, 95.0)


def test_threshold_warning_above_critical_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"warning \(90\) must not exceed critical \(80\)"):
        Threshold(warning=90, critical=80)


@pytest.mark.parametrize("bad", ["85", None, True])
def test_threshold_must_be_a_number(bad: object) -> None:
    with pytest.raises(TypeError, match="must be a number"):
        Threshold(warning=bad, critical=95)  # type: ignore[arg-type]


def test_nan_threshold_is_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        Threshold(warning=float("nan"), critical=95)


def test_worst() -> None:
    assert worst() == "ok"
    assert worst("ok", "critical", "warning") == "critical"
    assert worst("warning", "ok") == "warning"


# --- disk busy, sustained ----------------------------------------------------------------------

BUSY = Threshold(90.0, 98.0)


def io(interval: float, **busy: float | None) -> DiskIoUpdated:
    return DiskIoUpdated(
        interval=interval,
        read_bytes_per_s=0.0,
        write_bytes_per_s=0.0,
        devices=tuple(DiskIo(d, 0.0, 0.0, 0.0, 0.0, b, 0, 0) for d, b in busy.items()),
    )


def test_a_busy_streak_starts_with_the_reading_that_reached_each_level() -> None:
    streak = extend_busy_streak(None, 95.0, 100.0, 102.0, BUSY)
    assert streak == BusyStreak(95.0, until=102.0, warning_since=100.0, critical_since=None)
    streak = extend_busy_streak(streak, 99.0, 102.0, 104.0, BUSY)
    assert streak == BusyStreak(99.0, until=104.0, warning_since=100.0, critical_since=102.0)
    streak = extend_busy_streak(streak, 91.0, 104.0, 106.0, BUSY)
    assert streak == BusyStreak(91.0, until=106.0, warning_since=100.0, critical_since=None)


def test_a_quiet_reading_or_a_missing_sample_breaks_the_streak() -> None:
    streak = extend_busy_streak(None, 95.0, 0.0, 2.0, BUSY)
    quiet = extend_busy_streak(streak, 10.0, 2.0, 4.0, BUSY)
    assert quiet == BusyStreak(10.0, until=4.0)
    assert extend_busy_streak(streak, None, 2.0, 4.0, BUSY) is None
    # next reading starts 10 s after the last ended: a sample went missing, start afresh
    gap = extend_busy_streak(streak, 95.0, 12.0, 14.0, BUSY)
    assert gap == BusyStreak(95.0, until=14.0, warning_since=12.0)


def test_sustained_level_needs_the_whole_duration() -> None:
    streak = BusyStreak(99.0, until=400.0, warning_since=100.0, critical_since=200.0)
    assert sustained_level(streak, 300.0) == "warning"
    assert sustained_level(streak, 200.0) == "critical"
    assert sustained_level(streak, 301.0) == "ok"
    assert sustained_level(BusyStreak(50.0, until=400.0), 0.0) == "ok"


def test_streaks_follow_the_devices_of_each_disk_io_message() -> None:
    streaks = extend_busy_streaks({}, io(2.0, sda=95.0, sdb=None), 10.0, BUSY)
    assert streaks == {"sda": BusyStreak(95.0, until=10.0, warning_since=8.0)}
    streaks = extend_busy_streaks(streaks, io(2.0, sdb=99.0), 12.0, BUSY)
    assert streaks == {"sdb": BusyStreak(99.0, 12.0, warning_since=10.0, critical_since=10.0)}


def test_a_disk_busy_for_the_sustained_time_is_a_reason() -> None:
    streaks = {
        "mmcblk0": BusyStreak(99.5, until=1000.0, warning_since=600.0, critical_since=700.0),
        "sda": BusyStreak(93.0, until=1000.0, warning_since=700.0),
        "sdb": BusyStreak(100.0, until=1000.0, warning_since=900.0, critical_since=900.0),
    }
    assessment = evaluate_health(LatestTelemetry(disk_busy=streaks))
    assert assessment.status == "critical"
    assert assessment.reasons == (
        "disk mmcblk0 busy 99.5% (critical at 98% sustained 300 s)",
        "disk sda busy 93.0% (warning at 90% sustained 300 s)",
    )


def test_disk_busy_limits_are_configurable_and_checked() -> None:
    streak = {"sda": BusyStreak(95.0, until=30.0, warning_since=0.0)}
    quick = HealthThresholds(disk_busy_seconds=30.0)
    assert evaluate_health(LatestTelemetry(disk_busy=streak), quick).status == "warning"
    assert evaluate_health(LatestTelemetry(disk_busy=streak)).status == "ok"
    with pytest.raises(ValueError, match="disk_busy_seconds"):
        HealthThresholds(disk_busy_seconds=-1.0)
    with pytest.raises(TypeError, match="disk_busy_seconds"):
        HealthThresholds(disk_busy_seconds="60")  # type: ignore[arg-type]


# --- storage wear ------------------------------------------------------------------------------


def wear(pre_eol: int, a: int = 0x01, b: int = 0x01) -> StorageWearUpdated:
    return StorageWearUpdated(
        available=True,
        devices=(
            StorageWear(
                "mmcblk0",
                decode_life_time(a),
                decode_life_time(b),
                decode_pre_eol(pre_eol),
                pre_eol,
            ),
        ),
    )


@pytest.mark.parametrize(
    ("pre_eol", "status", "reasons"),
    [
        (0x00, "ok", ()),
        (0x01, "ok", ()),
        (0x02, "warning", ("mmcblk0 reserved blocks 80% used (pre-EOL warning)",)),
        (0x03, "critical", ("mmcblk0 reserved blocks 90% used (pre-EOL urgent)",)),
    ],
)
def test_pre_eol_warning_and_urgent_are_reasons(
    pre_eol: int, status: str, reasons: tuple[str, ...]
) -> None:
    assessment = evaluate_health(LatestTelemetry(wear=wear(pre_eol)))
    assert (assessment.status, assessment.reasons) == (status, reasons)


def test_life_time_estimates_are_judged_by_their_lower_bound() -> None:
    assert evaluate_health(LatestTelemetry(wear=wear(0x01, a=0x09))).status == "ok"  # 80-90 %
    nearly = evaluate_health(LatestTelemetry(wear=wear(0x01, a=0x0A)))
    assert nearly.reasons == ("mmcblk0 life time A used at least 90.0% (warning at 90%)",)
    spent = evaluate_health(LatestTelemetry(wear=wear(0x01, b=0x0B)))
    assert spent.reasons == ("mmcblk0 life time B used at least 100.0% (critical at 100%)",)


def test_wear_unavailable_is_not_a_problem() -> None:
    missing = StorageWearUpdated(available=False, reason="no eMMC")
    assert evaluate_health(LatestTelemetry(wear=missing)).status == "ok"
