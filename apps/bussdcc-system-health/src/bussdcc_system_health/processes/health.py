"""`HealthProcess`: derives ``system.health`` from the latest telemetry and reports changes."""

from __future__ import annotations

from typing import Any, Literal

from bussdcc.component import Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import (
    Message,
    RuntimeBooting,
    RuntimeShuttingDown,
    ServiceError,
    ServiceFailure,
    ServiceStarted,
)
from bussdcc_framework.message import SinkError, SinkRecovered

from ..message import (
    HealthChanged,
    HealthStatus,
)
from ..telemetry.health import (
    TELEMETRY_MESSAGES,
    HealthAssessment,
    HealthThresholds,
    LatestTelemetry,
    evaluate_health,
    take_reading,
)

__all__ = ["HEALTH_STATE", "HISTORY_SINK", "HealthProcess"]

HEALTH_STATE = "system.health"

HISTORY_SINK = "JsonlSink"
"""The label ``sink.error`` gives the history sink (a `JsonlSink` has no ``name``)."""

_FAULT_MESSAGES: tuple[type[Message], ...] = (
    SinkError,
    SinkRecovered,
    ServiceError,
    ServiceFailure,
    ServiceStarted,
    RuntimeBooting,
    RuntimeShuttingDown,
)


class HealthProcess(Process):
    """Re-evaluates health on every telemetry event (see `evaluate_health`), and on every
    event saying the app itself is in trouble.

    The app's own faults are reasons too, from public messages:

    - ``sink.error`` from the history sink (the sink labelled ``history_sink``, by default
      ``"JsonlSink"``): warning "history is not being recorded (<error>)", until that sink's
      ``sink.recovered``;
    - ``service.error`` from a service's start or tick: warning "service <name> failed:
      <error>"; ``service.failure``: critical "service <name> has stopped for good: <reason>".
      Each lasts until that service's next ``service.started``. A service stopped on purpose
      (``service.stopped`` without an error) is not a fault. After ``runtime.shutting_down``
      nothing a service reports changes health; ``runtime.booting`` (a new run, as in a
      replayed history) clears the service faults.

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
    subscriptions = (*TELEMETRY_MESSAGES, *_FAULT_MESSAGES)

    def __init__(
        self, thresholds: HealthThresholds | None = None, *, history_sink: str | None = HISTORY_SINK
    ) -> None:
        if thresholds is not None and not isinstance(thresholds, HealthThresholds):
            raise TypeError(f"thresholds must be HealthThresholds, got {thresholds!r}")
        if history_sink is not None and not isinstance(history_sink, str):
            raise TypeError(
                f"history_sink must be a sink label (str) or None, got {history_sink!r}"
            )
        self.thresholds = thresholds or HealthThresholds()
        self.history_sink = history_sink
        self._reset()

    def _reset(self) -> None:
        self._readings: dict[str, Any] = {}
        """What health is judged from: `LatestTelemetry`'s fields (see `take_reading`)."""
        self._history_fault: str | None = None
        self._service_faults: dict[str, tuple[HealthStatus, str]] = {}
        self._shutting_down = False
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
        taken = take_reading(self._readings, payload, evt.time, self.thresholds)
        if not taken and not self._note_fault(payload):
            return
        faults = list(self._service_faults.values())
        if self._history_fault is not None:
            faults.append(("warning", f"history is not being recorded ({self._history_fault})"))
        assessment = evaluate_health(
            LatestTelemetry(**self._readings), self.thresholds, faults=faults
        )
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

    def _note_fault(self, payload: Message) -> bool:
        """Track the app's own faults from ``payload``; True if they changed."""
        if isinstance(payload, RuntimeShuttingDown):
            self._shutting_down = True
            return False
        if isinstance(payload, RuntimeBooting):
            # A new run (a replayed history holds many): its services start afresh.
            self._shutting_down = False
            had = bool(self._service_faults)
            self._service_faults.clear()
            return had
        if isinstance(payload, SinkError | SinkRecovered):
            if payload.sink != self.history_sink:
                return False
            before = self._history_fault
            self._history_fault = payload.error if isinstance(payload, SinkError) else None
            return self._history_fault != before
        if self._shutting_down:
            return False
        faults = self._service_faults
        before_fault = faults.get(getattr(payload, "service", ""))
        if isinstance(payload, ServiceStarted):
            faults.pop(payload.service, None)
        elif isinstance(payload, ServiceFailure):
            faults[payload.service] = (
                "critical",
                f"service {payload.service} has stopped for good: {payload.reason}",
            )
        elif isinstance(payload, ServiceError):
            if payload.event:  # an event handler failed; the service itself still runs
                return False
            faults[payload.service] = (
                "warning",
                f"service {payload.service} failed: {payload.error}",
            )
        return faults.get(getattr(payload, "service", "")) != before_fault
