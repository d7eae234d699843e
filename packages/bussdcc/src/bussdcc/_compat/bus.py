"""The 0.42 forms of the bus: ``emit(Event)`` and ``unsubscribe(subscription)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import deprecated

if TYPE_CHECKING:
    from ..bus import EventBus, Subscription
    from ..event import Event

__all__ = ["LegacyBusAPI", "emit_event"]


def emit_event(bus: EventBus, evt: Event[Any]) -> Event[Any]:
    """0.42 emitted a ready-made `Event`; today the bus stamps the message itself. The
    event's own time is kept (as replay does); its ``seq`` is the bus's next."""
    deprecated("events.emit(Event(...))", "ctx.emit(message) (or events.emit_at(message, time))")
    return bus.emit_at(evt.payload, evt.time)


class LegacyBusAPI:
    def unsubscribe(self, subscription: Subscription) -> None:
        """0.42: ``events.unsubscribe(sub)``; today ``sub.cancel()``."""
        deprecated("events.unsubscribe(subscription)", "subscription.cancel()")
        subscription.cancel()
