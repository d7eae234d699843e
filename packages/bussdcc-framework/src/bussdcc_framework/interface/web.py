"""`WebInterface`: a Flask + Socket.IO server that streams bus events to browsers, and `emit`.

The live protocol (one Socket.IO namespace, ``/``):

* server → client ``"snapshot"``: ``{"seq": n, "time": iso, "state": {...}}`` -- the whole
  state store, JSON-safe, reflecting at least every pushed event up to ``seq``. Sent to each
  client as soon as it connects, and again whenever it sends ``"resync"``.
* server → client ``"events"``: a list of one or more records in ``seq`` order. Each is the
  codec's wire record (``time``, ``seq``, ``name``, ``type``, ``severity``, ``data``) plus
  ``prev``: the ``seq`` of the previous pushed event. Pushed events form a chain, so a
  client that holds ``seq`` ``s`` applies a record only when its ``prev == s``; any other
  ``prev`` means it missed something (a dropped event, a reconnect) and should ask for
  ``"resync"``. Records with ``seq <= s`` are already in the snapshot. Events pushed within
  ``batch_window`` seconds of each other travel together: a service that emits a burst
  (one tick's telemetry) costs one message and one wake-up per client, not one per event.
  With ``watch`` paths, a record may also carry ``"state": {path: value}``: the watched
  state paths whose value changed while the bus handled this event (``None`` when deleted),
  so a client mirrors derived state without knowing how it is derived.
* client → server ``"resync"``: answered with a fresh ``"snapshot"``.

The bus never waits for a browser: `handle_event` only appends to a bounded queue that a
sender thread drains; when the queue is full the event is dropped (counted in ``dropped``)
and clients see the gap in the ``prev`` chain.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any, ClassVar

import msgspec
from flask import Flask, current_app, has_app_context, request
from flask_socketio import SocketIO
from flask_socketio import emit as socketio_emit
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bussdcc.component import Interface
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message, Severity

from ..codec import event_to_dict
from .template_cache import TemplateCache

__all__ = ["EXTENSION_KEY", "WebInterface", "emit"]

log = logging.getLogger("bussdcc_framework.web")

EXTENSION_KEY = "bussdcc.web"
"""Where a `WebInterface` puts itself in ``app.extensions`` (how `emit` finds the runtime)."""

PushSpec = type[Message] | str
"""A message class (subclasses included) or a wire name; ``"system.*"`` matches a prefix."""

_STOP: Any = object()

_BATCH_LIMIT = 256
"""Most records sent in one ``"events"`` message."""

_SERVE_POLL_INTERVAL = 1.0
"""Seconds between the HTTP server's checks for a stop request (see `_stop_serving`)."""


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: datetimes as ISO strings, enums as values, dataclasses as
    dicts, anything else unknown as its ``str`` (a dashboard must never fail on one odd value).
    """
    return msgspec.to_builtins(value, str_keys=True, enc_hook=str)


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, closing the connection after a WebSocket and logging quietly."""

    def run_wsgi(self) -> None:
        super().run_wsgi()
        if self.headers.get("Upgrade", "").lower() == "websocket":
            # The WebSocket is over, but Werkzeug would keep the TCP connection alive and
            # parse the client's closing frame as a new HTTP request; the client then waits
            # for a close that never comes. Close it now.
            self.close_connection = True

    # Werkzeug prints every request line to its console logger; a dashboard polled all day
    # would flood the console, so these go to DEBUG. Application tracebacks still reach the
    # "werkzeug" logger through the server.
    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s " + message, self.address_string(), *args)


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; `OSError` naming both when that fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(f"web interface cannot resolve host {host!r}: {exc}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Lets a restarted app bind again at once while old connections sit in TIME_WAIT;
        # Linux still refuses a port that another socket is listening on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise OSError(exc.errno, f"web interface cannot listen on {host}:{port}: {reason}") from exc
    return sock


class WebInterface(Interface):
    """Serves a Flask app with Flask-SocketIO (threading mode, real WebSocket transport).

    ``push`` chooses the bus events streamed to browsers: message classes (matching
    subclasses) and wire names (``"system.*"`` matches a dotted prefix). ``None`` (the
    default) pushes every message of severity INFO or above -- DEBUG chatter stays off the
    wire. ``queue_size`` bounds the events waiting for the sender thread. ``watch`` names
    state paths whose changes ride along with pushed events (see the module docstring).
    ``template_cache`` names a directory where compiled templates are kept between runs
    (see `TemplateCache`); by default they are compiled on each start.

    Subclasses add pages with `register_routes` and Socket.IO handlers with
    `register_socketio`; both run in `start`, once per start, on a fresh app. ``import_name``
    (a class attribute) is given to `Flask`, so a subclass sets it to its package to get that
    package's ``templates/`` and ``static/`` folders.

    `start` binds the port itself, so a port in use fails boot with an `OSError` naming host
    and port (``required`` is True: the runtime aborts boot). ``port=0`` picks a free port;
    the bound one is in ``port`` and ``url`` after start. `stop` disconnects every client,
    closes the listening socket and joins the threads, so the port is free again on return.

    Cross-origin Socket.IO connections are refused (Flask-SocketIO's same-origin default).
    ``cors_allowed_origins`` replaces that default with an explicit list of origins -- list
    the page's own origin too, or its own page cannot connect; ``"*"`` is rejected.
    """

    required = True
    import_name: ClassVar[str] = __name__

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5000,
        *,
        push: Iterable[PushSpec] | None = None,
        name: str = "web",
        queue_size: int = 1024,
        secret_key: str | None = None,
        cors_allowed_origins: Iterable[str] | None = None,
        watch: Iterable[str] = (),
        batch_window: float = 0.05,
        template_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(host, str) or not host:
            raise ValueError(f"host must be a non-empty string, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int between 0 and 65535, got {port!r}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size must be a positive int, got {queue_size!r}")
        if (
            isinstance(batch_window, bool)
            or not isinstance(batch_window, int | float)
            or not 0 <= batch_window <= 10
        ):
            raise ValueError(
                f"batch_window must be a number of seconds from 0 to 10, got {batch_window!r}"
            )
        origins = None if cors_allowed_origins is None else list(cors_allowed_origins)
        if origins is not None and (
            "*" in origins or not all(isinstance(o, str) and o for o in origins)
        ):
            raise ValueError(
                f"cors_allowed_origins must list explicit origins (no '*'), got {origins!r}"
            )
        self.host = host
        self.port = port
        self.name = name
        self.queue_size = queue_size
        self.batch_window = float(batch_window)
        self.template_cache = None if template_cache is None else TemplateCache(template_cache)
        self.secret_key = secret_key
        self.cors_allowed_origins = origins
        self.watch = _parse_watch(watch)
        self._watched: dict[str, Any] = {}
        self._watched_versions: dict[str, int] = {}
        self._push_types, self._push_names, self._push_prefixes = _parse_push(push)
        self._push_all = push is None
        if not self._push_all and not self._push_names and not self._push_prefixes:
            # Only classes: let the bus route just those to us.
            self.subscriptions = self._push_types or (Message,)
        self._wanted: dict[type[Message], bool] = {}

        self.app: Flask | None = None
        self.socketio: SocketIO | None = None
        self.dropped = 0
        """Events dropped because the send queue was full (clients resync on the gap)."""
        self._server: BaseWSGIServer | None = None
        self._server_thread: threading.Thread | None = None
        self._sender: threading.Thread | None = None
        self._outbox: queue.Queue[Any] = queue.Queue(queue_size)
        self._clients: set[str] = set()
        self._clients_lock = threading.Lock()
        self._last_pushed = 0

    # -- hooks for subclasses ----------------------------------------------------------------

    def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
        """Add routes to ``app`` (called in `start`, before the server listens)."""

    def register_socketio(self, socketio: SocketIO, ctx: ContextProtocol) -> None:
        """Add Socket.IO handlers (called in `start`, after the built-in ones)."""

    # -- what the server offers --------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port/`` of the running server (the bound port when started on 0)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def client_count(self) -> int:
        """Socket.IO clients connected now."""
        with self._clients_lock:
            return len(self._clients)

    def snapshot(self) -> dict[str, Any]:
        """``{"seq", "time", "state"}``: the whole state as JSON-safe data, and the ``seq`` of
        the last pushed event it is known to include.

        The ``seq`` is read before the state, so the state includes at least everything up
        to ``seq`` (maybe a little more); a client applies only events after ``seq``.

        Raises:
            RuntimeError: if the interface is not attached to a runtime.
        """
        ctx = self._context()
        seq = self._last_pushed
        state = ctx.state.snapshot()
        return {"seq": seq, "time": ctx.clock.now_utc().isoformat(), "state": jsonable(state)}

    def emit(self, message: Message) -> Event[Message]:
        """Emit ``message`` into the runtime this interface is attached to.

        Raises:
            TypeError: if ``message`` is not a `Message`.
            RuntimeError: if the interface is not attached to a runtime.
        """
        if not isinstance(message, Message):
            raise TypeError(f"can only emit Message instances, got {type(message).__name__}")
        return self._context().emit(message)

    def _context(self) -> ContextProtocol:
        if self.ctx is None:
            raise RuntimeError(
                f"web interface {self.component_name!r} is not attached to a runtime"
            )
        return self.ctx

    # -- lifecycle ---------------------------------------------------------------------------

    def create_app(self) -> Flask:
        """Build the Flask app (override to configure it further; call super)."""
        app = Flask(self.import_name)
        app.secret_key = self.secret_key or secrets.token_hex(32)
        if self.template_cache is not None:
            app.jinja_env.bytecode_cache = self.template_cache
        return app

    def start(self, ctx: ContextProtocol) -> None:
        """Build the app, bind ``host:port`` and serve in a background thread.

        Raises:
            OSError: naming host and port when the address cannot be bound (in use,
                permission denied, unknown host).
        """
        if self._server is not None:
            return
        sock = _listen(self.host, self.port)
        try:
            app = self.create_app()
            app.extensions[EXTENSION_KEY] = self
            socketio = SocketIO(
                app,
                async_mode="threading",
                cors_allowed_origins=self.cors_allowed_origins,
                # The connect handler sends the snapshot; always_connect acknowledges the
                # connection first, so the snapshot and broadcasts reach a fully joined client.
                always_connect=True,
                logger=False,
                engineio_logger=False,
            )
            self._register_builtin_socketio(socketio)
            self.register_routes(app, ctx)
            self.register_socketio(socketio, ctx)
            # make_server takes the already-bound socket, so Werkzeug never sys.exit()s on a
            # bind error; it duplicates the descriptor, so ours is closed below.
            server = make_server(
                self.host,
                self.port,
                app,
                threaded=True,
                request_handler=_RequestHandler,
                fd=sock.fileno(),
            )
        finally:
            sock.close()
        self.port = server.port
        self.app, self.socketio, self._server = app, socketio, server
        self._outbox = queue.Queue(self.queue_size)
        self._sender = threading.Thread(
            target=self._send_loop, args=(socketio, self._outbox), name=f"{self.name}-push"
        )
        self._sender.daemon = True
        self._sender.start()
        self._server_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _SERVE_POLL_INTERVAL},
            name=f"{self.name}-http",
        )
        self._server_thread.daemon = True
        self._server_thread.start()
        log.info("web interface %r serving %s", self.component_name, self.url)

    def stop(self, ctx: ContextProtocol) -> None:
        """Disconnect every client, stop serving and release the port (idempotent)."""
        server, socketio = self._server, self.socketio
        if server is None or socketio is None:
            return
        self._server = None
        _stop_serving(server)
        # Send what is queued before the clients go: events pushed in the last instant
        # before a stop still reach the browsers connected to see them.
        self._outbox.put(_STOP)  # unbounded wait is fine: the sender drains without blocking
        if self._sender is not None:
            self._sender.join(5)
        with self._clients_lock:
            self._clients.clear()
        _close_clients(socketio)
        shutdown = getattr(socketio.server, "shutdown", None)  # python-socketio >= 5.12
        if shutdown is not None:
            with contextlib.suppress(Exception):
                shutdown()
        server.server_close()
        if self._server_thread is not None:
            self._server_thread.join(5)
        self._server_thread = self._sender = None
        log.info("web interface %r stopped", self.component_name)

    # -- pushing events ----------------------------------------------------------------------

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        """Queue ``evt`` for connected clients if it is pushed; never blocks the bus."""
        cls = type(evt.payload)
        wanted = self._wanted.get(cls)
        if wanted is None:
            wanted = self._wanted[cls] = self._matches(cls)
        if not wanted:
            return
        prev, self._last_pushed = self._last_pushed, evt.seq
        if not self._clients:
            return  # a client connecting later starts from a snapshot at this seq
        # Read here, inside dispatch: the processes before us have handled evt, nothing later
        # has happened yet. (Tracking pauses without clients; that only resends a value.)
        changes: dict[str, Any] = {}
        state = ctx.state
        for path in self.watch:
            # The version says whether the path was written at all: most events touch one
            # watched path or none, so the others are neither read nor copied.
            version = state.version(path)
            if self._watched_versions.get(path) == version:
                continue
            self._watched_versions[path] = version
            value = state.get(path)
            if self._watched.get(path, _STOP) != value:
                self._watched[path] = changes[path] = value
        try:
            self._outbox.put_nowait((evt, prev, changes))
        except queue.Full:
            self.dropped += 1

    def _matches(self, cls: type[Message]) -> bool:
        if self._push_all:
            return cls.severity >= Severity.INFO
        if issubclass(cls, self._push_types):
            return True
        name = getattr(cls, "name", "")
        return name in self._push_names or name.startswith(self._push_prefixes)

    def _send_loop(self, socketio: SocketIO, outbox: queue.Queue[Any]) -> None:
        while True:
            first = outbox.get()
            if first is _STOP:
                return
            if self.batch_window:
                # Sleep rather than wait on the queue: events put meanwhile wake nobody.
                time.sleep(self.batch_window)
            batch, stopping = [first], False
            while len(batch) < _BATCH_LIMIT:
                try:
                    item = outbox.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            records = [r for r in map(self._record, batch) if r is not None]
            if records:
                try:
                    socketio.emit("events", records, namespace="/")
                except Exception:
                    log.exception("web interface %r could not push events", self.component_name)
            if stopping:
                return

    def _record(self, item: tuple[Event[Any], int, dict[str, Any]]) -> dict[str, Any] | None:
        evt, prev, changes = item
        try:
            record = event_to_dict(evt)
            record["prev"] = prev
            if changes:
                record["state"] = jsonable(changes)
        except Exception:
            # (Both conversions yield plain JSON data, so a record that converts also sends.)
            # The stream goes on without it; clients see the gap in the chain and resync.
            log.exception("web interface %r could not push %s", self.component_name, evt.name)
            return None
        return record

    def _register_builtin_socketio(self, socketio: SocketIO) -> None:
        def on_connect(auth: Any = None) -> None:
            sid = str(request.sid)  # type: ignore[attr-defined]
            with self._clients_lock:
                self._clients.add(sid)  # before the snapshot, so no later event is missed
            socketio_emit("snapshot", self.snapshot())

        def on_disconnect(reason: Any = None) -> None:
            with self._clients_lock:
                self._clients.discard(str(request.sid))  # type: ignore[attr-defined]

        def on_resync(data: Any = None) -> None:
            socketio_emit("snapshot", self.snapshot())

        socketio.on_event("connect", on_connect)
        socketio.on_event("disconnect", on_disconnect)
        socketio.on_event("resync", on_resync)


