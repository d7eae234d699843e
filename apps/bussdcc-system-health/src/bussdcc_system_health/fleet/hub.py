"""The fleet hub: one dashboard, ``/api/nodes`` and ``/metrics`` for every node on a broker.

``bussdcc-system-health hub --mqtt mqtt://broker`` runs `build_hub_runtime`: an `MqttSource`
receiving every node's events, a `FleetProcess` projecting each node through the app's own
processes, a `FleetWatch` noticing silent nodes, the hub's own JSONL history (what it
received, as `RemoteEvent` records: `build_hub_replay_runtime` plays it back into the same
dashboard) and `HubWebInterface`:

* ``/``: every node at a glance, worst first, kept live: the page's snapshot carries the
  whole table, then a Socket.IO ``"fleet"`` message at most every ``batch_window`` (0.05 s)
  carries ``{"rows": [{"node", "seq", "events", "status", "html"?}], "order"?}`` for the
  rows that changed (``html`` only when what the row shows changed: each row is rendered at
  most once per message, and only while a client is connected) and the new worst-first
  order when it changed. Remote events themselves are not streamed to the fleet page: its
  cost stays per row, not per event;
* ``/node/<name>``: the node's own dashboard, the same cards, kept live through the hub on
  the Socket.IO namespace ``/node`` (the client names the node in its ``auth``);
* ``/api/nodes``: ``{"nodes": [{"node", "status", "last_seen", ...}]}`` worst first;
* ``/api/nodes/<name>/state``: the node's projected state;
* ``/metrics``: Prometheus metrics of every node, with a ``node`` label.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from flask import Flask, Response, abort, has_app_context, jsonify, render_template, request
from flask_socketio import SocketIO, join_room
from flask_socketio import emit as socketio_emit
from jinja2 import Template
from prometheus_client.core import GaugeMetricFamily, Metric

from bussdcc.component import Service
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc_framework.interface.push import Pending
from bussdcc_framework.interface.web import WebInterface
from bussdcc_framework.io.console import ConsoleSink
from bussdcc_framework.message import FrameworkShuttingDown
from bussdcc_framework.mqtt import (
    DEFAULT_PREFIX,
    MqttBroker,
    MqttSource,
)
from bussdcc_framework.runtime import ReplayRuntime, Runtime

from .. import defaults
from ..interfaces.cards import CardViews, card_values
from ..interfaces.web import install_dashboard
from ..recording import history_root, history_sink
from ..telemetry.health import HealthThresholds
from ..version import __version__
from .fleet import FleetProcess, NodeSilent
from .metrics import StateCollector, register_metrics_route
from .projection import NodeProjection

__all__ = [
    "NODE_NAMESPACE",
    "FleetWatch",
    "HubOptions",
    "HubWebInterface",
    "build_hub_replay_runtime",
    "build_hub_runtime",
    "default_session",
]

logger = logging.getLogger(__name__)

NODE_NAMESPACE = "/node"
"""The Socket.IO namespace of node pages; a client sends ``auth={"node": name}``."""

HISTORY_BATCH = 100
"""Events the hub's history sink writes at once (see `build_hub_runtime`)."""

_STOP: Any = object()


@dataclass(frozen=True, slots=True)
class HubOptions:
    """What ``hub`` can choose on the command line."""

    broker: MqttBroker | str | None = None
    host: str = defaults.HOST
    port: int = defaults.DASHBOARD_PORT
    interval: float = defaults.INTERVAL
    """The nodes' sampling interval assumed until a node's own shows (for silence)."""
    data_dir: Path = Path("data-hub")
    record: bool = True
    quiet: bool = False
    retention: timedelta = defaults.RETENTION
    prefix: str = DEFAULT_PREFIX
    session: str | None = field(default_factory=lambda: default_session())
    """The hub's persistent MQTT session (its client id): the broker keeps the subscription
    and queues what the nodes publish while the hub is away (restarting, upgrading) and
    delivers it when it is back. None: a clean session (what is published meanwhile is not
    seen). Two hubs on one broker need different names."""
    console: TextIO | None = field(default=None, compare=False)


