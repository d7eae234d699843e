"""`EventBus`: synchronous, thread-safe, run-to-completion delivery of typed messages.

The guarantees, each proved in ``tests/test_bus.py``:

* An emit made outside any handler returns after every subscriber has handled the event and
  everything their handlers emitted.
* An emit made inside a handler is queued and delivered after the current event has reached
  every subscriber, so all subscribers see one order and the stack stays flat.
* One dispatch at a time: handlers never run concurrently, whichever threads emit.
* A failing subscriber never stops delivery to the others. Its failure becomes a message
  (``event.subscriber_error`` unless the subscription says otherwise) -- except while handling
  an ERROR-or-worse event, where it is counted and logged instead, so a cascade cannot loop.
* Reporting a failure never fails: an exception whose ``str`` raises, a payload without a
  name, or a subscription's own reporter that raises still yield a report
  (``tests/test_error_reporting.py``).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ._compat.bus import LegacyBusAPI, emit_event
from ._validate import aware_datetime
from .clock import ClockProtocol, SystemClock
from .event import Event
from .message import EventSubscriberError, Message, Severity, wire_name

# Event._stamped without the classmethod call: the bus builds one event per emit.
_tuple_new = tuple.__new__

__all__ = ["EventBus", "Subscription", "describe_failure"]

_log = logging.getLogger("bussdcc.bus")

_Handler = Callable[[Event[Any]], object]
_ErrorReporter = Callable[[Event[Message], Exception], Message | None]
"""Builds the message reporting a subscriber's failure, or None to report nothing."""

_MessageTypes = type[Message] | tuple[type[Message], ...]


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """``("TypeName: text", formatted traceback)`` for an exception: the one error format.

    Never raises: an exception whose ``__str__`` (or ``__repr__``) raises is described as
    ``"TypeName: <str() failed: ...>"``, and a traceback that cannot be formatted as
    ``"<traceback unavailable: ...>"`` -- an error reporter must not fail on what it reports.
    """
    try:
        kind = type(exc).__name__
    except Exception:  # pragma: no cover - a metaclass with a broken __name__
        kind = "<unknown exception type>"
    try:
        text = str(exc)
    except Exception as broken:
        text = f"<str() failed: {_safe_kind(broken)}>"
    try:
        tb = "".join(traceback.format_exception(exc))
    except Exception as broken:
        tb = f"<traceback unavailable: {_safe_kind(broken)}>"
    return f"{kind}: {text}", tb


def _safe_kind(exc: BaseException) -> str:
    try:
        return type(exc).__name__
    except Exception:  # pragma: no cover
        return "?"


def _label(handler: Callable[..., object]) -> str:
    owner = getattr(handler, "__self__", None)
    name = getattr(handler, "__qualname__", None) or repr(handler)
    if owner is not None and not isinstance(owner, type):
        return f"{type(owner).__qualname__}.{getattr(handler, '__name__', name)}"
    return str(name)


def _check_types(message_types: object) -> tuple[type[Message], ...]:
    types = message_types if isinstance(message_types, tuple) else (message_types,)
    if not types:
        raise ValueError("message_type must name at least one Message type")
    for t in types:
        if not (isinstance(t, type) and issubclass(t, Message)):
            raise TypeError(f"can only subscribe to Message subclasses, got {t!r}")
    return types


class Subscription:
    """A handler's registration on the bus; `cancel()` stops further deliveries."""

    __slots__ = ("_bus", "active", "handler", "label", "message_types", "on_error")

    def __init__(
        self,
        bus: EventBus,
        message_types: tuple[type[Message], ...],
        handler: _Handler,
        on_error: _ErrorReporter | None,
        label: str,
    ) -> None:
        self._bus = bus
        self.message_types = message_types
        self.handler = handler
        self.on_error = on_error
        self.label = label
        self.active = True

    def cancel(self) -> None:
        """Stop delivering to this handler (idempotent; safe from inside a handler)."""
        self._bus._remove(self)

    def __repr__(self) -> str:
        state = "active" if self.active else "cancelled"
        return f"<Subscription {self.label} {state}>"


