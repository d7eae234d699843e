"""The `Context`: the small capability container every component receives."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .bus import EventBus
from .clock import ClockProtocol
from .event import Event
from .message import Message
from .state import StateStore

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["Context", "ContextProtocol"]


@runtime_checkable
class ContextProtocol(Protocol):
    """What a component may use: time, the bus, shared state, the runtime, and `emit`."""

    @property
    def clock(self) -> ClockProtocol: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def state(self) -> StateStore: ...

    @property
    def runtime(self) -> Runtime: ...

    def emit(self, message: Message) -> Event[Message]:
        """Emit ``message`` through the runtime's bus (the one authoritative path)."""
        ...


class Context:
    """The runtime's implementation of `ContextProtocol`."""

    __slots__ = ("clock", "emit", "events", "runtime", "state")

    emit: Callable[[Message], Event[Message]]

    def __init__(
        self, clock: ClockProtocol, events: EventBus, state: StateStore, runtime: Runtime
    ) -> None:
        self.clock = clock
        self.events = events
        self.state = state
        self.runtime = runtime
        # Bound once: ctx.emit is the hottest call in the system, so skip a layer of indirection.
        self.emit = events.emit

    def __repr__(self) -> str:
        return f"<Context of {self.runtime!r}>"
