"""Health evaluation: thresholds applied to the latest telemetry give ok / warning / critical.

Each reading is judged on its own, instantaneously; the worst verdict is the status and each
breach contributes one human-readable reason. Throttling is judged by the firmware's flags:
under-voltage now is critical, frequency capping, throttling or the soft temperature limit
now are warnings. Conditions that occurred earlier since boot but are not active now do not
change the status; they are reported as ``notes`` (an under-voltage event an hour ago still
tells the operator the power supply is marginal).

Two judgements look further back than one reading. A disk is judged busy only when it has
stayed at or above a level for ``disk_busy_seconds`` without a break (a `BusyStreak`, kept
by `extend_busy_streak` from one `DiskIoUpdated` to the next): copying a file keeps a disk
busy for seconds, a failing SD card or a runaway writer for minutes. eMMC wear is judged by
the card's own pre-end-of-life flag (warning -> warning, urgent -> critical) and by its
life-time estimates against ``storage_life_used_percent`` (the lower bound of each estimate's
range; "exceeded" counts as 100 %).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bussdcc.message import Message

from ..message import (
    CpuUsageUpdated,
    DiskIoUpdated,
    DiskUsageUpdated,
    HealthStatus,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    StorageWearUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..validation import non_negative, number
from .throttling import active_conditions

__all__ = [
    "TELEMETRY_MESSAGES",
    "BusyStreak",
    "HealthAssessment",
    "HealthThresholds",
    "LatestTelemetry",
    "Threshold",
    "evaluate_health",
    "extend_busy_streak",
    "extend_busy_streaks",
    "sustained_level",
    "take_reading",
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
    disk_busy_percent: Threshold = field(default_factory=lambda: Threshold(90.0, 98.0))
    """Applied to every block device's busy share, once sustained for ``disk_busy_seconds``."""
    disk_busy_seconds: float = 300.0
    """How long a disk must stay at or above a busy level before it counts (0: at once)."""
    storage_life_used_percent: Threshold = field(default_factory=lambda: Threshold(90.0, 100.0))
    """Applied to each eMMC life-time estimate's lower bound (0x0A is 90 %, exceeded 100 %)."""

    def __post_init__(self) -> None:
        non_negative(self.disk_busy_seconds, "disk_busy_seconds")


@dataclass(slots=True, frozen=True)
class LatestTelemetry:
    """The most recent message of each kind; None where none has arrived yet."""

    cpu: CpuUsageUpdated | None = None
    memory: MemoryUsageUpdated | None = None
    disk: DiskUsageUpdated | None = None
    load: LoadAverageUpdated | None = None
    temperature: TemperatureUpdated | None = None
    throttling: ThrottlingUpdated | None = None
    disk_busy: Mapping[str, BusyStreak] = field(default_factory=dict)
    """Each block device's busy streak (see `extend_busy_streaks`)."""
    wear: StorageWearUpdated | None = None


_FIELDS: dict[type[Message], str] = {
    CpuUsageUpdated: "cpu",
    MemoryUsageUpdated: "memory",
    DiskUsageUpdated: "disk",
    LoadAverageUpdated: "load",
    TemperatureUpdated: "temperature",
    ThrottlingUpdated: "throttling",
    StorageWearUpdated: "wear",
}
"""The `LatestTelemetry` field each telemetry message fills (found by exact class)."""

TELEMETRY_MESSAGES: tuple[type[Message], ...] = (*_FIELDS, DiskIoUpdated)
"""Every message `take_reading` takes into account: what health is judged from."""


def take_reading(
    readings: dict[str, Any], payload: Message, at: datetime, thresholds: HealthThresholds
) -> bool:
    """Put the reading ``payload`` into ``readings`` (`LatestTelemetry`'s fields by name, so
    ``LatestTelemetry(**readings)`` is what health is judged from); False, leaving it as it
    was, if ``payload`` is not one of the `TELEMETRY_MESSAGES`. ``at`` is when the reading
    was taken (the event's time), which a `DiskIoUpdated` extends the disks' busy streaks to.

    The one way a host's `HealthProcess` and the fleet hub's view of each node keep what
    health is judged from, so both judge a node alike. A dict rather than a new
    `LatestTelemetry` per reading: the hub takes hundreds of readings a second.
    """
    if isinstance(payload, DiskIoUpdated):
        readings["disk_busy"] = extend_busy_streaks(
            readings.get("disk_busy", {}), payload, at.timestamp(), thresholds.disk_busy_percent
        )
        return True
    name = _FIELDS.get(type(payload))
    if name is None:
        return False
    readings[name] = payload
    return True


