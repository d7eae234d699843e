"""Typed messages: the `Message` base, `Severity`, the name registry, and the kernel's own messages.

Every message is a frozen, slotted dataclass with a class-level wire ``name`` (a stable dotted
string such as ``process.error``) and a ``severity``. Defining a subclass registers it under its
name, so a recorded name can be resolved back to its class without importing anything. A
subclass that declares no name (every 0.42-style message) is named ``<module>:<QualName>``.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .._validate import dotted_path

__all__ = [
    "DeviceAttached",
    "DeviceDetached",
    "DeviceFailed",
    "DeviceOffline",
    "DeviceOnline",
    "EventSubscriberError",
    "InterfaceError",
    "InterfaceStarted",
    "InterfaceStopped",
    "Message",
    "ProcessError",
    "ProcessStarted",
    "ProcessStopped",
    "RuntimeBooted",
    "RuntimeBooting",
    "RuntimeExtensionError",
    "RuntimeShutdown",
    "RuntimeShuttingDown",
    "ServiceError",
    "ServiceFailure",
    "ServiceRestart",
    "ServiceStarted",
    "ServiceStopped",
    "Severity",
    "SystemReload",
    "SystemSignal",
    "lookup",
    "registered",
    "wire_name",
]


class Severity(enum.IntEnum):
    """How serious a message is. Ordered, so ``severity >= Severity.ERROR`` works."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @property
    def label(self) -> str:
        """The lower-case wire form, e.g. ``"info"``."""
        return self.name.lower()


_registry: dict[str, type[Message]] = {}
_registry_lock = threading.Lock()


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _same_definition(taken: type, cls: type) -> bool:
    # The slotted copy is created with __qualname__ equal to the bare __name__ (dataclasses
    # sets the real one only afterwards), so a nested or function-local class is recognised
    # by the tail of the qualified name it was first registered under.
    if taken.__module__ != cls.__module__:
        return False
    return taken.__qualname__ == cls.__qualname__ or (
        cls.__qualname__ == cls.__name__ and taken.__qualname__.endswith("." + cls.__name__)
    )


# Marks a class whose ``name`` was given by `_register`, not declared: its subclasses get
# names of their own instead of inheriting it (two classes under one name could not replay).
_AUTO_NAMED = "_bussdcc_auto_named"


def _declared_name(cls: type) -> str | None:
    """The name ``cls`` declares or inherits from a class that declared one, else None."""
    for klass in cls.__mro__:
        if klass is Message or "name" not in klass.__dict__:
            continue
        if klass is not cls and klass.__dict__.get(_AUTO_NAMED, False):
            return None  # inherited from an automatically named base: not a declaration
        name: str = klass.__dict__["name"]
        return name
    return None


def _register(cls: type[Message]) -> None:
    if "name" not in cls.__dict__:
        if _declared_name(cls) is not None:
            # Inherits a declared name: a variant recorded under its parent's name, as in
            # 0.42; the name keeps resolving to the parent.
            _check_severity(cls)
            return
        # No name anywhere: the class's qualified name is its wire name (stable for as
        # long as the class is not moved). The slotted copy that dataclass(slots=True)
        # builds inherits this attribute in its own dict and keeps it.
        cls.name = _qualified(cls)
        setattr(cls, _AUTO_NAMED, True)
    name = cls.__dict__["name"]
    if not cls.__dict__.get(_AUTO_NAMED, False):
        dotted_path(name, f"{_qualified(cls)}.name")
    _check_severity(cls)
    with _registry_lock:
        taken = _registry.get(name)
        # dataclass(slots=True) builds a second class object for the same class; that (and
        # re-running a module) replaces the entry instead of conflicting.
        if taken is not None and not _same_definition(taken, cls):
            raise TypeError(
                f"message name {name!r} is already registered to {_qualified(taken)}; "
                f"{_qualified(cls)} must choose another name"
            )
        _registry[name] = cls


def _check_severity(cls: type[Message]) -> None:
    severity = cls.__dict__.get("severity", cls.severity)
    if not isinstance(severity, Severity):
        raise TypeError(f"{_qualified(cls)}.severity must be a Severity, got {severity!r}")


def wire_name(message: object) -> str:
    """The wire name of ``message`` (an instance or a class), for reports: never raises.

    A `Message` gives its ``name``; anything else (a bare ``Message()``, an object that is
    not a message at all, a class whose ``name`` is broken) gives ``<module>:<QualName>`` of
    its class, so an error reporter can always say what it was handling.
    """
    try:
        cls = message if isinstance(message, type) else type(message)
        name = getattr(cls, "name", None)
        if isinstance(name, str) and name:
            return name
        return _qualified(cls)
    except Exception:
        return "<unnamed>"


def lookup(name: str) -> type[Message] | None:
    """Return the message class registered under wire ``name``, or None."""
    return _registry.get(name)


def registered() -> Mapping[str, type[Message]]:
    """A snapshot of the registry: wire name -> message class."""
    with _registry_lock:
        return dict(_registry)


