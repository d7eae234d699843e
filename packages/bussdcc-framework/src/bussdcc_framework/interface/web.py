"""`WebInterface`: a Flask + Socket.IO server that streams bus events to browsers, and `emit`.

The live protocol (one Socket.IO namespace, ``/``; its logic is `push.PushStream`, this module
is the I/O around it):

* server → client ``"snapshot"``: ``{"seq": n, "time": iso, "state": {...}}`` -- the whole
  state store as plain data (`push.to_plain`: datetimes ISO-8601 with UTC as ``Z``),
  reflecting at least every pushed event up to ``seq``; with ``views``, also
  ``"views": {name: view}`` rendered from the current state. Sent to each client as soon as
  it connects, and again whenever it sends ``"resync"``.
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
  so a client mirrors derived state without knowing how it is derived. With ``views``
  paths, a record may carry ``"views": {name: view}``: what `WebInterface.render_views`
  made of the viewed paths this event changed -- rendered once per change on the server,
  however many clients are connected.
* client → server ``"resync"``: answered with a fresh ``"snapshot"``.

The browser half ships with the framework: ``/bussdcc/static/live.js`` (with the Socket.IO
client it needs at ``/bussdcc/static/socket.io.min.js``); see ``STATIC_URL`` and the README.

The bus never waits for a browser: `handle_event` only appends to a bounded queue that a
sender thread drains; when the queue is full the event is dropped (counted in ``dropped``)
and clients see the gap in the ``prev`` chain. A browser never holds the server either: a
client with more than ``client_backlog`` messages waiting is disconnected (it resyncs when
it reconnects), and each connection's threads end with it (see `clients.ClientGuard`).

Who may connect is `security.AccessGuard`'s business: the ``Host``/``Origin`` allow-list
always, the token when one is given, and the security headers on every response.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from flask import Blueprint, Flask, current_app, has_app_context, request
from flask_socketio import SocketIO
from flask_socketio import emit as socketio_emit
from socketio.packet import Packet
from werkzeug.serving import BaseWSGIServer

from bussdcc.component import Interface
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message

from .clients import ClientGuard, ProtocolLog
from .push import PushSpec, PushStream, ViewRenderer
from .security import DEFAULT_CSP, AccessGuard, HostAllowList, TokenCheck
from .serving import listen, make_http_server, quiet_closed_websockets, serve, stop_serving

__all__ = ["EXTENSION_KEY", "STATIC_URL", "WebInterface", "emit"]

log = logging.getLogger("bussdcc_framework.web")

EXTENSION_KEY = "bussdcc.web"
"""Where a `WebInterface` puts itself in ``app.extensions`` (how `emit` finds the runtime)."""

STATIC_URL = "/bussdcc/static"
"""Where every `WebInterface` serves the framework's browser files: ``live.js`` (the client
half of the live protocol) and ``socket.io.min.js`` (the Socket.IO client it runs on). In
templates: ``url_for("bussdcc.static", filename="live.js")``."""

STATIC_FOLDER = Path(__file__).with_name("static")

_STOP: Any = object()

_BATCH_LIMIT = 256
"""Most records sent in one ``"events"`` message."""


class _JsonPacket(Packet):  # type: ignore[misc]  # python-socketio has no types
    """Socket.IO packets without binary attachments.

    Everything the live protocol sends is plain JSON data (`push.to_plain`), so the default
    packet's search of every payload for bytes -- a Python walk of each nested list and dict,
    on every push -- can only ever find nothing; it cost about a tenth of the sender thread.
    """

    uses_binary_events = False


class WebInterface(Interface):
    """Serves a Flask app with Flask-SocketIO (threading mode, real WebSocket transport).

    ``push`` chooses the bus events streamed to browsers: message classes (matching
    subclasses) and wire names (``"system.*"`` matches a dotted prefix). ``None`` (the
    default) pushes every message of severity INFO or above -- DEBUG chatter stays off the
    wire. ``queue_size`` bounds the events waiting for the sender thread. ``watch`` names
    state paths whose changes ride along with pushed events (see the module docstring);
    ``views`` names state paths whose changes `render_views` turns into views for the page.
    Templates are compiled in memory on first use; nothing compiled is ever loaded from disk.

    Exposure (see `security`), for every page, the API and the Socket.IO endpoint alike:

    * ``allowed_hosts``: names a request's ``Host`` (and a browser's ``Origin``) may carry
      besides the bound address, the loopback names and this machine's own names and
      addresses; anything else gets 403 (DNS rebinding). ``["*"]`` turns the check off.
    * ``token``: when given, every request must carry it (``Authorization: Bearer`` or the
      cookie set when a page is opened with ``?token=``), else 401. `token_cookie` is the
      cookie's name. None (the default) means no authentication.
    * ``content_security_policy``: sent with every response (`security.DEFAULT_CSP`: own
      origin only, no inline script or style); None sends none.
    * ``request_timeout``: seconds a request (line, headers, body) may take to arrive.
    * ``client_backlog``: messages a client may have waiting before it is disconnected.

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
        views: Iterable[str] = (),
        allowed_hosts: Iterable[str] = (),
        token: str | None = None,
        content_security_policy: str | None = DEFAULT_CSP,
        request_timeout: float = 10.0,
        client_backlog: int = 16,
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
        if (
            isinstance(request_timeout, bool)
            or not isinstance(request_timeout, int | float)
            or not 0 < request_timeout <= 3600
        ):
            raise ValueError(
                f"request_timeout must be a number of seconds above 0 (at most 3600), "
                f"got {request_timeout!r}"
            )
        if isinstance(client_backlog, bool) or not isinstance(client_backlog, int):
            raise TypeError(f"client_backlog must be an int, got {client_backlog!r}")
        if client_backlog < 1:
            raise ValueError(f"client_backlog must be at least 1, got {client_backlog!r}")
        if content_security_policy is not None and not isinstance(content_security_policy, str):
            raise TypeError(
                f"content_security_policy must be a string or None, got {content_security_policy!r}"
            )
        if token is not None:
            TokenCheck(token)  # TypeError / ValueError for an unusable token, now
        if isinstance(allowed_hosts, str):
            allowed_hosts = (allowed_hosts,)
        hosts = list(allowed_hosts)
        HostAllowList(host, hosts, hostname=lambda: "")  # TypeError / ValueError, now
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
        self.allowed_hosts = tuple(hosts)
        self.token = token
        self.content_security_policy = content_security_policy
        self.request_timeout = float(request_timeout)
        self.client_backlog = client_backlog
        self.secret_key = secret_key
        self.cors_allowed_origins = origins
        self.stream = PushStream(push, watch=watch, views=views)
        """The protocol's logic: what is pushed, chained and rendered (see `PushStream`)."""
        self.watch = self.stream.watch
        self.views = self.stream.views
        subscriptions = self.stream.subscriptions
        if subscriptions is not None:
            # Only classes: let the bus route just those to us.
            self.subscriptions = subscriptions

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
        self._guard: ClientGuard | None = None

    # -- hooks for subclasses ----------------------------------------------------------------

    def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
        """Add routes to ``app`` (called in `start`, before the server listens)."""

    def register_socketio(self, socketio: SocketIO, ctx: ContextProtocol) -> None:
        """Add Socket.IO handlers (called in `start`, after the built-in ones)."""

    def render_views(self, values: Mapping[str, Any], snapshot: bool) -> Mapping[str, Any]:
        """Views of the ``views`` state paths for the page (none by default).

        ``values`` maps each viewed path that one pushed event changed to its new value
        (None when deleted); for a snapshot (``snapshot`` True) it holds every viewed path.
        Return ``{name: view}``: a string is HTML that ``live.js`` puts into every element
        with ``data-live-view="name"``; other plain data goes to the page's own handlers.
        Called once per change whatever the number of clients, inside an application
        context (``render_template`` works), on the sender thread or, for a snapshot, the
        thread answering the client. An exception here costs that record its views (the
        record itself is still sent) or that snapshot its views; it is logged.
        """
        return {}

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
    def token_cookie(self) -> str:
        """The name of the cookie that carries the token (per port: two servers on one host
        keep their own)."""
        return f"bussdcc_token_{self.port}"

    @property
    def dropped_clients(self) -> int:
        """Clients disconnected because they did not keep up (since the last start)."""
        return self._guard.dropped if self._guard is not None else 0

    @property
    def client_count(self) -> int:
        """Socket.IO clients connected now."""
        with self._clients_lock:
            return len(self._clients)

    def snapshot(self, *, views: bool = True) -> dict[str, Any]:
        """``{"seq", "time", "state"}``: the whole state as JSON-safe data, and the ``seq`` of
        the last pushed event it is known to include; with ``views`` (and ``views`` paths
        configured) also ``"views"``, rendered by `render_views` from that state.

        The ``seq`` is read before the state, so the state includes at least everything up
        to ``seq`` (maybe a little more); a client applies only events after ``seq``.

        Raises:
            RuntimeError: if the interface is not attached to a runtime.
        """
        ctx = self._context()
        render = self._renderer() if views else None
        return self.stream.snapshot(ctx.state.snapshot, ctx.clock.now_utc(), render)

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
        # 0.46 template_folder/static_folder arguments, if given (bussdcc_framework._compat).
        app = Flask(self.import_name, **getattr(self, "_legacy_flask_options", {}))
        app.secret_key = self.secret_key or secrets.token_hex(32)
        # The browser half of the protocol, served by every WebInterface (no CDN).
        app.register_blueprint(
            Blueprint("bussdcc", __name__, static_folder=STATIC_FOLDER, static_url_path=STATIC_URL)
        )
        return app

    def start(self, ctx: ContextProtocol) -> None:
        """Build the app, bind ``host:port`` and serve in a background thread.

        Raises:
            OSError: naming host and port when the address cannot be bound (in use,
                permission denied, unknown host).
        """
        if self._server is not None:
            return
        quiet_closed_websockets()
        sock = listen(self.host, self.port)
        try:
            self.port = sock.getsockname()[1]
            app = self.create_app()
            app.extensions[EXTENSION_KEY] = self
            protocol_log = ProtocolLog(logging.getLogger("bussdcc_framework.web.socketio"))
            socketio = SocketIO(
                app,
                async_mode="threading",
                cors_allowed_origins=self.cors_allowed_origins,
                # The connect handler sends the snapshot; always_connect acknowledges the
                # connection first, so the snapshot and broadcasts reach a fully joined client.
                always_connect=True,
                serializer=_JsonPacket,
                logger=protocol_log,
                engineio_logger=protocol_log,
            )
            self._guard = ClientGuard(socketio.server, backlog=self.client_backlog, name=self.name)
            self._register_builtin_socketio(socketio)
            self.register_routes(app, ctx)
            self.register_socketio(socketio, ctx)
            # Outermost: every request, Socket.IO's included, passes the access checks.
            app.wsgi_app = AccessGuard(  # type: ignore[method-assign]
                self._guard.wrap(app.wsgi_app),
                hosts=None
                if "*" in self.allowed_hosts
                else HostAllowList(self.host, self.allowed_hosts),
                token=None if self.token is None else TokenCheck(self.token, self.token_cookie),
                csp=self.content_security_policy,
                origins=self.cors_allowed_origins or (),
            )
            server = make_http_server(
                self.host, self.port, app, sock, request_timeout=self.request_timeout
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
            target=serve, args=(server,), name=f"{self.name}-http"
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
        stop_serving(server)
        # Send what is queued before the clients go: events pushed in the last instant
        # before a stop still reach the browsers connected to see them.
        self._outbox.put(_STOP)  # unbounded wait is fine: the sender drains without blocking
        if self._sender is not None:
            self._sender.join(5)
        with self._clients_lock:
            self._clients.clear()
        _close_clients(socketio)
        if self._guard is not None:
            self._guard.close()
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
        # Inside dispatch: the processes before us have handled evt, nothing later has
        # happened yet, so the stream reads the state evt left.
        pending = self.stream.observe(evt, ctx.state, listening=bool(self._clients))
        if pending is None:
            return
        try:
            self._outbox.put_nowait(pending)
        except queue.Full:
            self.dropped += 1

    def _renderer(self) -> ViewRenderer | None:
        """`render_views` wrapped to run in this app's context and never raise."""
        if not self.views:
            return None
        app = self.app

        def render(values: Mapping[str, Any], snapshot: bool) -> Mapping[str, Any]:
            try:
                if has_app_context() or app is None:
                    return self.render_views(values, snapshot)
                with app.app_context():
                    return self.render_views(values, snapshot)
            except Exception:
                log.exception("web interface %r could not render views", self.component_name)
                return {}

        return render

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
            records = self.stream.records(batch, self._renderer())
            if records:
                if self._guard is not None:
                    # Before adding to every client's queue: one that did not take the
                    # last messages is let go rather than given more to hold.
                    self._guard.enforce_backlog()
                try:
                    socketio.emit("events", records, namespace="/")
                except Exception:
                    log.exception("web interface %r could not push events", self.component_name)
            if stopping:
                return

    def _register_builtin_socketio(self, socketio: SocketIO) -> None:
        def on_connect(auth: Any = None) -> None:
            sid = str(request.sid)  # type: ignore[attr-defined]
            with self._clients_lock:
                self._clients.add(sid)  # before the snapshot, so no later event is missed
            socketio_emit("snapshot", self.snapshot())

        def on_disconnect(reason: Any = None) -> None:
            with self._clients_lock:
                self._clients.discard(str(request.sid))  # type: ignore[attr-defined]

        def on_resync(*data: Any) -> None:
            # A client asking again and again without reading would queue snapshot after
            # snapshot: past its backlog it is dropped instead.
            if self._guard is None or self._guard.admits(str(request.sid)):  # type: ignore[attr-defined]
                socketio_emit("snapshot", self.snapshot())

        def on_error(exc: BaseException) -> None:
            # A handler that fails on what a client sent (wrong arguments, bad data) would
            # otherwise print a traceback per message: one line per client instead.
            if self._guard is not None:
                self._guard.handler_failed(str(request.sid), exc)  # type: ignore[attr-defined]

        socketio.on_event("connect", on_connect)
        socketio.on_event("disconnect", on_disconnect)
        socketio.on_event("resync", on_resync)
        socketio.on_error_default(on_error)


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


# The 0.46 constructor arguments (bussdcc_framework._compat.forms; gone at 1.0).
from .._compat.forms import install_web as _install_web  # noqa: E402

_install_web(WebInterface)
