"""`NodeProjection`: one remote node's events run through the app's own processes.

A node whose page is open on the hub (or whose state was asked for) gets a small world of
its own, built by `FleetProcess.projection` from what the fleet keeps: an `EventBus`, a
`StateStore`, and the same `SystemProcess` and `HealthProcess` a single host runs, so a
node's state on the hub is exactly what its own dashboard would show (the same paths, the
same records, the same health verdicts by the hub's thresholds), and the dashboard's cards
render it unchanged. A `PushStream` per node turns that state into the live protocol for the
node's page.

Remote events are re-emitted on the node's bus with their original time (`EventBus.emit_at`),
so records carry the node's clock, and ``seq`` numbers on the node bus are the hub's own (a
node restarting at seq 1 never confuses a page's chain).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bussdcc.bus import EventBus
from bussdcc.clock import ClockProtocol
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc.state import StateStore
from bussdcc_framework.interface.push import Pending, PushStream

from ..interfaces.cards import VIEWED, CardViews
from ..interfaces.web import PUSHED, WATCHED
from ..processes import HealthProcess, SystemProcess
from ..telemetry.health import HealthThresholds
from ..telemetry.history import DEFAULT_HISTORY_LIMIT

if TYPE_CHECKING:
    from bussdcc.runtime import Runtime

__all__ = ["NodeContext", "NodeProjection"]

logger = logging.getLogger(__name__)


class NodeContext:
    """The `ContextProtocol` the node's processes run with: the hub's clock and runtime, the
    node's own bus and state."""

    __slots__ = ("clock", "emit", "events", "runtime", "state")

    def __init__(self, clock: ClockProtocol, runtime: Runtime) -> None:
        self.clock = clock
        self.runtime = runtime
        self.events = EventBus(clock)
        self.state = StateStore()
        self.emit: Callable[[Message], Event[Message]] = self.events.emit


class NodeProjection:
    """One node's bus, state, processes and push stream.

    `feed` delivers a remote event (and whatever the processes derive from it, such as
    ``system.health.changed``) and hands each pushed event, with the state it changed, to
    ``on_push`` -- only while `listening` says a page of this node is open, as
    `WebInterface` does. ``history_limit`` is the length of the chart histories. Not
    thread-safe: call `feed` from one thread at a time (the fleet does, under its lock).
    """

    def __init__(
        self,
        node: str,
        clock: ClockProtocol,
        runtime: Runtime,
        *,
        thresholds: HealthThresholds | None = None,
        on_push: Callable[[NodeProjection, Pending], None] | None = None,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
    ) -> None:
        self.node = node
        self.ctx = NodeContext(clock, runtime)
        self.health = HealthProcess(thresholds)
        self.stream = PushStream(PUSHED, watch=WATCHED, views=VIEWED)
        self.views: CardViews | None = None
        """The node page's view renderer (each node remembers its own records and what its
        cards last showed); the hub's web interface creates it with its Jinja environment."""
        self.listening = False
        """Whether a page of this node is open (set by the hub's web interface)."""
        self._on_push = on_push
        bus = self.ctx.events
        for process in (SystemProcess(history_limit), self.health):
            process.start(self.ctx)
            bus.subscribe(
                process.subscriptions,
                lambda evt, p=process: p.handle_event(self.ctx, evt),  # type: ignore[misc]
                on_error=self._failed,
            )
        bus.subscribe(Message, self._observe, on_error=self._failed)

    @property
    def state(self) -> StateStore:
        return self.ctx.state

    def feed(self, payload: Message, time: datetime) -> None:
        """Deliver ``payload`` as it happened on the node at ``time``."""
        self.ctx.events.emit_at(payload, time)

    def _observe(self, evt: Event[Any]) -> None:
        pending = self.stream.observe(evt, self.ctx.state, listening=self.listening)
        if pending is not None and self._on_push is not None:
            self._on_push(self, pending)

    def _failed(self, evt: Event[Message], exc: Exception) -> None:
        logger.error("node %s: handling %s failed", self.node, evt.payload.name, exc_info=exc)
        return
