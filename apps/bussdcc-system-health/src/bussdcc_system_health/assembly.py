"""Assembles the app: which services, processes, interface and sinks run, for live and replay."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bussdcc import Event
from bussdcc_framework.io.console import ConsoleSink
from bussdcc_framework.runtime import ReplayRuntime, Runtime
from bussdcc_framework.service import SystemIdentityService

from . import defaults
from .history import add_rollups
from .interfaces import SystemWebInterface
from .message import HealthChanged
from .notify import DEFAULT_NOTIFY_AFTER, AppriseSender, HealthNotifier
from .processes import HealthProcess, SystemProcess
from .recording import history_root, history_sink
from .service import SystemService

if TYPE_CHECKING:
    # The MQTT bridge is imported only when --mqtt asks for it (memory: most hosts run alone).
    from .fleet.node import NodeOptions

__all__ = [
    "AppOptions",
    "build_live_runtime",
    "build_replay_runtime",
    "derived_removed",
]

DERIVED_MESSAGES = (HealthChanged,)
"""Messages the processes derive again in a replay (see `derived_removed`)."""


@dataclass(frozen=True, slots=True)
class AppOptions:
    """Everything the command line can choose (defaults from `bussdcc_system_health.defaults`)."""

    host: str = defaults.HOST
    port: int = defaults.DASHBOARD_PORT
    interval: float = defaults.INTERVAL
    data_dir: Path = defaults.DATA_DIR
    record: bool = True
    quiet: bool = False
    retention: timedelta = defaults.RETENTION
    notify: tuple[str, ...] = ()
    """Apprise URLs to tell about lasting health trouble (empty: no notifications)."""
    notify_after: float = DEFAULT_NOTIFY_AFTER
    fleet: NodeOptions | None = None
    """Publish as a fleet node through MQTT (``--mqtt``; None: stay on this host alone)."""
    token: str | None = None
    """The token every dashboard request must carry (None: open; see `interfaces.access`)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names the dashboard answers to besides this machine's own (``--allowed-host``)."""
    console: TextIO | None = field(default=None, compare=False)


def _add_projection(rt: Runtime | ReplayRuntime, options: AppOptions) -> SystemWebInterface:
    # The same processes and dashboard serve live data and replays.
    rt.add_process(SystemProcess())
    # One set of thresholds: the health verdicts and the dashboard's colours agree.
    health = rt.add_process(HealthProcess())
    web = SystemWebInterface(
        host=options.host,
        port=options.port,
        thresholds=health.thresholds,
        token=options.token,
        allowed_hosts=options.allowed_hosts,
    )
    rt.add_interface(web)
    if not options.quiet:
        rt.add_sink(ConsoleSink() if options.console is None else ConsoleSink(options.console))
    return web


def build_live_runtime(options: AppOptions) -> tuple[Runtime, SystemWebInterface]:
    """The monitoring runtime: identity + telemetry services, processes, dashboard, sinks.

    Raises:
        HistoryUnwritable: when recording is on and the history directory is not writable.
        NotifyUnavailable: when ``notify`` is given but Apprise is not installed.
        ValueError: when Apprise does not understand a ``notify`` URL.
    """
    # Checked first: a bad --notify should fail before anything is opened.
    sender = AppriseSender(options.notify) if options.notify else None
    rt = Runtime()
    if options.record:
        rt.add_sink(history_sink(options.data_dir, options.retention))
    # Templates are compiled in memory at each start: nothing in the data directory is ever
    # loaded as code (a compiled-template cache there would unpickle whatever it holds).
    web = _add_projection(rt, options)
    if options.record:
        web.history = add_rollups(rt, options.data_dir, history_root(options.data_dir))
    rt.add_service(SystemIdentityService())
    rt.add_service(SystemService(interval=options.interval))
    if sender is not None:
        rt.add_service(HealthNotifier(sender, after=options.notify_after))
    if options.fleet is not None:
        from .fleet.node import add_node

        add_node(rt, options.fleet)
    return rt, web


def derived_removed(source: Iterable[Event[Any]]) -> Iterator[Event[Any]]:
    """The recorded events minus those the processes derive again during a replay.

    `HealthProcess` recomputes ``system.health.changed`` from the replayed telemetry; passing
    the recorded copies through as well would show every transition twice.
    """
    return (evt for evt in source if not isinstance(evt.payload, DERIVED_MESSAGES))


def build_replay_runtime(
    options: AppOptions,
    speed: float,
    source: Iterable[Event[Any]],
    *,
    max_gap: float | None = defaults.REPLAY_MAX_GAP,
) -> tuple[ReplayRuntime, SystemWebInterface]:
    """A replay runtime driving the dashboard from recorded history (nothing is re-recorded).

    Gaps between recorded events longer than ``max_gap`` seconds are shortened to it (None
    keeps them).
    """
    rt = ReplayRuntime(speed=speed, max_gap=max_gap)
    web = _add_projection(rt, options)
    rt.add_source(derived_removed(source))
    return rt, web
