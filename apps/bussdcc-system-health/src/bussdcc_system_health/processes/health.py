"""`HealthProcess`: derives ``system.health`` from the latest telemetry and reports changes."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from bussdcc.component import Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message

from ..message import (
    CpuUsageUpdated,
    DiskIoUpdated,
    DiskUsageUpdated,
    HealthChanged,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    StorageWearUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..telemetry.health import (
    HealthAssessment,
    HealthThresholds,
    LatestTelemetry,
    evaluate_health,
    extend_busy_streaks,
)

__all__ = ["HEALTH_STATE", "HealthProcess"]

HEALTH_STATE = "system.health"

# message type -> the LatestTelemetry field it fills
_FIELDS: dict[type[Message], str] = {
    CpuUsageUpdated: "cpu",
    MemoryUsageUpdated: "memory",
    DiskUsageUpdated: "disk",
    LoadAverageUpdated: "load",
    TemperatureUpdated: "temperature",
    ThrottlingUpdated: "throttling",
    StorageWearUpdated: "wear",
}


class HealthProcess(Process):
    """Re-evaluates health on every telemetry event (see `evaluate_health`).

    State ``system.health`` holds ``{"status": "ok"|"warning"|"critical", "reasons": [...],
    "notes": [...], "since": iso}``, where ``since`` is the time of the event that caused the
    current status; it is rewritten only when the assessment changes. ``system.health.changed``
    is emitted on each status transition, the first evaluation included (from ``"unknown"``).
    A reason changing within the same status updates state but emits nothing.
    ``system.disk.io.updated`` extends each disk's busy streak, timed by the events' own
    times, so a replay reaches the same verdicts as the live run.

    Raises:
        TypeError: if ``thresholds`` is not a `HealthThresholds`.
    """

    name = "health"
    subscriptions = (*_FIELDS, DiskIoUpdated)

    def __init__(self, thresholds: HealthThresholds | None = None) -> None:
        if thresholds is not None and not isinstance(thresholds, HealthThresholds):
            raise TypeError(f"thresholds must be HealthThresholds, got {thresholds!r}")
        self.thresholds = thresholds or HealthThresholds()
        self._reset()

    def _reset(self) -> None:
        self._latest = LatestTelemetry()
        self._status: Literal["unknown", "ok", "warning", "critical"] = "unknown"
        self._assessment: HealthAssessment | None = None
        self._since = ""

    def start(self, ctx: ContextProtocol) -> None:
        self._reset()

    @property
    def status(self) -> Literal["unknown", "ok", "warning", "critical"]:
        """The current status; ``"unknown"`` before any telemetry arrived."""
        return self._status

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        payload = evt.payload
        if isinstance(payload, DiskIoUpdated):
            streaks = extend_busy_streaks(
                self._latest.disk_busy,
                payload,
                evt.time.timestamp(),
                self.thresholds.disk_busy_percent,
            )
            self._latest = dataclasses.replace(self._latest, disk_busy=streaks)
        else:
            field = _FIELDS.get(type(payload))
            if field is None:
                return
            self._latest = dataclasses.replace(self._latest, **{field: payload})
        assessment = evaluate_health(self._latest, self.thresholds)
        if assessment == self._assessment:
            return
        self._assessment = assessment
        previous = self._status
        if assessment.status != previous:
            self._status = assessment.status
            self._since = evt.time.isoformat()
        ctx.state.set(
            HEALTH_STATE,
            {
                "status": assessment.status,
                "reasons": list(assessment.reasons),
                "notes": list(assessment.notes),
                "since": self._since,
            },
        )
        if assessment.status != previous:
            ctx.emit(
                HealthChanged(
                    previous=previous, status=assessment.status, reasons=assessment.reasons
                )
            )