@dataclass(slots=True, frozen=True)
class BusyStreak:
    """How long one disk has stayed busy at or above each level of a threshold, without a break.

    Times are seconds on one clock (the events' POSIX times, so a replay judges alike).
    ``warning_since``/``critical_since`` are when the unbroken run at or above that level
    began, None when the latest reading is below it; ``until`` is the end of the latest
    reading, ``percent`` its busy share.
    """

    percent: float
    until: float
    warning_since: float | None = None
    critical_since: float | None = None


def extend_busy_streak(
    streak: BusyStreak | None, percent: float | None, start: float, end: float, threshold: Threshold
) -> BusyStreak | None:
    """The streak after one more reading of ``percent`` busy covering ``start``..``end``.

    A reading below a level ends the run at that level; an unknown reading (None) ends the
    streak altogether (None). A reading that starts more than its own length after the
    previous one ended (a sample went missing) starts the runs afresh from ``start``.
    """
    if percent is None:
        return None
    joined = streak is not None and start - streak.until <= max(end - start, 0.0)

    def since(level: float, previous: float | None) -> float | None:
        if percent < level:
            return None
        return previous if joined and previous is not None else start

    return BusyStreak(
        percent=percent,
        until=end,
        warning_since=since(threshold.warning, streak.warning_since if streak else None),
        critical_since=since(threshold.critical, streak.critical_since if streak else None),
    )


def extend_busy_streaks(
    streaks: Mapping[str, BusyStreak],
    io: DiskIoUpdated,
    end: float,
    threshold: Threshold,
) -> dict[str, BusyStreak]:
    """Every device's streak after the `DiskIoUpdated` ``io`` that ended at time ``end``.

    Devices absent from ``io``, or whose busy share is unknown in it, have no streak.
    """
    start = end - io.interval
    result = {}
    for device in io.devices:
        streak = extend_busy_streak(streaks.get(device.device), device.busy, start, end, threshold)
        if streak is not None:
            result[device.device] = streak
    return result


def sustained_level(streak: BusyStreak, seconds: float) -> HealthStatus:
    """The highest level ``streak`` has held for at least ``seconds``."""
    if streak.critical_since is not None and streak.until - streak.critical_since >= seconds:
        return "critical"
    if streak.warning_since is not None and streak.until - streak.warning_since >= seconds:
        return "warning"
    return "ok"


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
    temperature, throttling, disk busy, storage wear, then the faults in their given order.
    Missing telemetry (nothing received yet, temperature or throttling unavailable on this
    host) is not a reason: health reflects what is known.
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
    for device, streak in sorted(latest.disk_busy.items()):
        level = sustained_level(streak, limits.disk_busy_seconds)
        if level != "ok":
            limit = (
                limits.disk_busy_percent.critical
                if level == "critical"
                else (limits.disk_busy_percent.warning)
            )
            verdicts.append(
                (
                    level,
                    f"disk {device} busy {streak.percent:.1f}% ({level} at {limit:g}% "
                    f"sustained {limits.disk_busy_seconds:g} s)",
                )
            )
    if latest.wear is not None:
        for card in latest.wear.devices:
            if card.pre_eol == "urgent":
                verdicts.append(
                    ("critical", f"{card.device} reserved blocks 90% used (pre-EOL urgent)")
                )
            elif card.pre_eol == "warning":
                verdicts.append(
                    ("warning", f"{card.device} reserved blocks 80% used (pre-EOL warning)")
                )
            for kind, estimate in (("A", card.life_time_a), ("B", card.life_time_b)):
                if estimate.used_min is not None:
                    _judge(
                        limits.storage_life_used_percent,
                        float(estimate.used_min),
                        f"{card.device} life time {kind} used at least",
                        "%",
                        verdicts,
                    )

    verdicts.extend(faults)
    verdicts.sort(key=lambda verdict: -_RANK[verdict[0]])  # stable: keeps category order
    return HealthAssessment(
        status=worst(*(level for level, _ in verdicts)),
        reasons=tuple(reason for _, reason in verdicts),
        notes=tuple(notes),
    )
