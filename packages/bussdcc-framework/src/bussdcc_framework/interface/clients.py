"""`ClientGuard`: what each browser connection of a `WebInterface` may cost, and that it ends.

Engine.IO (under Socket.IO, threading mode) gives every client an unbounded send queue, a
writer thread that blocks on the TCP socket, and a ping timer thread. Left alone:

* a client that stops reading (but keeps its TCP connection, even answering pings) makes its
  queue -- server memory -- grow for as long as events are pushed;
* every connection leaves its ping timer sleeping a whole ping interval (25 s) after it ended,
  so connection churn piles up threads;
* a malformed packet is logged with a full traceback, once per packet.

`ClientGuard` attaches to one `socketio.Server` and its WSGI app, through Engine.IO's public
seams (its event handlers, ``sleep``, ``start_background_task`` and each socket's ``queue``):

* **Bounded backlog.** `enforce_backlog` (the push thread calls it before each broadcast)
  disconnects every client with more than ``backlog`` packets waiting, and cuts its TCP
  connection so its blocked writer thread ends at once. The client's own reconnect brings a
  fresh snapshot: it resyncs.
* **Threads end with their connection.** Ping timers sleep on a condition that a disconnect
  wakes; a WebSocket whose client went away has its reads shut down at disconnect, so the
  threads reading it return.
* **Quiet protocol errors.** A packet that cannot be handled is logged once per client, one
  line (the traceback only at DEBUG); a WebSocket that breaks the Engine.IO framing ends
  that client without a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import engineio.socket

__all__ = ["ClientGuard", "ProtocolLog"]

log = logging.getLogger("bussdcc_framework.web")

_EIO_SID = "bussdcc.eio_sid"
"""Where the WSGI environ of a WebSocket handshake notes the Engine.IO session it opened."""

_CUT_GRACE = 0.2
"""Seconds between an ended WebSocket's disconnect and the shutdown of its connection's
sending side, and again until its reading side."""

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ProtocolLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger given to Engine.IO and Socket.IO: one line per kind of problem, no tracebacks.

    Their ``exception()`` calls (a handler error, a malformed polling payload) become one
    WARNING line naming the exception the first time a message is seen, DEBUG afterwards,
    with the traceback at DEBUG only; ``error``/``warning`` are WARNING the first time a
    message is seen and DEBUG afterwards; ``info`` is DEBUG.
    A client can then not fill the log (or a journal) by repeating a bad packet.
    """

    _SEEN_LIMIT = 256

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def _first(self, key: str) -> bool:
        # Keyed by the message template: the arguments (session ids...) vary per client.
        with self._lock:
            if key in self._seen or len(self._seen) >= self._SEEN_LIMIT:
                return False
            self._seen.add(key)
            return True

    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        level = logging.WARNING if self._first(str(msg)) else logging.DEBUG
        self.log(level, str(msg) + ": %s", *args, _describe(exc))
        self.log(logging.DEBUG, msg, *args, exc_info=True)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.WARNING if self._first(str(msg)) else logging.DEBUG, msg, *args)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.WARNING if self._first(str(msg)) else logging.DEBUG, msg, *args)

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.DEBUG, msg, *args)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no exception"
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ClientGuard:
    """Bounds the backlog of every client of ``server`` (a ``socketio.Server``) and ends each
    connection's threads with it. Install once, right after the server is made; wrap the
    WSGI app with `wrap` so WebSocket connections are known.

    ``backlog``: the most packets a client may have waiting; past it the client is
    disconnected (``dropped`` counts them).

    Raises:
        ValueError: if ``backlog`` is not a positive int.
    """

    def __init__(self, server: Any, *, backlog: int, name: str = "web") -> None:
        if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
            raise ValueError(f"backlog must be a positive int, got {backlog!r}")
        self.server = server
        self.eio = server.eio
        self.backlog = backlog
        self.name = name
        self.dropped = 0
        """Clients disconnected because they did not keep up."""
        self._tcp: dict[str, socket.socket] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        """Notified at every disconnect (ping timers) and cut request (the cutter)."""
        self._to_cut: list[tuple[float, socket.socket, int]] = []
        self._cutter: threading.Thread | None = None
        self._closed = False
        self._local = threading.local()
        self._install()

    # -- Engine.IO seams -------------------------------------------------------------------

    def _install(self) -> None:
        eio = self.eio
        handlers: MutableMapping[str, Callable[..., Any]] = eio.handlers
        connect, disconnect, message = (
            handlers.get("connect"),
            handlers.get("disconnect"),
            handlers.get("message"),
        )

        def on_connect(eio_sid: str, environ: dict[str, Any], *rest: Any) -> Any:
            result = connect(eio_sid, environ, *rest) if connect is not None else None
            # A WebSocket-only client opens its session inside the handshake request.
            tcp = environ.get("werkzeug.socket")
            if _is_websocket(environ) and isinstance(tcp, socket.socket):
                # Flask-SocketIO copies the environ: the list is what `wrap` put there.
                noted = environ.get(_EIO_SID)
                if isinstance(noted, list):
                    noted.append(eio_sid)
                with self._lock:
                    self._tcp[eio_sid] = tcp
            return result

        def on_disconnect(eio_sid: str, *rest: Any) -> Any:
            try:
                return disconnect(eio_sid, *rest) if disconnect is not None else None
            finally:
                self._ended(eio_sid)

        def on_message(eio_sid: str, *rest: Any) -> Any:
            try:
                return message(eio_sid, *rest) if message is not None else None
            except Exception as exc:
                self._protocol_error(eio_sid, exc)
                return None

        eio.on("connect", on_connect)
        eio.on("disconnect", on_disconnect)
        eio.on("message", on_message)

        start_task, sleep = eio.start_background_task, eio.sleep

        def start_background_task(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            owner = getattr(target, "__self__", None)
            if not isinstance(owner, engineio.socket.Socket):
                return start_task(target, *args, **kwargs)

            # A socket's ping timer: its sleep (below) ends early when the socket closes.
            def run() -> None:
                self._local.owner = owner
                target(*args, **kwargs)

            return start_task(run)

        def interruptible_sleep(seconds: float = 0) -> Any:
            owner = getattr(self._local, "owner", None)
            if owner is None:
                return sleep(seconds)
            deadline = time.monotonic() + seconds
            with self._wake:
                while not (owner.closing or owner.closed):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
            return None

        eio.start_background_task = start_background_task
        eio.sleep = interruptible_sleep

    # -- the WSGI side ---------------------------------------------------------------------

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """``app`` with its WebSocket connections known to the guard (to cut them when their
        client is dropped) and a broken WebSocket ended quietly."""

        def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if not _is_websocket(environ):
                return app(environ, start_response)
            tcp = environ.get("werkzeug.socket")
            upgrading = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [None])[0]
            if upgrading and isinstance(tcp, socket.socket):
                with self._lock:
                    self._tcp[upgrading] = tcp
            opened: list[str] = []
            environ[_EIO_SID] = opened
            try:
                return app(environ, start_response)
            except ConnectionError:
                raise  # how the WebSocket ends normally under Werkzeug
            except Exception as exc:
                eio_sid = upgrading or (opened[0] if opened else "?")
                self._protocol_error(eio_sid, exc, environ)
                # Engine.IO left the session open and its writer thread running: close it,
                # give the writer a moment to send its close frame, then cut the connection
                # in two steps (Werkzeug closes the socket when this returns; a writer still
                # sending then would fail with a traceback of its own).
                self._close(eio_sid)
                cut = tcp if isinstance(tcp, socket.socket) else None
                for how in (socket.SHUT_WR, socket.SHUT_RDWR):  # as in _cut_later
                    time.sleep(_CUT_GRACE)
                    _shutdown(cut, how)
                # Werkzeug treats ConnectionError as a dropped connection: no traceback.
                raise ConnectionError("WebSocket closed after a protocol error") from exc
            finally:
                eio_sid = upgrading or (opened[0] if opened else None)
                if eio_sid:
                    with self._lock:
                        if self._tcp.get(eio_sid) is tcp:
                            del self._tcp[eio_sid]

        return guarded

    # -- backlog ---------------------------------------------------------------------------

    def enforce_backlog(self) -> int:
        """Disconnect every client with more than ``backlog`` packets waiting; how many."""
        dropped = 0
        for eio_sid, client in list(self.eio.sockets.items()):
            if client.closed or client.closing:
                continue
            if client.queue.qsize() > self.backlog:
                self.drop(eio_sid)
                dropped += 1
        return dropped

    def admits(self, sid: str, namespace: str = "/") -> bool:
        """Whether Socket.IO client ``sid`` may be sent more now; one past its backlog is
        dropped instead (and False returned)."""
        try:
            eio_sid = self.server.manager.eio_sid_from_sid(sid, namespace)
        except Exception:
            return False
        client = self.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if client is None:
            return False
        if client.queue.qsize() > self.backlog:
            self.drop(eio_sid)
            return False
        return True

    def handler_failed(self, sid: str, exc: BaseException, namespace: str = "/") -> None:
        """Report that a Socket.IO event handler failed on what client ``sid`` sent: one
        WARNING line the first time for that client, the traceback at DEBUG."""
        try:
            eio_sid = self.server.manager.eio_sid_from_sid(sid, namespace) or sid
        except Exception:
            eio_sid = sid
        self._protocol_error(str(eio_sid), exc)

    def drop(self, eio_sid: str) -> None:
        """Disconnect Engine.IO client ``eio_sid`` now and cut its TCP connection."""
        self.dropped += 1
        log.warning(
            "web interface %r dropped a client that did not keep up (more than %d messages "
            "waiting); it resyncs when it reconnects",
            self.name,
            self.backlog,
        )
        # Closing the session wakes its writer thread (to send a close frame and end); its
        # disconnect schedules the cut that unblocks a writer stuck sending (see _cut_later).
        self._close(eio_sid)

    def close(self) -> None:
        """Cut the connections of every ended client when due (at most twice `_CUT_GRACE`
        from now: what was queued for them is still written meanwhile) and end the cutter."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
            cutter = self._cutter
        if cutter is not None and cutter is not threading.current_thread():
            cutter.join(2 * _CUT_GRACE + 5)

    # -- internals -------------------------------------------------------------------------

    def _cut_later(self, tcp: socket.socket) -> None:
        # An ended WebSocket's connection is cut in two steps after its disconnect. First the
        # sending side: a writer thread still blocked sending to a client that does not read
        # gets an error and ends (a writer that was not blocked has sent its close frame by
        # then). Then the reading side: the threads waiting for the client's next frame
        # return (a vanished client sends none). In one step, or at once, the reader could
        # close the socket under the writer's last send (a traceback from Engine.IO).
        with self._wake:
            if self._closed and self._cutter is None:
                _shutdown(tcp, socket.SHUT_RDWR)
                return
            now = time.monotonic()
            self._to_cut.append((now + _CUT_GRACE, tcp, socket.SHUT_WR))
            self._to_cut.append((now + 2 * _CUT_GRACE, tcp, socket.SHUT_RDWR))
            if self._cutter is None:
                self._cutter = threading.Thread(
                    target=self._cut_loop, name=f"{self.name}-cutter", daemon=True
                )
                self._cutter.start()
            self._wake.notify_all()

    def _cut_loop(self) -> None:
        with self._wake:
            while self._to_cut or not self._closed:
                now = time.monotonic()
                due = [(tcp, how) for when, tcp, how in self._to_cut if when <= now]
                self._to_cut = [entry for entry in self._to_cut if entry[0] > now]
                for tcp, how in due:
                    _shutdown(tcp, how)
                if self._to_cut:
                    self._wake.wait(min(entry[0] for entry in self._to_cut) - now)
                elif not self._closed:
                    self._wake.wait()
            self._cutter = None  # under the lock: a later cut is done at once (see _cut_later)

    def _close(self, eio_sid: str) -> None:
        client = self.eio.sockets.get(eio_sid)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(wait=False, abort=True)

    def _ended(self, eio_sid: str) -> None:
        with self._lock:
            tcp = self._tcp.pop(eio_sid, None)
            self._warned.discard(eio_sid)
        if tcp is not None:
            self._cut_later(tcp)
        with self._wake:
            self._wake.notify_all()

    def _protocol_error(
        self, eio_sid: str, exc: BaseException, environ: dict[str, Any] | None = None
    ) -> None:
        with self._lock:
            first = eio_sid not in self._warned
            self._warned.add(eio_sid)
        if environ is None:
            environ = getattr(self.server, "environ", {}).get(eio_sid) or {}
        peer = environ.get("REMOTE_ADDR", "?")
        if first:
            log.warning(
                "web client %s sent a packet that could not be handled (%s); "
                "further errors from this client are not logged",
                peer,
                _describe(exc),
            )
        log.debug("web client %s packet error", peer, exc_info=exc)


def _is_websocket(environ: dict[str, Any]) -> bool:
    return str(environ.get("HTTP_UPGRADE", "")).lower() == "websocket"


def _shutdown(tcp: socket.socket | None, how: int) -> None:
    if tcp is not None:
        with contextlib.suppress(OSError):
            tcp.shutdown(how)
