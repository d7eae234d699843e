"""Registries that attach, start, stop and detach devices, processes and interfaces in order."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from ._compat.managers import LegacyRegistryLookups
from ._validate import boolean, name_string
from .bus import Subscription, describe_failure
from .component import Device, Process, _overrides
from .message import (
    DeviceAttached,
    DeviceDetached,
    DeviceFailed,
    InterfaceError,
    InterfaceStarted,
    InterfaceStopped,
    Message,
    ProcessError,
    ProcessStarted,
    ProcessStopped,
    wire_name,
)

if TYPE_CHECKING:
    from .context import Context

__all__ = ["DeviceManager", "InterfaceManager", "ProcessManager"]

_C = TypeVar("_C", Device, Process)
_D = TypeVar("_D", bound=Device)
_P = TypeVar("_P", bound=Process)


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


class _BootFailure(Exception):
    """A required component failed to come up; carries its name and the exception it raised.

    Internal to the kernel: `Runtime.boot` turns it into the public `BootError`.
    """

    def __init__(self, component: str, cause: BaseException) -> None:
        super().__init__(f"required component {component} failed to start: {cause}")
        self.component = component
        self.cause = cause


class _Registry(LegacyRegistryLookups, Generic[_C]):
    """Ordered components of one kind. Boot brings them up in order; teardown in reverse."""

    kind = "component"

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.RLock()
        self._items: dict[str, _C] = {}
        self._up: list[str] = []  # names that came up, in order
        self._active = False

    def _key(self, item: _C) -> str:
        raise NotImplementedError

    def _bring_up(self, item: _C) -> Exception | None:
        """Bring one component up; return the exception on failure (already reported)."""
        raise NotImplementedError

    def _bring_down(self, item: _C) -> None:
        raise NotImplementedError

    def _check(self, item: object) -> _C:
        raise NotImplementedError

    def add(self, item: object) -> _C:
        component = self._check(item)
        key = self._key(component)
        with self._lock:
            if key in self._items:
                raise ValueError(f"{_a(self.kind)} {self.kind} named {key!r} is already registered")
            self._items[key] = component
            if self._active and self._bring_up(component) is None:
                self._up.append(key)
        return component

    def remove(self, key: str) -> _C:
        with self._lock:
            try:
                component = self._items.pop(key)
            except KeyError:
                raise KeyError(f"no {self.kind} named {key!r}") from None
            if key in self._up:
                self._up.remove(key)
                self._bring_down(component)
        return component

    def get(self, key: str) -> _C | None:
        """The component registered as ``key``, or None (as in 0.42)."""
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[_C]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def boot(self) -> None:
        """Bring every component up in registration order.

        Raises:
            _BootFailure: when a ``required`` component fails (the others stay up, for the
                runtime to roll back).
        """
        with self._lock:
            self._active = True
            for key, component in list(self._items.items()):
                error = self._bring_up(component)
                if error is None:
                    self._up.append(key)
                elif component.required:
                    raise _BootFailure(f"{self.kind} {key!r}", error)

    def teardown(self) -> None:
        """Bring every component that came up down, in reverse order."""
        with self._lock:
            self._active = False
            up, self._up = self._up, []
            for key in reversed(up):
                component = self._items.get(key)
                if component is not None:
                    self._bring_down(component)


class DeviceManager(_Registry[Device]):
    """``rt.devices``: `attach(device)` / `detach(id)`; devices come up first and go down last."""

    kind = "device"

    def _key(self, item: Device) -> str:
        return item.id

    def _check(self, item: object) -> Device:
        if not isinstance(item, Device):
            raise TypeError(f"expected a Device, got {type(item).__name__}")
        boolean(item.required, f"device {item.id!r} required")
        return item

    def attach(self, device: _D) -> _D:
        """Register a device (connecting it now if the runtime is running).

        Raises:
            TypeError: if ``device`` is not a `Device`.
            ValueError: if its id is taken.
        """
        self.add(device)
        return device

    def detach(self, device_id: str) -> Device:
        """Disconnect and forget a device."""
        return self.remove(device_id)

    def _bring_up(self, item: Device) -> Exception | None:
        ctx = self._ctx
        try:
            item.attach(ctx)
        except Exception as exc:
            error, tb = describe_failure(exc)
            item.online = False
            ctx.emit(DeviceFailed(device=item.id, kind=item.kind, error=error, traceback=tb))
            return exc
        ctx.emit(DeviceAttached(device=item.id, kind=item.kind))
        item.set_online()
        return None

    def _bring_down(self, item: Device) -> None:
        ctx = self._ctx
        try:
            item.detach()
        except Exception as exc:
            error, tb = describe_failure(exc)
            ctx.emit(DeviceFailed(device=item.id, kind=item.kind, error=error, traceback=tb))
        item.online = False
        ctx.emit(DeviceDetached(device=item.id, kind=item.kind))


class ProcessManager(_Registry[Process]):
    """``rt.processes``: `register(process)` / `unregister(name)`.

    A process is attached, started, then subscribed to its ``subscriptions``; an exception
    from any hook becomes ``process.error`` (``interface.error`` for interfaces).
    """

    kind = "process"

    @staticmethod
    def started(name: str) -> Message:
        return ProcessStarted(process=name)

    @staticmethod
    def stopped(name: str) -> Message:
        return ProcessStopped(process=name)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._subscriptions: dict[str, Subscription] = {}

    @staticmethod
    def failed(name: str, exc: Exception, event: str) -> Message:
        error, tb = describe_failure(exc)
        return ProcessError(process=name, error=error, traceback=tb, event=event)

    def _key(self, item: Process) -> str:
        return item.component_name

    def _check(self, item: object) -> Process:
        if not isinstance(item, Process):
            kind = self.kind.capitalize()
            raise TypeError(f"expected {_a(kind)} {kind}, got {type(item).__name__}")
        name_string(item.component_name, f"{self.kind} name")
        boolean(item.required, f"{self.kind} {item.component_name!r} required")
        subs = item.subscriptions
        if not isinstance(subs, tuple):
            raise TypeError(f"{item!r}.subscriptions must be a tuple of Message types")
        if not subs:
            raise ValueError(f"{item!r}.subscriptions must name at least one Message type")
        return item

    def register(self, process: _P) -> _P:
        """Register a process (starting it now if the runtime is running).

        Raises:
            TypeError: if ``process`` is not a `Process`.
            ValueError: if its name is taken.
        """
        self.add(process)
        return process

    def unregister(self, name: str) -> Process:
        """Stop, detach and forget a process."""
        return self.remove(name)

    def _bring_up(self, item: Process) -> Exception | None:
        ctx, name = self._ctx, item.component_name
        steps: tuple[Callable[[], None], ...] = (
            functools.partial(item.attach, ctx),
            functools.partial(item.start, ctx),
        )
        for step in steps:
            try:
                step()
            except Exception as exc:
                ctx.emit(self.failed(name, exc, ""))
                return exc
        if _overrides(item, "handle_event", Process):
            self._subscriptions[name] = ctx.events.subscribe(
                item.subscriptions,
                functools.partial(item.handle_event, ctx),  # cheaper than a lambda per event
                on_error=lambda evt, exc: self.failed(name, exc, wire_name(evt.payload)),
                label=f"{self.kind}:{name}",
            )
        ctx.emit(self.started(name))
        return None

    def _bring_down(self, item: Process) -> None:
        ctx, name = self._ctx, item.component_name
        sub = self._subscriptions.pop(name, None)
        if sub is not None:
            sub.cancel()
        steps: tuple[Callable[[], None], ...] = (functools.partial(item.stop, ctx), item.detach)
        for step in steps:
            try:
                step()
            except Exception as exc:
                ctx.emit(self.failed(name, exc, ""))
        ctx.emit(self.stopped(name))


class InterfaceManager(ProcessManager):
    """``rt.interfaces``: like processes, started after them, reported as ``interface.*``."""

    kind = "interface"

    @staticmethod
    def started(name: str) -> Message:
        return InterfaceStarted(interface=name)

    @staticmethod
    def stopped(name: str) -> Message:
        return InterfaceStopped(interface=name)

    @staticmethod
    def failed(name: str, exc: Exception, event: str) -> Message:
        error, tb = describe_failure(exc)
        return InterfaceError(interface=name, error=error, traceback=tb, event=event)