def default_session() -> str:
    """``bussdcc-hub-<host name>`` (at most 64 characters): one hub per host by default."""
    host = socket.gethostname().split(".", 1)[0] or "localhost"
    return f"bussdcc-hub-{host}"[:64]


class FleetWatch(Service):
    """Every ``interval`` seconds, emits `NodeSilent` for each node that went quiet for more
    than three of its intervals (once per silence: the next event from it ends it), and lets
    the fleet drop node projections nobody uses any more."""

    name = "fleet-watch"

    def __init__(self, fleet: FleetProcess, interval: float = 1.0) -> None:
        self.fleet = fleet
        self.interval = interval

    def tick(self, ctx: ContextProtocol) -> None:
        for node, last_seen in self.fleet.silent_nodes(ctx.clock.now_utc()):
            ctx.emit(NodeSilent(node=node, last_seen=last_seen))
        self.fleet.release_idle()


class HubWebInterface(WebInterface):
    """The hub's dashboard (see the module docstring). The fleet page gets the changed rows
    (``"fleet"`` messages, from a sender thread of its own); node pages get their node's own
    stream on `NODE_NAMESPACE`."""

    import_name = "bussdcc_system_health"

    def __init__(
        self,
        fleet: FleetProcess,
        host: str = defaults.HOST,
        port: int = defaults.DASHBOARD_PORT,
        *,
        queue_size: int = 4096,
        **kwargs: Any,
    ) -> None:
        # Nothing of the bus is pushed to the fleet page through the event chain: rows are.
        super().__init__(host, port, push=(), queue_size=queue_size, **kwargs)
        # So the bus need not call us for every remote event (the base class subscribes to
        # everything when nothing is pushed, and would look at each event to push nothing).
        # A subscription must name a class: one seen once, at shutdown.
        self.subscriptions = (FrameworkShuttingDown,)
        self.fleet = fleet
        fleet.on_push = self._node_push
        fleet.on_change = self._fleet_changed
        self.node_dropped = 0
        """Node-page events dropped because their queue was full (pages resync)."""
        self._node_outbox: queue.Queue[Any] = queue.Queue(queue_size)
        self._node_sender: threading.Thread | None = None
        self._listeners: dict[str, set[str]] = {}
        self._listeners_lock = threading.Lock()
        self._fleet_wake = threading.Event()
        self._fleet_stopping = False
        self._fleet_sender: threading.Thread | None = None
        self._shown: dict[str, tuple[Any, ...]] = {}
        """What each row last sent to the fleet page showed (the sender thread's memory)."""

    def create_app(self) -> Flask:
        app = super().create_app()
        install_dashboard(app, self.fleet.thresholds)
        # Compiled now, not by the first update of a hundred rows while events queue up.
        app.jinja_env.get_template("fleet/row.html")
        return app

    # -- the fleet page ------------------------------------------------------------------------

    def snapshot(self, *, views: bool = True) -> dict[str, Any]:
        """`WebInterface.snapshot`, with the whole fleet table as the ``fleet-table`` view."""
        snapshot = super().snapshot(views=False)
        if views:
            snapshot["views"] = {
                "fleet-table": self._render("fleet/table.html", rows=self.fleet.rows())
            }
        return snapshot

    def _render(self, template: str, **values: Any) -> str:
        app = self.app
        if has_app_context() or app is None:
            return render_template(template, **values)
        with app.app_context():
            return render_template(template, **values)

    def _fleet_changed(self) -> None:
        # Called for every remote event: Event.set takes a lock and wakes the sender, is_set
        # does neither; while the sender is busy the event stays set (see _fleet_send_loop).
        if not self._fleet_wake.is_set():
            self._fleet_wake.set()

    def _fleet_send_loop(self, socketio: SocketIO) -> None:
        wake = self._fleet_wake
        while True:
            wake.wait()
            # Busy: the wake event stays set, so the bus thread does not signal this thread
            # for every window; every batch_window the rows changed meanwhile go out in one
            # message (one render per row per window). A window that brings nothing clears
            # the event and the thread sleeps until the next change sets it.
            while not self._fleet_stopping:
                if self.batch_window:
                    time.sleep(self.batch_window)
                if self._push_fleet(socketio):
                    continue
                wake.clear()
                # A change between that look and the clear saw the event set: look again.
                if not self._push_fleet(socketio):
                    break
                wake.set()
            if self._fleet_stopping:
                return

    def _push_fleet(self, socketio: SocketIO) -> bool:
        """Send the rows changed since the last call (if a client is connected: one
        connecting later starts from a snapshot); whether anything had changed."""
        changes = self.fleet.take_changes()
        if not changes.rows and changes.order is None:
            return False
        if self.client_count:
            try:
                update = self._fleet_update(changes.rows, changes.order)
                if update is not None:
                    socketio.emit("fleet", update, namespace="/")
            except Exception:
                logger.exception("hub: could not push the fleet's rows")
        return True

    def _fleet_update(
        self, rows: list[dict[str, Any]], order: list[str] | None
    ) -> dict[str, Any] | None:
        entries = []
        app = self.app
        # The template straight from Jinja: Flask's render_template would run the context
        # processors (the dashboard's globals) for every row, which the row does not use.
        row_template = None if app is None else app.jinja_env.get_template("fleet/row.html")
        for row in rows:
            entry = {
                "node": row["node"],
                "seq": row["seq"],
                "events": row["events"],
                "status": row["status"],
            }
            shown = _shown(row)
            if self._shown.get(row["node"]) != shown and row_template is not None:
                entry["html"] = _render_row(row_template, row)
                self._shown[row["node"]] = shown
            entries.append(entry)
        if not entries and order is None:
            return None
        update: dict[str, Any] = {"rows": entries}
        if order is not None:
            update["order"] = order
        return update

    # -- node pages ----------------------------------------------------------------------------

    def _node_push(self, projection: NodeProjection, pending: Pending) -> None:
        try:
            self._node_outbox.put_nowait((projection, pending))
        except queue.Full:
            self.node_dropped += 1

    def _node_renderer(self, projection: NodeProjection) -> Any:
        app = self.app

        def render(values: Mapping[str, Any], snapshot: bool) -> Mapping[str, Any]:
            if app is None:
                return {}
            try:
                with app.app_context():
                    if projection.views is None:
                        projection.views = CardViews(app.jinja_env)
                    return projection.views.render(values, snapshot)
            except Exception:
                logger.exception("hub: could not render node %s", projection.node)
                return {}

        return render

    def _node_snapshot(self, projection: NodeProjection) -> dict[str, Any]:
        # A snapshot render forgets what the cards showed (CardViews.render).
        return projection.stream.snapshot(
            projection.state.snapshot,
            projection.ctx.clock.now_utc(),
            self._node_renderer(projection),
        )

    def _node_send_loop(self, socketio: SocketIO, outbox: queue.Queue[Any]) -> None:
        while True:
            first = outbox.get()
            if first is _STOP:
                return
            if self.batch_window:
                time.sleep(self.batch_window)
            batch, stopping = [first], False
            while len(batch) < 512:
                try:
                    item = outbox.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            by_node: dict[str, tuple[NodeProjection, list[Pending]]] = {}
            for projection, pending in batch:
                by_node.setdefault(projection.node, (projection, []))[1].append(pending)
            for node, (projection, items) in by_node.items():
                records = projection.stream.records(items, self._node_renderer(projection))
                if records:
                    try:
                        socketio.emit("events", records, namespace=NODE_NAMESPACE, to=node)
                    except Exception:
                        logger.exception("hub: could not push node %s", node)
            if stopping:
                return

    def register_socketio(self, socketio: SocketIO, ctx: ContextProtocol) -> None:
        def on_connect(auth: Any = None) -> bool:
            node = auth.get("node") if isinstance(auth, dict) else None
            projection = self.fleet.projection(node) if isinstance(node, str) else None
            if projection is None or not isinstance(node, str):
                return False
            sid = str(request.sid)  # type: ignore[attr-defined]
            join_room(node)
            with self._listeners_lock:
                self._listeners.setdefault(node, set()).add(sid)
                projection.listening = True
            socketio_emit("snapshot", self._node_snapshot(projection))
            return True

        def on_disconnect(reason: Any = None) -> None:
            sid = str(request.sid)  # type: ignore[attr-defined]
            with self._listeners_lock:
                for node, sids in self._listeners.items():
                    if sid in sids:
                        sids.discard(sid)
                        projection = self.fleet.projection(node, build=False)
                        if projection is not None and not sids:
                            projection.listening = False

        def on_resync(data: Any = None) -> None:
            sid = str(request.sid)  # type: ignore[attr-defined]
            with self._listeners_lock:
                nodes = [n for n, sids in self._listeners.items() if sid in sids]
            for node in nodes:
                projection = self.fleet.projection(node)
                if projection is not None:
                    socketio_emit("snapshot", self._node_snapshot(projection))

        socketio.on_event("connect", on_connect, namespace=NODE_NAMESPACE)
        socketio.on_event("disconnect", on_disconnect, namespace=NODE_NAMESPACE)
        socketio.on_event("resync", on_resync, namespace=NODE_NAMESPACE)
        self._node_outbox = queue.Queue(self.queue_size)
        self._node_sender = threading.Thread(
            target=self._node_send_loop,
            args=(socketio, self._node_outbox),
            name=f"{self.name}-node-push",
            daemon=True,
        )
        self._node_sender.start()
        self._fleet_stopping = False
        self._fleet_wake.set()  # a first message with the order as it is now
        self._fleet_sender = threading.Thread(
            target=self._fleet_send_loop,
            args=(socketio,),
            name=f"{self.name}-fleet-push",
            daemon=True,
        )
        self._fleet_sender.start()

    def stop(self, ctx: ContextProtocol) -> None:
        sender = self._node_sender
        if sender is not None:
            self._node_outbox.put(_STOP)
            sender.join(5)
            self._node_sender = None
        fleet_sender = self._fleet_sender
        if fleet_sender is not None:
            self._fleet_stopping = True
            self._fleet_wake.set()
            fleet_sender.join(5)
            self._fleet_sender = None
        self._shown.clear()
        with self._listeners_lock:
            self._listeners.clear()
        for _, projection in self.fleet.projections():
            projection.listening = False
        super().stop(ctx)

    # -- routes --------------------------------------------------------------------------------

    def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
        fleet = self.fleet

        @app.route("/")
        def fleet_page() -> str:
            snapshot = self.snapshot(views=False)
            return render_template(
                "fleet.html", snapshot=snapshot, rows=fleet.rows(), version=__version__
            )

        @app.route("/api/nodes")
        def api_nodes() -> Response:
            response = jsonify({"nodes": fleet.rows()})
            response.headers["Cache-Control"] = "no-store"
            return response

        @app.route("/node/<node>")
        def node_page(node: str) -> str:
            projection = fleet.projection(node)
            if projection is None:
                abort(404)
            snapshot = projection.stream.snapshot(
                projection.state.snapshot, projection.ctx.clock.now_utc()
            )
            return render_template(
                "dashboard.html",
                snapshot=snapshot,
                time=snapshot["time"],
                version=__version__,
                live_namespace=NODE_NAMESPACE,
                live_node=node,
                **card_values(snapshot["state"]),
            )

        @app.route("/api/nodes/<node>/state")
        def api_node_state(node: str) -> Response:
            projection = fleet.projection(node)
            if projection is None:
                return Response(
                    '{"error": "unknown node"}', status=404, mimetype="application/json"
                )
            response = jsonify(projection.state.snapshot())
            response.headers["Cache-Control"] = "no-store"
            return response

        register_metrics_route(
            app,
            StateCollector(
                lambda: [({"node": node}, read) for node, read in fleet.readers()],
                lambda: _liveness(fleet.rows()),
            ),
        )


