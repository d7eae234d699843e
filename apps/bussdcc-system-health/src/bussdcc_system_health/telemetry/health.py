"""Health evaluation: thresholds applied to the latest telemetry give ok / warning / critical.

Each reading is judged on its own, instantaneously; the worst verdict is the status and each
breach contributes one human-readable reason. Throttling is judged by the firmware's flags:
under-voltage now is critical, frequency capping, throttling or the soft temperature limit
now are warnings. Conditions that occurred earlier since boot but are not active now do not
change the status; they are reported as ``notes`` (an under-voltage event an hour ago still
tells the operator the power supply is marginal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    HealthStatus,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..validation import number
from .throttling import active_conditions

__all__ = [
    "HealthAssessment",
    "HealthThresholds",
    "LatestTelemetry",
    "Threshold",
    "evaluate_health",
    "worst",
]

_RANK: dict[HealthStatus, int] = {"ok": 0, "warning": 1, "critical": 2}

_Verdict = tuple[HealthStatus, str]


def worst(*statuses: HealthStatus) -> HealthStatus:
    """The most severe of ``statuses`` (``"ok"`` when none are given)."""
    return max(statuses, key=_RANK.__getitem__, default="ok")


@dataclass(slots=True, frozen=True)
class Threshold:
    """A value at or above ``warning`` is a warning, at or above ``critical`` critical.

    Raises:
        TypeError: if a limit is not a number.
        ValueError: if a limit is NaN or ``warning`` exceeds ``critical``.
    """

    warning: float
    critical: float

    def __post_init__(self) -> None:
        for label in ("warning", "critical"):
            number(getattr(self, label), label)
        if self.warning > self.critical:
            raise ValueError(
                f"threshold warning ({self.warning}) must not exceed critical ({self.critical})"
            )

    def level(self, value: float) -> HealthStatus:
        """The status ``value`` earns against this threshold."""
        if value >= self.critical:
            return "critical"
        if value >= self.warning:
            return "warning"
        return "ok"


@dataclass(slots=True, frozen=True)
class HealthThresholds:
    """The limits health is judged by. Defaults suit a Raspberry Pi or a small server."""

    cpu_busy_percent: Threshold = field(default_factory=lambda: Threshold(85.0, 95.0))
    memory_percent: Threshold = field(default_factory=lambda: Threshold(85.0, 95.0))
    disk_percent: Threshold = field(default_factory=lambda: Threshold(90.0, 95.0))
    """Applied to every filesystem."""
    temperature_celsius: Threshold = field(default_factory=lambda: Threshold(70.0, 80.0))
    """Applied to every sensor. A Pi 4/5 starts soft-throttling at 80 °C."""
    load_per_core: Threshold = field(default_factory=lambda: Threshold(1.5, 3.0))
    """Applied to the 1-minute load average divided by the number of logical CPUs."""


@dataclass(slots=True, frozen=True)
class LatestTelemetry:
    """The most recent message of each kind; None where none has arrived yet."""

    cpu: CpuUsageUpdated | None = None
    memory: MemoryUsageUpdated | None = None
    disk: DiskUsageUpdated | None = None
    load: LoadAverageUpdated | None = None
    temperature: TemperatureUpdated | None = None
    throttling: ThrottlingUpdated | None = None


@dataclass(slots=True, frozen=True)
class HealthAssessment:
    """A verdict: the status, why it is not ok, and past events worth knowing about."""

    status: HealthStatus
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _judge(
    threshold: Threshold, value: float, describe: str, unit: str, verdicts: list[_Verdict]
) -> None:
    level = threshold.level(value)
    if level != "ok":
        limit = threshold.critical if level == "critical" else threshold.warning
        verdicts.append((level, f"{describe} {value:.1f}{unit} ({level} at {limit:g}{unit})"))


def evaluate_health(
    latest: LatestTelemetry,
    thresholds: HealthThresholds | None = None,
    *,
    faults: Iterable[tuple[HealthStatus, str]] = (),
) -> HealthAssessment:
    """Judge ``latest`` against ``thresholds`` (the defaults when None).

    ``faults`` are the app's own troubles as ``(status, reason)`` -- history not being
    recorded, a service that died -- judged alongside the readings.

    Reasons are listed critical first, then in the order CPU, memory, disk, load,
    temperature, throttling, then the faults in their given order. Missing telemetry (nothing
    received yet, temperature or throttling unavailable on this host) is not a reason:
    health reflects what is known.
    """
    limits = thresholds or HealthThresholds()
    verdicts: list[_Verdict] = []
    notes: list[str] = []

    if latest.cpu is not None:
        _judge(limits.cpu_busy_percent, latest.cpu.busy, "CPU busy", "%", verdicts)
    if latest.memory is not None:
        _judge(limits.memory_percent, latest.memory.percent, "memory used", "%", verdicts)
    if latest.disk is not None:
        for fs in latest.disk.filesystems:
            _judge(limits.disk_percent, fs.percent, f"disk {fs.mountpoint} used", "%", verdicts)
    if latest.load is not None:
        _judge(
            limits.load_per_core,
            latest.load.load1_per_core,
            "load per core",
            "",
            verdicts,
        )
    if latest.temperature is not None and latest.temperature.available:
        for sensor in latest.temperature.sensors:
            label = f"{sensor.name} {sensor.label}".strip()
            _judge(limits.temperature_celsius, sensor.current, label, " °C", verdicts)
    throttling = latest.throttling
    if throttling is not None and throttling.now is not None:
        now = throttling.now
        if now.under_voltage:
            verdicts.append(("critical", "under-voltage now: the power supply is insufficient"))
        for condition in active_conditions(now):
            if condition != "under-voltage":
                verdicts.append(("warning", f"{condition} now"))
        if throttling.since_boot is not None:
            past = active_conditions(throttling.since_boot)
            active_now = set(active_conditions(now))
            earlier = [c for c in past if c not in active_now]
            if earlier:
                notes.append(f"occurred since boot: {', '.join(earlier)}")

    verdicts.extend(faults)
    verdicts.sort(key=lambda verdict: -_RANK[verdict[0]])  # stable: keeps category order
    return HealthAssessment(
        status=worst(*(level for level, _ in verdicts)),
        reasons=tuple(reason for _, reason in verdicts),
        notes=tuple(notes),
    )
