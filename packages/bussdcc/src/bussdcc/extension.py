"""`RuntimeExtension`: the public way to take part in a runtime's lifecycle without subclassing.

A layer above the kernel (the framework's sinks, signal handling, a systemd notifier, a test
tracer) adds behaviour at fixed points of `Runtime.boot`, `Runtime.shutdown` and
`ReplayRuntime.replay` by registering an extension with ``rt.extend(ext)``. The hooks, their
order and their failure policy are the contract; nothing else of the runtime is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .event import Event
    from .runtime import Runtime

__all__ = ["RuntimeExtension"]


class RuntimeExtension:
    """Hooks into a runtime's lifecycle. Subclass and override the hooks you need; the others
    do nothing. Register with `Runtime.extend` before boot.

    Order in ``boot()`` (each boot hook runs for every extension in registration order):

    1. `before_boot` -- first of all, before ``runtime.booting``;
    2. ``runtime.booting``; devices, processes and interfaces come up; ``runtime.booted``;
    3. `before_services` -- services have not started yet;
    4. services start; the runtime is now ``running``;
    5. `booted` -- last step of ``boot()``.

    Order in ``shutdown(reason)`` (each shutdown hook runs in reverse registration order):

    1. `shutting_down` -- first, before ``runtime.shutting_down``;
    2. ``runtime.shutting_down``; everything comes down in reverse; ``runtime.shutdown``;
    3. `after_shutdown` -- last of all.

    `ReplayRuntime` also calls `replayed` after each re-emitted event has been delivered.

    Failure policy: a boot hook that raises is reported as ``runtime.extension_error`` and
    aborts boot like a ``required`` component -- everything already up is shut down again (all
    shutdown hooks run, so they must cope with a boot that did not finish) and ``boot()``
    raises `BootError` with ``component == "extension '<name>'"`` and the exception as
    ``cause``. A shutdown hook or `replayed` that raises is reported as
    ``runtime.extension_error`` and the runtime carries on: shutdown always completes.

    Hooks run in the thread calling ``boot``/``shutdown``/``replay``, holding the runtime's
    lifecycle lock: a hook may emit, read state and register components, but must not wait
    for another thread that itself boots or shuts the runtime down.
    """

    name: str = ""
    """How failures name this extension; defaults to the class name."""

    @property
    def extension_name(self) -> str:
        return self.name or type(self).__name__

    def before_boot(self, runtime: Runtime) -> None:
        """First step of boot, before ``runtime.booting`` is emitted."""

    def before_services(self, runtime: Runtime) -> None:
        """After ``runtime.booted`` (devices, processes and interfaces are up), before any
        service starts."""

    def booted(self, runtime: Runtime) -> None:
        """Boot has finished: services started and the runtime is ``running``."""

    def shutting_down(self, runtime: Runtime, reason: str | None) -> None:
        """First step of shutdown, before ``runtime.shutting_down`` is emitted."""

    def after_shutdown(self, runtime: Runtime, reason: str | None) -> None:
        """Last step of shutdown, after ``runtime.shutdown`` was delivered."""

    def replayed(self, runtime: Runtime, original: Event[Any], emitted: Event[Any]) -> None:
        """`ReplayRuntime` only: ``original`` (as read from the source, with its recorded
        ``seq``) was re-emitted as ``emitted`` and delivered, with everything it caused."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.extension_name}>"