def _render_row(template: Template, row: Mapping[str, Any]) -> str:
    """``template.render(row=row)`` without the environment's globals: the row uses none,
    and `Template.render` copies all of the dashboard's into a fresh context for every row
    (a fifth of a row's cost). ``shared=True`` is Jinja's documented way to pass exactly
    these variables."""
    context = template.new_context({"row": row}, shared=True)
    return template.environment.concat(template.root_render_func(context))


def _shown(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a fleet row shows (row.html): a row whose figures did not change is not rendered
    or sent again. ``last_seen`` counts to the second, as the page shows it."""
    last_seen = row["last_seen"]
    return (
        row["status"],
        tuple(row["reasons"]),
        row["cpu"],
        row["memory"],
        row["disk"],
        row["disk_mountpoint"],
        row["temperature"],
        row["throttled"],
        row["under_voltage"],
        last_seen[:19] if isinstance(last_seen, str) else None,
    )


def _liveness(rows: Iterable[Mapping[str, Any]]) -> list[Metric]:
    from datetime import datetime

    up = GaugeMetricFamily("bussdcc_node_up", "1 if the node is online", labels=["node"])
    seen = GaugeMetricFamily(
        "bussdcc_node_last_seen_timestamp_seconds",
        "When the hub last received anything from the node (Unix time)",
        labels=["node"],
    )
    for row in rows:
        up.add_metric([row["node"]], 0.0 if row["status"] == "offline" else 1.0)
        if row["last_seen"]:
            seen.add_metric([row["node"]], datetime.fromisoformat(row["last_seen"]).timestamp())
    return [up, seen]


def _add_hub(
    rt: Runtime | ReplayRuntime, options: HubOptions
) -> tuple[FleetProcess, HubWebInterface]:
    fleet = rt.add_process(FleetProcess(interval=options.interval, thresholds=HealthThresholds()))
    web = HubWebInterface(fleet, host=options.host, port=options.port)
    rt.add_interface(web)
    if not options.quiet:
        rt.add_sink(ConsoleSink() if options.console is None else ConsoleSink(options.console))
    return fleet, web


def build_hub_runtime(options: HubOptions) -> tuple[Runtime, HubWebInterface]:
    """The live hub (see the module docstring).

    Raises:
        ValueError: for a missing or bad broker URL.
        HistoryUnwritable: when recording is on and the history directory is not writable.
    """
    if options.broker is None:
        raise ValueError("the hub needs a broker: --mqtt mqtt://HOST[:PORT]")
    broker = MqttBroker.of(options.broker)
    rt = Runtime()
    source = MqttSource(broker, prefix=options.prefix, session=options.session)
    if options.record:
        # In batches: hundreds of events a second from a fleet, one write each would be the
        # hub's largest cost (a crash loses at most one batch; a clean stop loses nothing).
        # The source's encoder writes each remote event with the bytes the node published
        # instead of encoding the decoded event again (the same record, a fifth of the cost).
        rt.add_sink(
            history_sink(
                options.data_dir, options.retention, batch=HISTORY_BATCH, encoder=source.encode
            )
        )
    fleet, web = _add_hub(rt, options)
    rt.add_interface(source)
    rt.add_service(FleetWatch(fleet, interval=options.interval))
    return rt, web


def build_hub_replay_runtime(
    options: HubOptions, speed: float, source: Iterable[Event[Any]]
) -> tuple[ReplayRuntime, HubWebInterface]:
    """The hub's dashboard driven by its recorded history (``<data-dir>/history``): the
    recorded `RemoteEvent`, `NodeStatusChanged` and `NodeSilent` records rebuild every node's
    projection as they happened."""
    rt = ReplayRuntime(speed=speed)
    _fleet, web = _add_hub(rt, options)
    rt.add_source(source)
    return rt, web


def hub_history(options: HubOptions) -> Path:
    """Where the hub records what it receives."""
    return history_root(options.data_dir)