def _stop_serving(server: BaseWSGIServer) -> None:
    """Stop ``serve_forever`` and return once it has left its loop; accepting stops."""
    # serve_forever notices a shutdown request only when its select() returns. Rather than
    # wake it every 0.1 s for the life of the process, it polls rarely and is woken here:
    # on Linux a listening socket that is shut down reads as ready at once. (Where that is
    # not so, the poll interval bounds the wait.)
    stopper = threading.Thread(target=server.shutdown, name="web-http-stop", daemon=True)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):
            server.socket.shutdown(socket.SHUT_RDWR)
        stopper.join(0.05)


def _close_clients(socketio: SocketIO) -> None:
    # engineio's own disconnect-all waits until each client has fetched its close packet: a
    # long-polling client that went away never does, and shutdown would hang. Close without
    # waiting; WebSocket clients still get the close frame from their writer thread.
    eio = socketio.server.eio
    for client in list(eio.sockets.values()):
        try:
            client.close(wait=False)
        except Exception:
            log.debug("closing client %s failed", getattr(client, "sid", "?"), exc_info=True)
    eio.sockets.clear()


def _parse_watch(watch: Iterable[str]) -> tuple[str, ...]:
    if isinstance(watch, str):
        watch = (watch,)
    paths = tuple(watch)
    for path in paths:
        if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
            raise ValueError(f"watch entries must be dotted state paths, got {path!r}")
    return paths


