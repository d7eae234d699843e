"""What a browser connection may cost a `WebInterface`: a client that stops reading is dropped
at its backlog and comes back with a fresh snapshot; connection churn leaves no threads
behind; a malformed packet is one log line per client, never a traceback."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import pytest
import websocket

from bussdcc.message import Message
from bussdcc_framework.interface.web import WebInterface
from bussdcc_framework.runtime import Runtime
from bussdcc_framework.testing import DEFAULT_TIMEOUT, SocketIORecorder, StuckClient

PING_INTERVAL = 25.0
"""Engine.IO's default ping interval: the time a ping timer used to outlive its connection."""


@dataclass(slots=True, frozen=True)
class Blob(Message):
    name = "test.clients.blob"
    n: int
    text: str


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    rt = Runtime()
    yield rt
    rt.shutdown()


def boot(rt: Runtime, **kwargs: object) -> WebInterface:
    web = WebInterface(port=0, **kwargs)  # type: ignore[arg-type]
    rt.add_interface(web)
    rt.boot()
    return web


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def queued(web: WebInterface) -> list[int]:
    """How many packets each Engine.IO client has waiting now."""
    assert web.socketio is not None
    return [client.queue.qsize() for client in list(web.socketio.server.eio.sockets.values())]


def _more_than(reader: SocketIORecorder, count: int) -> bool:
    return len(reader.events) > count


def test_a_client_that_stops_reading_is_dropped_while_a_reading_one_stays(
    runtime: Runtime,
) -> None:
    web = boot(runtime, client_backlog=8, batch_window=0)
    with SocketIORecorder() as reader, StuckClient(web.url) as stuck:
        reader.connect(web.url, transports=["websocket"])
        assert stuck.connect() == 101
        wait_until(lambda: web.client_count == 2, "both clients to join")
        n = 0
        while web.dropped_clients == 0:
            # 20 KB a message, at the pace of the reading client: the stuck one's socket
            # buffers fill, then its queue.
            runtime.emit(Blob(n, "x" * 20_000))
            reader.wait_for(partial(_more_than, reader, n), f"message {n}")
            n += 1
            assert max(queued(web), default=0) <= 8 + 2, "a backlog grew past its bound"
            assert n < 10_000, "the stuck client was never dropped"
            stuck.pong()
        wait_until(lambda: web.client_count == 1, "the stuck client to be gone")
        assert reader.connected and web.dropped_clients == 1
        runtime.emit(Blob(-1, "last"))
        reader.wait_for(lambda: any(r["data"]["n"] == -1 for r in reader.events), "the last one")


def test_a_dropped_client_reconnects_and_resyncs_from_a_fresh_snapshot(runtime: Runtime) -> None:
    web = boot(runtime)
    with SocketIORecorder(reconnection=True, reconnection_delay=0.1) as client:
        client.connect(web.url, transports=["websocket"])
        guard = web._guard
        assert guard is not None and web.socketio is not None
        for eio_sid in list(web.socketio.server.eio.sockets):
            guard.drop(eio_sid)
        client.wait_for(lambda: len(client.snapshots) == 2, "the snapshot after reconnecting")
        assert web.dropped_clients == 1


def _churn(web: WebInterface, cycles: int) -> None:
    url = f"ws://127.0.0.1:{web.port}/socket.io/?EIO=4&transport=websocket"
    for _ in range(cycles):
        ws = websocket.create_connection(url, timeout=DEFAULT_TIMEOUT)
        ws.recv()  # OPEN
        ws.send("40")
        ws.recv()  # CONNECT acknowledged
        ws.close()


def test_connection_churn_leaves_no_threads_behind(runtime: Runtime) -> None:
    web = boot(runtime)
    _churn(web, 3)  # the server's own threads (service task, cutter) start once
    wait_until(lambda: web.client_count == 0, "the first clients to go")
    baseline = threading.active_count()

    _churn(web, 60)

    # Every connection's threads end with it: well before a ping interval (25 s), which is
    # how long each connection's ping timer used to sleep on.
    wait_until(
        lambda: threading.active_count() <= baseline + 1,
        f"threads to return to {baseline} (now {threading.active_count()})",
        timeout=PING_INTERVAL / 2,
    )


@pytest.fixture
def web_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="bussdcc_framework.web")
    return caplog


def _packet_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "packet" in r.getMessage()]


def test_malformed_packets_are_one_line_per_client_without_traceback(
    runtime: Runtime, web_log: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    web = boot(runtime)
    url = f"ws://127.0.0.1:{web.port}/socket.io/?EIO=4&transport=websocket"
    clients = []
    for _ in range(2):
        ws = websocket.create_connection(url, timeout=DEFAULT_TIMEOUT)
        ws.recv()
        ws.send("40")
        ws.recv()
        for _ in range(100):
            ws.send("4x-not-a-socket.io-packet")
            ws.send('42["resync", 1, 2, 3, {"too": "many"}]')
        clients.append(ws)
    wait_until(
        lambda: len([r for r in _packet_errors(web_log) if r.levelno == logging.DEBUG]) >= 400,
        "every bad packet to be handled",
    )
    warnings = [r for r in _packet_errors(web_log) if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]  # one per client
    assert all(r.exc_info is None for r in warnings)
    for ws in clients:
        ws.close()
    assert "Traceback" not in capfd.readouterr().err


def test_a_broken_websocket_frame_ends_that_client_quietly(
    runtime: Runtime, web_log: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    web = boot(runtime)
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{web.port}/socket.io/?EIO=4&transport=websocket", timeout=DEFAULT_TIMEOUT
    )
    ws.recv()
    ws.send("40")
    ws.recv()
    wait_until(lambda: web.client_count == 1, "the client to join")
    ws.send("x: not an Engine.IO packet")
    wait_until(lambda: web.client_count == 0, "the broken client to be let go")
    ws.close()
    warnings = [r for r in _packet_errors(web_log) if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "Traceback" not in capfd.readouterr().err
    with SocketIORecorder() as other:  # the server is fine
        other.connect(web.url, transports=["websocket"])