@dataclass(slots=True, frozen=True)
class Message:
    """Base of every message. Subclass as a frozen, slotted dataclass and set ``name``.

    ``name`` is the stable wire name; ``severity`` defaults to INFO. Every subclass is
    registered at class creation under its name; reusing a name taken by a different class
    raises ``TypeError``. A subclass that declares no ``name`` and inherits none declared by
    a base is named ``<module>:<QualName>`` (``myapp.messages:CpuUsage``), so a 0.42-style
    message is recorded and replayed like any other; declare a dotted ``name`` to keep the
    wire name stable when the class moves. A subclass of a class that declared a name
    inherits that name (it records as its parent and is not registered itself).
    """

    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.INFO

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Explicit form: zero-argument super() breaks in slotted dataclasses (bpo-46404).
        super(Message, cls).__init_subclass__(**kwargs)
        _register(cls)

    def to_dict(self) -> dict[str, Any]:
        """The message's fields as plain data (nested dataclasses become dicts)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --- runtime lifecycle -------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RuntimeBooting(Message):
    name = "runtime.booting"
    version: str


@dataclass(slots=True, frozen=True)
class RuntimeBooted(Message):
    name = "runtime.booted"
    version: str


@dataclass(slots=True, frozen=True)
class RuntimeShuttingDown(Message):
    name = "runtime.shutting_down"
    reason: str | None = None


@dataclass(slots=True, frozen=True)
class RuntimeShutdown(Message):
    name = "runtime.shutdown"
    reason: str | None = None


@dataclass(slots=True, frozen=True)
class RuntimeExtensionError(Message):
    """A `RuntimeExtension` hook raised. During boot it also aborts boot (`BootError`); in
    the shutdown hooks and ``replayed`` it is only reported and the runtime carries on."""

    name = "runtime.extension_error"
    severity = Severity.ERROR
    extension: str
    hook: str
    error: str
    traceback: str = ""


# --- devices -----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class DeviceAttached(Message):
    name = "device.attached"
    device: str
    kind: str


@dataclass(slots=True, frozen=True)
class DeviceOnline(Message):
    name = "device.online"
    device: str
    kind: str


@dataclass(slots=True, frozen=True)
class DeviceOffline(Message):
    name = "device.offline"
    severity = Severity.WARNING
    device: str
    kind: str
    error: str | None = None


@dataclass(slots=True, frozen=True)
class DeviceDetached(Message):
    name = "device.detached"
    device: str
    kind: str


@dataclass(slots=True, frozen=True)
class DeviceFailed(Message):
    name = "device.failed"
    severity = Severity.ERROR
    device: str
    kind: str
    error: str
    traceback: str = ""


# --- processes and interfaces ------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ProcessStarted(Message):
    name = "process.started"
    process: str


@dataclass(slots=True, frozen=True)
class ProcessStopped(Message):
    name = "process.stopped"
    process: str


@dataclass(slots=True, frozen=True)
class ProcessError(Message):
    """A process raised; ``event`` names the message it was handling ("" outside dispatch)."""

    name = "process.error"
    severity = Severity.ERROR
    process: str
    error: str
    traceback: str = ""
    event: str = ""


@dataclass(slots=True, frozen=True)
class InterfaceStarted(Message):
    name = "interface.started"
    interface: str


@dataclass(slots=True, frozen=True)
class InterfaceStopped(Message):
    name = "interface.stopped"
    interface: str


@dataclass(slots=True, frozen=True)
class InterfaceError(Message):
    name = "interface.error"
    severity = Severity.ERROR
    interface: str
    error: str
    traceback: str = ""
    event: str = ""


# --- services ----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ServiceStarted(Message):
    name = "service.started"
    service: str


@dataclass(slots=True, frozen=True)
class ServiceStopped(Message):
    name = "service.stopped"
    service: str
    reason: str | None = None


@dataclass(slots=True, frozen=True)
class ServiceError(Message):
    name = "service.error"
    severity = Severity.ERROR
    service: str
    error: str
    traceback: str = ""
    event: str = ""


@dataclass(slots=True, frozen=True)
class ServiceRestart(Message):
    name = "service.restart"
    severity = Severity.WARNING
    service: str
    attempt: int
    delay: float


@dataclass(slots=True, frozen=True)
class ServiceFailure(Message):
    name = "service.failure"
    severity = Severity.CRITICAL
    service: str
    reason: str


# --- the bus and the host ----------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class EventSubscriberError(Message):
    """A bus subscriber raised while handling the event named ``event``."""

    name = "event.subscriber_error"
    severity = Severity.ERROR
    handler: str
    event: str
    error: str
    traceback: str = ""


@dataclass(slots=True, frozen=True)
class SystemSignal(Message):
    """A POSIX signal (or an application-defined action) turned into a message."""

    name = "system.signal"
    signal: int
    action: str = ""


@dataclass(slots=True, frozen=True)
class SystemReload(Message):
    name = "system.reload"
    signal: int = 1


# The 0.42 constructor forms and attribute names (bussdcc._compat.messages; gone at 1.0).
from .._compat.messages import adapt_message_forms as _adapt_message_forms  # noqa: E402

_adapt_message_forms(globals())
