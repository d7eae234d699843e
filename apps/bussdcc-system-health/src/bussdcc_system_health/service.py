"""`SystemService`: samples every telemetry collector once per tick and emits what it reads."""

from __future__ import annotations

from collections.abc import Iterable

from bussdcc.bus import describe_failure
from bussdcc.component import Service
from bussdcc.context import ContextProtocol

from .collectors import Collector, default_collectors
from .defaults import INTERVAL_MAX, INTERVAL_MIN
from .message import CollectorFailed
from .validation import seconds_between

__all__ = ["CollectionFailed", "SystemService"]


class CollectionFailed(RuntimeError):
    """Every collector failed in one tick; the message lists each one's error."""

    def __init__(self, errors: dict[str, str]) -> None:
        detail = "; ".join(f"{name}: {error}" for name, error in errors.items())
        super().__init__(f"every telemetry collector failed: {detail}")
        self.errors = errors


class SystemService(Service):
    """Observes the host and emits one telemetry message per collector each tick.

    It only observes and emits; state is the processes' business. A collector that raises
    is skipped for that tick and reported once per failure streak as
    ``system.collector.failed``; the others still report. When every collector fails in a
    tick, `tick` raises `CollectionFailed`, so the supervisor reports ``service.error`` and
    restarts the service.

    ``collectors`` defaults to `default_collectors()`; tests pass fakes. ``interval``
    (seconds, default 1.0) overrides the class attribute.

    Raises:
        TypeError: if a collector lacks ``name`` or ``collect``, or ``interval`` is not a
            number.
        ValueError: if two collectors share a name, or ``interval`` is not from
            `INTERVAL_MIN` (0.01 s) to `INTERVAL_MAX` (a day).
    """

    name = "system"
    interval = 1.0

    def __init__(
        self, collectors: Iterable[Collector] | None = None, *, interval: float | None = None
    ) -> None:
        chosen = tuple(default_collectors() if collectors is None else collectors)
        names: set[str] = set()
        for collector in chosen:
            if not isinstance(collector, Collector):
                raise TypeError(f"not a collector (needs name and collect()): {collector!r}")
            if collector.name in names:
                raise ValueError(f"two collectors are named {collector.name!r}")
            names.add(collector.name)
        self.collectors = chosen
        if interval is not None:
            self.interval = seconds_between(interval, "interval", INTERVAL_MIN, INTERVAL_MAX)
        self._failing: set[str] = set()

    def tick(self, ctx: ContextProtocol) -> None:
        now = ctx.clock.monotonic()
        errors: dict[str, str] = {}
        for collector in self.collectors:
            try:
                message = collector.collect(now)
            except Exception as exc:
                error = errors[collector.name] = describe_failure(exc)[0]
                if collector.name not in self._failing:
                    self._failing.add(collector.name)
                    ctx.emit(CollectorFailed(collector=collector.name, error=error))
                continue
            self._failing.discard(collector.name)
            if message is not None:
                ctx.emit(message)
        if self.collectors and len(errors) == len(self.collectors):
            raise CollectionFailed(errors)
