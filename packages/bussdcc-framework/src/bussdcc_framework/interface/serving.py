"""The HTTP server under a `WebInterface`: Werkzeug's threaded server, with request deadlines.

* **Request deadline.** A request's line, headers and body must all arrive within
  ``request_timeout`` seconds of the server starting to wait for it (an idle keep-alive
  connection is closed after that long). A client that trickles a byte at a time (slowloris)
  holds its thread no longer than that, however slowly it sends.
* **Write timeout.** Sending a response may block at most ``IDLE_TIMEOUT`` seconds.
* **WebSocket.** Once a request upgrades to a WebSocket, the connection belongs to the
  WebSocket: no deadline, blocking I/O; Engine.IO's pings notice a silent client and
  `clients.ClientGuard` ends its threads.
* **Quiet.** Request lines go to DEBUG; ``Server`` names no software or version.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import socket
import threading
import time
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = [
    "IDLE_TIMEOUT",
    "SERVER_NAME",
    "listen",
    "make_http_server",
    "quiet_closed_websockets",
    "serve",
    "stop_serving",
]

log = logging.getLogger("bussdcc_framework.web")

IDLE_TIMEOUT = 60.0
"""Seconds a response write may block before the connection is dropped."""

SERVER_NAME = "bussdcc"
"""The ``Server`` header: no software version for a scanner to match against advisories."""

_SERVE_POLL_INTERVAL = 1.0
"""Seconds between the HTTP server's checks for a stop request (see `stop_serving`)."""


class _DeadlineReader(io.RawIOBase):
    """The connection's reading side; each read waits only until the request's deadline."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is None:
            return self.sock.recv_into(buffer)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request not received in time")
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv_into(buffer)
        finally:
            self.sock.settimeout(IDLE_TIMEOUT)


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with a request deadline, closing the connection after a
    WebSocket, logging quietly and naming no version."""

    request_timeout = 10.0  # set per server by make_http_server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(IDLE_TIMEOUT)
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.deadline = time.monotonic() + self.request_timeout
        try:
            super().handle_one_request()
        finally:
            self._reader.deadline = None

    def run_wsgi(self) -> None:
        websocket = self.headers.get("Upgrade", "").lower() == "websocket"
        if websocket:
            # The connection is the WebSocket's now: it may be quiet for minutes.
            self._reader.deadline = None
            self.connection.settimeout(None)
        super().run_wsgi()
        if websocket:
            # The WebSocket is over, but Werkzeug would keep the TCP connection alive and
            # parse the client's closing frame as a new HTTP request; the client then waits
            # for a close that never comes. Close it now.
            self.close_connection = True

    def version_string(self) -> str:
        return SERVER_NAME

    # Werkzeug prints every request line to its console logger; a dashboard polled all day
    # would flood the console, so these go to DEBUG. Application tracebacks still reach the
    # "werkzeug" logger through the server.
    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s " + message, self.address_string(), *args)

    def log_error(self, format: str, *args: Any) -> None:
        # "Request timed out" and malformed request lines: the client's problem, not ours.
        log.debug("%s " + format, self.address_string(), *args)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; `OSError` naming both when that fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
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


def make_http_server(
    host: str, port: int, app: Any, sock: socket.socket, *, request_timeout: float
) -> BaseWSGIServer:
    """A threaded Werkzeug server for ``app`` on the already listening ``sock`` (which the
    caller closes: Werkzeug duplicates it, and never ``sys.exit()``s on a bind error)."""
    handler = type("RequestHandler", (_RequestHandler,), {"request_timeout": request_timeout})
    return make_server(host, port, app, threaded=True, request_handler=handler, fd=sock.fileno())


def serve(server: BaseWSGIServer) -> None:
    """Run ``server`` until `stop_serving` (polling for a stop rarely; it wakes the loop)."""
    server.serve_forever(poll_interval=_SERVE_POLL_INTERVAL)


def stop_serving(server: BaseWSGIServer) -> None:
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


_CLOSED_SOCKET_ERRNOS = frozenset({errno.EBADF, errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN})
_hook_lock = threading.Lock()
_hook_installed = False


def _websocket_frames(tb: Any) -> bool:
    while tb is not None:
        if "simple_websocket" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def quiet_closed_websockets() -> None:
    """Keep a WebSocket closed under a library thread from printing a traceback.

    At shutdown (and when a stuck client is cut) the server closes client sockets; Engine.IO's
    writer and simple-websocket's reader threads may then send a last frame on a socket that
    is already gone and, catching nothing, end with ``OSError`` (EBADF, EPIPE) that
    `threading.excepthook` prints as a traceback -- noise on every SIGTERM with a browser
    open. Such an error, raised inside simple-websocket, is logged at DEBUG instead; every
    other thread exception goes to the hook that was installed before. Idempotent.
    """
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        previous = threading.excepthook

        def hook(args: threading.ExceptHookArgs) -> None:
            exc = args.exc_value
            if (
                isinstance(exc, OSError)
                and exc.errno in _CLOSED_SOCKET_ERRNOS
                and _websocket_frames(args.exc_traceback)
            ):
                name = args.thread.name if args.thread is not None else "?"
                log.debug("thread %s: WebSocket already closed: %s", name, exc)
                return
            previous(args)

        threading.excepthook = hook
        _hook_installed = True
