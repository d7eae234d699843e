"""Replay: the `EventSource` and `EventSink` protocols and the deterministic `ReplayRuntime`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .event import Event

if TYPE_CHECKING:
    from .context import ContextProtocol

__all__ = ["EventSink", "EventSource"]


@runtime_checkable
class EventSource(Protocol):
    """Anything that yields recorded events in time order."""

    def __iter__(self) -> Iterator[Event[Any]]: ...


@runtime_checkable
class EventSink(Protocol):
    """Receives every event of a runtime: `start` before boot, `handle` each, `stop` after shutdown."""

    def start(self, ctx: ContextProtocol) -> None: ...

    def handle(self, evt: Event[Any]) -> None: ...

    def stop(self) -> None: ...
