"""Helpers for testing bussdcc applications: record events, run a runtime, watch the dashboard.

What an application's own tests need again and again, shipped once (as Flask ships
``flask.testing``):

* `EventRecorder` keeps the events a runtime delivers (as a sink or a bus subscriber) and lets
  a test wait for one;
* `ReplayTrace` tells, during a `ReplayRuntime` run, the events the replay re-emitted from
  those its processes derived from them;
* `running` boots a runtime for the length of a ``with`` block and, on a `ManualClock`, waits
  until its services sleep on the clock, so the test moves time itself;
* `SocketIORecorder` is a Socket.IO client of a `WebInterface` that keeps every ``snapshot``
  and ``events`` message it receives;
* `StuckClient` is the browser a server must survive: it opens a Socket.IO WebSocket, then
  never reads again (it can still send, e.g. answer pings), so whatever the server sends it
  piles up.

Nothing here sleeps for a fixed time: waits are on conditions, with a timeout that only ends a
test that would otherwise hang (it raises `AssertionError` naming what never happened).
`SocketIORecorder` needs python-socketio, which the framework does not depend on: install
``bussdcc-framework[testing]``. It is imported when the first recorder is made, so the rest
of this module works without it.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import bussdcc
from bussdcc import Event, ManualClock, Message, Runtime, RuntimeExtension

from .io.jsonl.compress import format_rank, is_compressed, open_segment, plain_path

if TYPE_CHECKING:
    from bussdcc import ContextProtocol

__all__ = [
    "CHROMIUM_ARGS",
    "DEFAULT_TIMEOUT",
    "EventRecorder",
    "ReplayTrace",
    "SocketIORecorder",
    "StuckClient",
    "headless_chromium",
    "running",
    "segment_lines",
    "wait_in_page",
]

DEFAULT_TIMEOUT = 30.0
"""Seconds a wait gives up after. Generous on purpose: a shared, slow CI machine must not fail
a test that is merely late; a correct test never waits this long."""

M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Runtime)


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class _Waitable:
    """A condition variable that the recorders notify whenever they record something.

    It is reentrant (`threading.Condition` holds an `RLock`), so a predicate may call the
    recorder's own reading methods.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = _check_timeout(timeout)
        self._cond = threading.Condition()

    def wait_for(
        self,
        predicate: Callable[[], object],
        what: str,
        *,
        detail: Callable[[], str] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Block until ``predicate()`` is true; it is re-checked after every recorded item.

        Raises:
            AssertionError: if ``timeout`` (default: the recorder's) passes first, naming
                ``what`` and, if given, ``detail()``.
        """
        limit = self.timeout if timeout is None else _check_timeout(timeout)
        with self._cond:
            if self._cond.wait_for(predicate, limit):
                return
        suffix = f"; {detail()}" if detail is not None else ""
        raise AssertionError(f"timed out after {limit:g} s waiting for {what}{suffix}")


class EventRecorder(_Waitable):
    """Keeps every event it receives, in order of arrival.

    Works as an `EventSink` (``rt.add_sink(recorder)`` on a framework runtime records the
    whole lifecycle) and as a bus handler (`attach` subscribes it to a kernel runtime's bus).
    With ``types``, only events whose payload is an instance of one of them are kept. It is
    safe to record from several threads while a test reads.

    Raises:
        TypeError: if a type is not a `Message` subclass, or ``timeout`` is not a number.
        ValueError: if ``timeout`` is not positive.
    """

    def __init__(self, *types: type[Message], timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(timeout)
        for kind in types:
            if not (isinstance(kind, type) and issubclass(kind, Message)):
                raise TypeError(f"types must be Message subclasses, got {kind!r}")
        self.types: tuple[type[Message], ...] = types or (Message,)
        self._events: list[Event[Any]] = []

    def attach(self, runtime: Runtime) -> EventRecorder:
        """Subscribe to ``runtime``'s bus (every event from now on); return the recorder."""
        runtime.events.subscribe(self.types, self.handle, label="testing:recorder")
        return self

    # -- EventSink ----------------------------------------------------------------------------

    def start(self, ctx: ContextProtocol) -> None:
        """Nothing to open: recording starts with the first event."""

    def handle(self, evt: Event[Any]) -> None:
        """Keep ``evt`` if its payload is one of the recorded types."""
        if isinstance(evt.payload, self.types):
            with self._cond:
                self._events.append(evt)
                self._cond.notify_all()

    def stop(self) -> None:
        """Nothing to close: what was recorded stays readable."""

    __call__ = handle

    # -- reading ------------------------------------------------------------------------------

    @property
    def events(self) -> list[Event[Any]]:
        """A copy of the recorded events, oldest first."""
        with self._cond:
            return list(self._events)

    def payloads(self, kind: type[M]) -> list[M]:
        """The recorded payloads that are instances of ``kind``, oldest first."""
        return [evt.payload for evt in self.events if isinstance(evt.payload, kind)]

    def names(self) -> list[str]:
        """The message name of each recorded event, oldest first."""
        return [evt.payload.name for evt in self.events]

    def wait_for_payload(self, kind: type[M], count: int = 1) -> list[M]:
        """Wait until ``count`` payloads of ``kind`` were recorded; return all of them.

        Raises:
            AssertionError: if they do not arrive within the recorder's timeout.
        """
        self.wait_for(
            lambda: len(self.payloads(kind)) >= count,
            f"{count} {kind.__name__} event(s)",
            detail=lambda: f"the last recorded were {self.names()[-10:]}",
        )
        return self.payloads(kind)

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._cond:
            self._events.clear()


class _ReplayMarker(RuntimeExtension):
    """Tells a `ReplayTrace` which bus event re-emitted each recorded one."""

    def __init__(self, trace: ReplayTrace) -> None:
        self.trace = trace
        self.name = trace.name

    def replayed(self, runtime: bussdcc.Runtime, original: Event[Any], emitted: Event[Any]) -> None:
        self.trace._mark(emitted)


class ReplayTrace:
    """Which events of a `ReplayRuntime` run were re-emitted and which were derived.

    A recording usually holds events the processes derive again during a replay (a health
    change, say); to check what the replay derived, the test must tell the two apart. Attach
    the trace before the replay runs: it records every event on the bus and, through the
    kernel's ``replayed`` extension hook, learns exactly which bus events re-emitted a
    recorded one. Everything else is derived.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event[Any]] = []
        self._replayed: set[int] = set()
        self.name = "testing:replay-trace"

    @classmethod
    def attach(cls, runtime: bussdcc.ReplayRuntime) -> ReplayTrace:
        """A trace subscribed to ``runtime``'s bus, told of each re-emit by an extension."""
        trace = cls()
        runtime.extend(_ReplayMarker(trace))
        runtime.events.subscribe(Message, trace._seen, label=trace.name)
        return trace

    def _seen(self, evt: Event[Any]) -> None:
        with self._lock:
            self._events.append(evt)

    def _mark(self, emitted: Event[Any]) -> None:
        with self._lock:
            self._replayed.add(emitted.seq)

    # -- reading ------------------------------------------------------------------------------

    @property
    def events(self) -> list[Event[Any]]:
        """Every event the bus delivered during the run, in ``seq`` order of delivery."""
        with self._lock:
            return list(self._events)

    def replayed(self, kind: type[Message] = Message) -> list[Event[Any]]:
        """The re-emitted events whose payload is a ``kind``, in order."""
        with self._lock:
            return [
                e for e in self._events if e.seq in self._replayed and isinstance(e.payload, kind)
            ]

    def derived(self, kind: type[Message] = Message) -> list[Event[Any]]:
        """The events that were not re-emitted (derived, or the runtime's own), in order."""
        with self._lock:
            return [
                e
                for e in self._events
                if e.seq not in self._replayed and isinstance(e.payload, kind)
            ]


@contextmanager
def running(
    runtime: R, *, sleepers: int = 0, timeout: float = DEFAULT_TIMEOUT, reason: str = "test over"
) -> Iterator[R]:
    """Boot ``runtime`` for the ``with`` block and shut it down (with ``reason``) after it.

    With ``sleepers``, the runtime must run on a `ManualClock`: after boot this waits until
    that many threads (one per ticking service) sleep on the clock, so every service has
    done its first tick and the test decides when the next one comes (``clock.advance``).

    Raises:
        TypeError: if ``sleepers`` is given and the runtime's clock is not a `ManualClock`.
        ValueError: if ``sleepers`` is negative.
        AssertionError: if the services do not all reach the clock within ``timeout``.
    """
    if isinstance(sleepers, bool) or not isinstance(sleepers, int):
        raise TypeError(f"sleepers must be an int, got {sleepers!r}")
    if sleepers < 0:
        raise ValueError(f"sleepers must be >= 0, got {sleepers!r}")
    limit = _check_timeout(timeout)
    clock = runtime.clock
    if sleepers and not isinstance(clock, ManualClock):
        raise TypeError(f"sleepers needs a runtime on a ManualClock, not {type(clock).__name__}")
    runtime.boot()
    try:
        if (
            isinstance(clock, ManualClock)
            and sleepers
            and not clock.wait_for_sleepers(sleepers, timeout=limit)
        ):
            raise AssertionError(
                f"timed out after {limit:g} s waiting for {sleepers} thread(s) to sleep "
                f"on the clock; {clock.sleepers} did"
            )
        yield runtime
    finally:
        runtime.shutdown(reason)


class SocketIORecorder(_Waitable):
    """A Socket.IO client of a `WebInterface` that keeps what the server pushes.

    ``snapshots`` holds each ``snapshot`` message (``{"seq", "state"}``), ``events`` every
    pushed event record (``{"name", "seq", "prev", "time", "data", ...}``) in order of
    arrival, ``batches`` the size of each ``events`` message. python-socketio runs each
    handler in a thread of its own, so arrival order need not be ``seq`` order: sort by
    ``seq`` to check the protocol's order. Use it as a context manager to disconnect at the
    end. ``client_options`` go to ``socketio.Client`` (reconnection is off by default, so a
    test sees a dropped connection).

    Raises:
        ModuleNotFoundError: if python-socketio is not installed (``bussdcc-framework[testing]``).
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, **client_options: Any) -> None:
        super().__init__(timeout)
        try:
            import socketio
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                "SocketIORecorder needs python-socketio: pip install 'bussdcc-framework[testing]'",
                name=exc.name,
            ) from exc
        client_options.setdefault("reconnection", False)
        self.client: Any = socketio.Client(**client_options)
        """The underlying ``socketio.Client``, for emitting or extra handlers."""
        self.snapshots: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.batches: list[int] = []
        self.disconnected = threading.Event()
        """Set when the server ends the connection (or the test disconnects)."""
        self.client.on("snapshot", self._on_snapshot)
        self.client.on("events", self._on_events)
        self.client.on("disconnect", self._on_disconnect)

    def _on_snapshot(self, data: dict[str, Any]) -> None:
        with self._cond:
            self.snapshots.append(data)
            self._cond.notify_all()

    def _on_events(self, data: list[dict[str, Any]]) -> None:
        with self._cond:
            self.batches.append(len(data))
            self.events.extend(data)
            self._cond.notify_all()

    def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()
        with self._cond:
            self._cond.notify_all()

    def connect(self, url: str, *, wait_snapshot: bool = True, **options: Any) -> SocketIORecorder:
        """Connect to ``url`` (a `WebInterface`'s ``url``); return the recorder.

        ``options`` go to ``socketio.Client.connect`` (``transports=["websocket"]`` to skip
        long-polling, ``headers`` for an ``Origin``). With ``wait_snapshot`` this returns once
        the snapshot every new connection gets has arrived.

        Raises:
            socketio.exceptions.ConnectionError: if the server refuses or cannot be reached.
            AssertionError: if no snapshot arrives within the timeout.
        """
        options.setdefault("wait_timeout", self.timeout)
        already = len(self.snapshots)
        self.client.connect(url, **options)
        if wait_snapshot:
            self.wait_for(lambda: len(self.snapshots) > already, "the snapshot sent on connect")
        return self

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def disconnect(self) -> None:
        """Close the connection if it is open."""
        if self.client.connected:
            self.client.disconnect()

    def named(self, name: str) -> list[dict[str, Any]]:
        """The pushed event records of message ``name``, in order of arrival."""
        with self._cond:
            return [record for record in self.events if record["name"] == name]

    def ordered(self) -> list[dict[str, Any]]:
        """The pushed event records sorted by ``seq`` (the order the server sent them)."""
        with self._cond:
            return sorted(self.events, key=lambda record: int(record["seq"]))

    def __enter__(self) -> SocketIORecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()


def segment_lines(root: str | os.PathLike[str]) -> list[bytes]:
    """Every line of every JSONL segment under ``root`` (``YYYY-MM-DD/HH-MM-SS.jsonl``, plain
    or compressed as a sink with ``compress=True`` leaves them: ``.jsonl.zst``, or an earlier
    release's ``.jsonl.gz``), in reading order (a window's ``.gz``, ``.zst``, then plain
    file), as raw bytes: a test sees torn or invalid lines exactly as written. A compressed
    segment cut short or damaged yields the lines before the break."""
    lines: list[bytes] = []
    found = (p for p in Path(root).glob("*/*.jsonl*") if is_compressed(p) or p.suffix == ".jsonl")
    for path in sorted(found, key=lambda p: (p.parent.name, plain_path(p).name, format_rank(p))):
        data = b""
        with open_segment(path) as file:
            while chunk := file.read(1 << 16):
                data += chunk
        lines.extend(data.splitlines())
    return lines


class StuckClient:
    """A Socket.IO client that stops reading: a raw WebSocket with a tiny receive buffer.

    `connect` sends the WebSocket handshake for ``/socket.io/?EIO=4&transport=websocket``
    (with ``headers`` added, e.g. ``Origin`` or ``Cookie``), reads the server's answer and
    returns its HTTP status (101 when it accepted); on 101 it also joins the default
    namespace (Socket.IO ``"40"``). After that nothing is ever read, so the server's
    messages fill the socket buffers and then whatever the server queues for it.
    `send_text` sends a frame anyway: `pong` answers the server's pings blindly, the way a
    client that keeps its connection alive without reading would. No dependency: plain
    sockets.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        receive_buffer: int = 4096,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.headers = dict(headers or {})
        self.receive_buffer = receive_buffer
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.status = 0
        """The HTTP status the server answered the handshake with (0 before `connect`)."""
        self.response = b""
        """The server's handshake response (status line and headers)."""

    def connect(self) -> int:
        """Open the WebSocket; the handshake's HTTP status (101: accepted).

        Raises:
            OSError: if the server cannot be reached or closes before answering.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Set before connecting, so the window the server sees stays small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        sock.settimeout(self.timeout)
        sock.connect((self.host, self.port))
        self.sock = sock
        headers = {
            "Host": f"{self.host}:{self.port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode("ascii"),
            "Sec-WebSocket-Version": "13",
            **self.headers,
        }
        request = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        request += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall((request + "\r\n").encode("latin-1"))
        response = b""
        while b"\r\n\r\n" not in response:
            # One byte at a time: nothing past the handshake is read (not even the OPEN).
            chunk = sock.recv(1)
            if not chunk:
                raise OSError(
                    f"the server closed the connection during the handshake: {response!r}"
                )
            response += chunk
        self.response = response
        self.status = int(response.split(b" ", 2)[1])
        if self.status == 101:
            self.send_text("40")
        return self.status

    def send_text(self, text: str) -> None:
        """Send one masked text frame (as every client must).

        Raises:
            OSError: if the connection is gone (the server dropped the client).
        """
        if self.sock is None:
            raise OSError("not connected")
        data = text.encode("utf-8")
        mask = os.urandom(4)
        if len(data) < 126:
            head = struct.pack("!BB", 0x81, 0x80 | len(data))
        else:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, len(data))
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def pong(self) -> bool:
        """Send an Engine.IO pong ("3"); False when the server has dropped the connection."""
        try:
            self.send_text("3")
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Close the socket without a closing handshake."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> StuckClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Page(Protocol):
    """What `wait_in_page` needs of a browser page (a Playwright ``Page`` fits)."""

    def evaluate(self, expression: str, arg: Any = None) -> Any: ...

    def wait_for_timeout(self, timeout: float) -> None: ...


def wait_in_page(
    page: _Page, expression: str, arg: Any = None, *, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Wait until ``expression`` (a JavaScript expression or function, evaluated with ``arg``
    as Playwright's ``page.evaluate`` does) is truthy in ``page``.

    Polled from the test, not with ``page.wait_for_function``: that evaluates a string inside
    the page, which a Content-Security-Policy without ``unsafe-eval`` (`WebInterface`'s
    default) forbids.

    Raises:
        AssertionError: naming the expression, if it is not truthy within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {expression}")
        page.wait_for_timeout(50)


CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
"""How a test runs the system's Chromium headless: no sandbox (containers, root), no GPU, and
nothing fetched from the network on its own."""


@contextmanager
def headless_chromium(executable: str | None = None) -> Iterator[Any]:
    """The system's Chromium (``executable``, else ``$CHROMIUM``, else ``/usr/bin/chromium``)
    launched headless through Playwright, closed afterwards; yields Playwright's ``Browser``.

    Without Chromium or the ``playwright`` package the calling test is skipped -- except under
    CI (``CI=true``), where a skip would hide a missing feature, so it fails instead.
    ``playwright install`` is never needed.
    """
    import pytest

    path = executable or os.environ.get("CHROMIUM", "/usr/bin/chromium")

    def unavailable(reason: str) -> None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)

    if not (os.path.isfile(path) or shutil.which(path)):
        unavailable(f"no Chromium at {path}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()
