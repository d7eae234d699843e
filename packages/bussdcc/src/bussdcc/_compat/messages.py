"""The 0.42 forms of the kernel's messages: renamed fields, positional orders, optional parts.

0.42 messages had no wire names and some fields were ordered or named differently. A 0.42
program built them like this, and must still get the values into the right fields:

=====================  ===============================================  ==========================
message                0.42 form                                        today
=====================  ===============================================  ==========================
ProcessError           ``(process, error, evt, traceback)``             ``event`` = evt's name
ServiceError           ``(service, error, evt, traceback)``             ``event`` = evt's name
EventSubscriberError   ``(event: Event, handler, error, traceback)``    ``(handler, event: str..)``
ServiceFailure         ``(service, error, traceback)``                  ``(service, reason)``
ServiceRestart         ``(service)``                                    ``attempt``/``delay`` 0
RuntimeShutdown        ``(version)``                                    ``(reason)``
DeviceFailed & co.     ``traceback=None``                               ``traceback=""``
=====================  ===============================================  ==========================

A legacy form is recognised by what today's form cannot be (an `Event` or None where a str
goes, a keyword that no longer exists), converted with a `DeprecationWarning`, and then built
by the dataclass's own ``__init__``; today's forms go straight through. The 0.42 attribute
names (``ProcessError.evt``, ``ServiceFailure.error``, ``RuntimeShutdown.version``) read the
new fields, with a warning.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import deprecated

__all__ = ["adapt_message_forms", "traceback_text"]

_Args = tuple[Any, ...]
_Kwargs = dict[str, Any]
_Adapter = Callable[[_Args, _Kwargs], tuple[_Args, _Kwargs] | None]


def _event_name(value: Any) -> str:
    from ..event import Event

    if isinstance(value, Event):
        name: str = value.payload.name
        return name
    return "" if value is None else str(value)


def traceback_text(value: Any) -> str:
    """0.42 tracebacks were ``Optional[str]``; today they are ``str`` ("" for none)."""
    return "" if value is None else value


def _is_legacy_event(value: Any) -> bool:
    from ..event import Event

    return value is None or isinstance(value, Event)


def _owner_error(owner: str, cls_name: str) -> _Adapter:
    """``XError(owner, error, evt, traceback)``: today ``(owner, error, traceback, event)``."""

    def adapt(args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
        legacy_positional = len(args) >= 3 and _is_legacy_event(args[2])
        if not (legacy_positional or "evt" in kwargs or kwargs.get("traceback", "") is None):
            return None
        deprecated(
            f"{cls_name}({owner}, error, evt, traceback) (the 0.42 form)",
            f"{cls_name}({owner}=..., error=..., traceback=..., event=<wire name>)",
            stacklevel=4,
        )
        fields = dict(zip((owner, "error", "evt", "traceback"), args, strict=False))
        if not legacy_positional:
            fields = dict(zip((owner, "error", "traceback", "event"), args, strict=False))
        fields.update(kwargs)
        if "evt" in fields:
            fields["event"] = _event_name(fields.pop("evt"))
        if "traceback" in fields:
            fields["traceback"] = traceback_text(fields["traceback"])
        return (), fields

    return adapt


def _subscriber_error(args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    from ..event import Event

    positional = bool(args) and isinstance(args[0], Event)
    if not (
        positional or isinstance(kwargs.get("event"), Event) or kwargs.get("traceback", "") is None
    ):
        return None
    deprecated(
        "EventSubscriberError(event=<Event>, ...) (the 0.42 form)",
        "EventSubscriberError(handler=..., event=<wire name>, error=..., traceback=...)",
        stacklevel=4,
    )
    order = (
        ("event", "handler", "error", "traceback")
        if positional
        else ("handler", "event", "error", "traceback")
    )
    fields = dict(zip(order, args, strict=False))
    fields.update(kwargs)
    fields["event"] = _event_name(fields.get("event"))
    fields["traceback"] = traceback_text(fields.get("traceback"))
    return (), fields


def _service_failure(args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    if not ("error" in kwargs or "traceback" in kwargs or len(args) > 2):
        return None
    deprecated(
        "ServiceFailure(service, error, traceback) (the 0.42 form)",
        "ServiceFailure(service=..., reason=...)",
        stacklevel=4,
    )
    fields = dict(zip(("service", "error", "traceback"), args, strict=False))
    fields.update(kwargs)
    fields.pop("traceback", None)
    if "error" in fields:
        fields["reason"] = fields.pop("error")
    return (), fields


def _service_restart(args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    if len(args) > 1 or "attempt" in kwargs:
        return None
    deprecated(
        "ServiceRestart(service) without attempt and delay (the 0.42 form)",
        "ServiceRestart(service=..., attempt=..., delay=...)",
        stacklevel=4,
    )
    fields = dict(zip(("service",), args, strict=False))
    fields.update(kwargs)
    fields.setdefault("attempt", 0)
    fields.setdefault("delay", 0.0)
    return (), fields


def _runtime_shutdown(args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    if "version" not in kwargs:
        return None
    deprecated(
        "RuntimeShutdown(version=...) (the 0.42 form)",
        "RuntimeShutdown(reason=...); the version is in runtime.booting",
        stacklevel=4,
    )
    fields = dict(kwargs)
    fields.pop("version")
    return args, fields


def _optional_traceback(cls_name: str) -> _Adapter:
    def adapt(args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
        if kwargs.get("traceback", "") is not None:
            return None
        deprecated(f"{cls_name}(traceback=None)", f'{cls_name}(traceback="")', stacklevel=4)
        return args, {**kwargs, "traceback": ""}

    return adapt


def _wrap(cls: type, adapt: _Adapter) -> None:
    original = cls.__init__  # type: ignore[misc]

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        adapted = adapt(args, kwargs)
        if adapted is not None:
            args, kwargs = adapted
        original(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]


def _alias(cls: type, old: str, new: str, read: Callable[[Any], Any]) -> None:
    def getter(self: Any) -> Any:
        deprecated(f"{cls.__name__}.{old}", f"{cls.__name__}.{new}")
        return read(self)

    setattr(cls, old, property(getter, doc=f"0.42 name of ``{new}`` (deprecated)."))


def adapt_message_forms(namespace: dict[str, Any]) -> None:
    """Install the 0.42 constructor forms and attribute names on the kernel's messages."""
    from ..version import __version__

    _wrap(namespace["ProcessError"], _owner_error("process", "ProcessError"))
    _wrap(namespace["ServiceError"], _owner_error("service", "ServiceError"))
    _wrap(namespace["EventSubscriberError"], _subscriber_error)
    _wrap(namespace["ServiceFailure"], _service_failure)
    _wrap(namespace["ServiceRestart"], _service_restart)
    _wrap(namespace["RuntimeShutdown"], _runtime_shutdown)
    for name in ("DeviceFailed", "InterfaceError", "RuntimeExtensionError"):
        _wrap(namespace[name], _optional_traceback(name))
    for name in ("ProcessError", "ServiceError"):
        _alias(namespace[name], "evt", "event (the wire name)", lambda m: m.event or None)
    _alias(namespace["ServiceFailure"], "error", "reason", lambda m: m.reason)
    _alias(namespace["RuntimeShutdown"], "version", "bussdcc.__version__", lambda m: __version__)