class EventBus(LegacyBusAPI):
    """Routes each message to the subscribers of its class or any base class, in order."""

    def __init__(self, clock: ClockProtocol | None = None) -> None:
        clock = clock or SystemClock()
        # A clock may offer timestamp() (POSIX seconds): far cheaper than building a datetime
        # per event; Event.time converts it only when read.
        self._stamp: Callable[[], float | datetime] = getattr(clock, "timestamp", clock.now_utc)
        self._lock = threading.RLock()
        self._subscriptions: list[Subscription] = []
        self._routes: dict[type[Message], tuple[Subscription, ...]] = {}
        self._pending: deque[Event[Message]] = deque()
        self._dispatching = False
        self._seq = 0
        self.suppressed_failures = 0
        """Failures while handling ERROR-or-worse events: counted and logged, not re-emitted."""

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(
        self,
        message_type: _MessageTypes,
        handler: _Handler,
        *,
        on_error: _ErrorReporter | None = None,
        label: str | None = None,
    ) -> Subscription:
        """Deliver every event whose payload is an instance of ``message_type`` to ``handler``.

        ``message_type`` may be a tuple of types. Subscribing to `Message` sees everything.

        Raises:
            TypeError: if ``message_type`` is not a Message subclass or ``handler`` is not
                callable.
            ValueError: if ``message_type`` is an empty tuple.
        """
        types = _check_types(message_type)
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        sub = Subscription(self, types, handler, on_error, label or _label(handler))
        with self._lock:
            self._subscriptions.append(sub)
            self._routes.clear()
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub.active:
                sub.active = False
                self._subscriptions.remove(sub)
                self._routes.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def _route(self, cls: type[Message]) -> tuple[Subscription, ...]:
        subs = tuple(s for s in self._subscriptions if issubclass(cls, s.message_types))
        self._routes[cls] = subs
        return subs

    # -- emitting ----------------------------------------------------------------------------

    def emit(self, message: Message) -> Event[Message]:
        """Stamp ``message`` with the clock's time and the next ``seq`` and deliver it.

        Returns once the event and everything emitted while handling it have been delivered
        -- unless called from inside a handler, where the event is queued and delivered after
        the current one.

        Raises:
            TypeError: if ``message`` is not a `Message` instance.
        """
        if not isinstance(message, Message):
            legacy: Any = message  # type: ignore[unreachable]  # untyped callers get here
            if isinstance(legacy, Event):  # the 0.42 form (bussdcc._compat.bus)
                return emit_event(self, legacy)
            raise TypeError(f"can only emit Message instances, got {type(message).__name__}")
        return self._publish(message, self._stamp())

    def emit_at(self, message: Message, time: datetime) -> Event[Message]:
        """Like `emit`, but with an explicit (timezone-aware) time: how replay re-emits.

        Raises:
            TypeError: if ``message`` is not a `Message` or ``time`` is not a datetime.
            ValueError: if ``time`` is naive.
        """
        if not isinstance(message, Message):
            raise TypeError(f"can only emit Message instances, got {type(message).__name__}")
        aware_datetime(time, "time")
        return self._publish(message, time)

    def _publish(self, message: Message, stamp: float | datetime) -> Event[Message]:
        # The hot path: explicit acquire/release is several times cheaper than `with`.
        lock = self._lock
        lock.acquire()
        try:
            self._seq = seq = self._seq + 1
            evt: Event[Message] = _tuple_new(Event, (stamp, message, seq))
            if self._dispatching:
                self._pending.append(evt)
                return evt
            self._dispatching = True
            try:
                self._deliver(evt, message)
                pending = self._pending
                while pending:
                    queued = pending.popleft()
                    self._deliver(queued, queued[1])
            finally:
                self._dispatching = False
        finally:
            lock.release()
        return evt

    def in_dispatch(self) -> bool:
        """True when the calling thread is inside a handler of this bus."""
        owned: bool = self._dispatching and self._lock._is_owned()  # type: ignore[attr-defined]
        return owned

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the most recent event."""
        return self._seq

    def _deliver(self, evt: Event[Message], message: Message) -> None:
        # ``message`` is evt's payload, passed along to skip the property call.
        cls = type(message)
        subs = self._routes.get(cls)
        if subs is None:
            subs = self._route(cls)
        for sub in subs:
            if sub.active:
                try:
                    sub.handler(evt)
                except Exception as exc:
                    self._failed(sub, evt, exc)

    def _failed(self, sub: Subscription, evt: Event[Message], exc: Exception) -> None:
        # Runs inside delivery: whatever goes wrong here must not stop it.
        try:
            report = self._failure_report(sub, evt, exc)
            if report is not None:
                self._publish(report, self._stamp())  # queued: we are dispatching
        except Exception:  # pragma: no cover - every step above is guarded already
            _log.exception("reporting a failure of %s failed", sub.label)

    def _failure_report(
        self, sub: Subscription, evt: Event[Message], exc: Exception
    ) -> Message | None:
        payload = evt.payload
        if payload.severity >= Severity.ERROR:
            self.suppressed_failures += 1
            _log.error(
                "%s failed while handling %s (seq %d); not re-emitted",
                sub.label,
                wire_name(payload),
                evt.seq,
                exc_info=exc,
            )
            return None
        if sub.on_error is not None:
            try:
                # Typed as Message | None, but a reporter is user code: check what it gave.
                custom: object = sub.on_error(evt, exc)
            except Exception:
                # The subscription's own reporter failed: report it the generic way instead.
                _log.exception("error reporter of %s failed", sub.label)
            else:
                if custom is None:
                    return None
                if isinstance(custom, Message):
                    return custom
                _log.error("error reporter of %s returned %r, not a Message", sub.label, custom)
        error, tb = describe_failure(exc)
        return EventSubscriberError(
            handler=sub.label, event=wire_name(payload), error=error, traceback=tb
        )