def _parse_push(
    push: Iterable[PushSpec] | None,
) -> tuple[tuple[type[Message], ...], frozenset[str], tuple[str, ...]]:
    if push is None:
        return (), frozenset(), ()
    if isinstance(push, str | type):
        push = (push,)
    types: list[type[Message]] = []
    names: set[str] = set()
    prefixes: list[str] = []
    for item in push:
        if isinstance(item, type) and issubclass(item, Message):
            types.append(item)
        elif isinstance(item, str) and item.endswith(".*") and len(item) > 2:
            prefixes.append(item[:-1])
        elif isinstance(item, str) and item and "*" not in item:
            names.add(item)
        else:
            raise TypeError(
                f"push entries must be Message classes or wire names ('a.b', 'a.*'), got {item!r}"
            )
    return tuple(types), frozenset(names), tuple(prefixes)


def emit(message: Message) -> Event[Message]:
    """Emit ``message`` into the runtime from inside a Flask request or Socket.IO handler.

    Returns the stamped `Event` once every subscriber has handled it.

    Raises:
        RuntimeError: outside a Flask application context, or in an app not served by a
            `WebInterface`.
        TypeError: if ``message`` is not a `Message`.
    """
    if not has_app_context():
        raise RuntimeError(
            "emit() must be called inside a Flask request or Socket.IO handler of a WebInterface"
        )
    web = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(web, WebInterface):
        raise RuntimeError(f"Flask app {current_app.name!r} is not served by a WebInterface")
    return web.emit(message)
