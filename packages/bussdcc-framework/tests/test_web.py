"""WebInterface: a real Flask-SocketIO server on loopback, driven by a real Socket.IO client."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import socketio
from flask import Flask, render_template_string
from flask_socketio import SocketIO

from bussdcc.component import Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message, Severity
from bussdcc.runtime import BootError, Runtime
from bussdcc_framework.interface.web import WebInterface, emit

TIMEOUT = 10.0


@dataclass(slots=True, frozen=True)
class Ping(Message):
    name = "test.web.ping"
    n: int


@dataclass(slots=True, frozen=True)
class Chatter(Message):
    name = "test.web.chatter"
    severity = Severity.DEBUG
    n: int


@dataclass(slots=True, frozen=True)
class Other(Message):
    name = "other.web.thing"
    n: int


class Recorder(Process):
    """Keeps every Ping it receives."""

    subscriptions = (Ping,)

    def __init__(self) -> None:
        self.seen: list[int] = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        self.seen.append(evt.payload.n)


class Client:
    """A Socket.IO client that records snapshots and events and waits on conditions."""

    def __init__(self, **kwargs: Any) -> None:
        self.sio = socketio.Client(reconnection=False, **kwargs)
        self.snapshots: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.batches: list[int] = []
        """The size of each ``"events"`` message received."""
        self.disconnected = threading.Event()
        self._cond = threading.Condition()
        self.sio.on("snapshot", self._on_snapshot)
        self.sio.on("events", self._on_events)
        self.sio.on("disconnect", lambda *args: self.disconnected.set())

    def _on_snapshot(self, data: dict[str, Any]) -> None:
        with self._cond:
            self.snapshots.append(data)
            self._cond.notify_all()

    def _on_events(self, data: list[dict[str, Any]]) -> None:
        with self._cond:
            self.batches.append(len(data))
            self.events.extend(data)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, TIMEOUT):
                raise AssertionError(f"timed out waiting for {what}")

    def pings(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["name"] == Ping.name]


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    rt = Runtime()
    yield rt
    rt.shutdown("test over")


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        if client.sio.connected:
            client.sio.disconnect()


def connect(web: WebInterface, made: list[Client], **kwargs: Any) -> Client:
    client = Client()
    made.append(client)
    client.sio.connect(web.url, wait_timeout=TIMEOUT, **kwargs)
    return client


def boot_web(rt: Runtime, web: WebInterface | None = None) -> WebInterface:
    web = web or WebInterface(port=0)
    rt.register_interface(web)
    rt.boot()
    return web


def test_connecting_client_first_gets_a_state_snapshot_over_websocket(
    runtime: Runtime, clients: list[Client]
) -> None:
    runtime.ctx.state.set("system.cpu.usage", {"user": 12.5, "idle": 80.0})
    web = boot_web(runtime)
    client = connect(web, clients, transports=["websocket"])

    assert client.sio.transport() == "websocket"
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")
    snapshot = client.snapshots[0]
    assert snapshot["state"]["system"]["cpu"]["usage"] == {"user": 12.5, "idle": 80.0}
    assert snapshot["seq"] == runtime.events.last_seq  # runtime.booted was the last event
    assert not client.events


def test_pushed_events_arrive_in_order_chained_by_seq(
    runtime: Runtime, clients: list[Client]
) -> None:
    web = boot_web(runtime)
    client = connect(web, clients, transports=["websocket"])
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    emitted = [runtime.emit(Ping(n=i)) for i in range(20)]
    client.wait_for(lambda: len(client.pings()) == 20, "20 pings")

    pings = client.pings()
    assert [p["data"]["n"] for p in pings] == list(range(20))
    assert [p["seq"] for p in pings] == [e.seq for e in emitted]
    # Each record names its predecessor, starting from the snapshot's seq.
    chain = [client.snapshots[0]["seq"], *(p["seq"] for p in pings)]
    assert [p["prev"] for p in pings] == chain[:-1]
    assert set(pings[0]) >= {"time", "seq", "name", "type", "severity", "data", "prev"}
    assert pings[0]["severity"] == "info"


def test_a_burst_of_events_travels_as_one_message(runtime: Runtime, clients: list[Client]) -> None:
    web = boot_web(runtime, WebInterface(port=0, batch_window=0.5))
    client = connect(web, clients, transports=["websocket"])
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    for i in range(7):  # a tick's telemetry: emitted back to back
        runtime.emit(Ping(n=i))
    client.wait_for(lambda: len(client.pings()) == 7, "7 pings")

    assert client.batches == [7]
    assert [p["data"]["n"] for p in client.pings()] == list(range(7))


def test_events_pushed_just_before_shutdown_still_reach_the_client(
    clients: list[Client],
) -> None:
    rt = Runtime()
    # A long window: without draining first, stop would close the client mid-window.
    web = boot_web(rt, WebInterface(port=0, batch_window=1.0))
    client = connect(web, clients, transports=["websocket"])
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    for i in range(3):
        rt.emit(Ping(n=i))
    rt.shutdown()

    assert client.disconnected.wait(TIMEOUT)
    assert [p["data"]["n"] for p in client.pings()] == [0, 1, 2]


def test_resync_sends_a_fresh_snapshot(runtime: Runtime, clients: list[Client]) -> None:
    web = boot_web(runtime)
    client = connect(web, clients)
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")
    runtime.ctx.state.set("counter", 7)
    last = runtime.emit(Ping(n=1))

    client.sio.emit("resync")
    client.wait_for(lambda: len(client.snapshots) == 2, "a second snapshot")

    assert client.snapshots[1]["state"]["counter"] == 7
    assert client.snapshots[1]["seq"] == last.seq


def test_default_push_skips_debug_messages(runtime: Runtime, clients: list[Client]) -> None:
    web = boot_web(runtime)
    client = connect(web, clients)
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    runtime.emit(Chatter(n=1))
    last = runtime.emit(Ping(n=2))
    client.wait_for(lambda: any(e["seq"] == last.seq for e in client.events), "the ping")

    assert Chatter.name not in {e["name"] for e in client.events}


def test_push_chooses_events_by_class_and_name_prefix(
    runtime: Runtime, clients: list[Client]
) -> None:
    web = boot_web(runtime, WebInterface(port=0, push=(Chatter, "test.web.*")))
    client = connect(web, clients)
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    runtime.emit(Other(n=1))
    runtime.emit(Chatter(n=2))
    last = runtime.emit(Ping(n=3))
    client.wait_for(lambda: any(e["seq"] == last.seq for e in client.events), "the ping")

    assert [e["name"] for e in client.events] == [Chatter.name, Ping.name]
    # The chain skips what is not pushed, so the client sees no false gap.
    assert client.events[1]["prev"] == client.events[0]["seq"]


def test_a_full_send_queue_drops_events_and_the_client_sees_the_gap(
    runtime: Runtime, clients: list[Client]
) -> None:
    web = boot_web(runtime, WebInterface(port=0, queue_size=2))
    client = connect(web, clients)
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")
    assert web.socketio is not None
    real_emit = web.socketio.emit
    stuck, release = threading.Event(), threading.Event()

    def stalled_emit(*args: Any, **kwargs: Any) -> Any:
        stuck.set()
        release.wait(TIMEOUT)  # a slow client: the sender thread is stuck here
        return real_emit(*args, **kwargs)

    web.socketio.emit = stalled_emit
    first = runtime.emit(Ping(n=0))
    assert stuck.wait(TIMEOUT)
    # One event is in flight and the queue holds two: the bus never waits, the rest drop.
    emitted = [first, *(runtime.emit(Ping(n=i)) for i in range(1, 10))]
    assert web.dropped == 7
    release.set()
    client.wait_for(lambda: len(client.pings()) == 3, "the three queued pings")

    after = runtime.emit(Ping(n=10))
    client.wait_for(lambda: len(client.pings()) == 4, "the ping after the drop")
    pings = client.pings()
    assert [p["data"]["n"] for p in pings] == [0, 1, 2, 10]
    assert [p["prev"] for p in pings[:3]] == [
        client.snapshots[0]["seq"],
        emitted[0].seq,
        emitted[1].seq,
    ]
    # The record after the gap names a predecessor the client never received.
    assert pings[3]["seq"] == after.seq
    assert pings[3]["prev"] == emitted[-1].seq != pings[2]["seq"]


def test_emit_inside_a_route_reaches_a_process(runtime: Runtime) -> None:
    class Web(WebInterface):
        def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
            @app.route("/ping/<int:n>", methods=["POST"])
            def ping(n: int) -> dict[str, Any]:
                evt = emit(Ping(n=n))
                return {"seq": evt.seq}

    recorder = Recorder()
    runtime.register_process(recorder)
    web = boot_web(runtime, Web(port=0))

    req = urllib.request.Request(f"{web.url}ping/42", method="POST")
    with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
        body = json.load(response)

    assert recorder.seen == [42]
    assert body["seq"] >= 1


def test_emit_inside_a_socketio_handler_reaches_a_process(
    runtime: Runtime, clients: list[Client]
) -> None:
    class Web(WebInterface):
        def register_socketio(self, socketio: SocketIO, ctx: ContextProtocol) -> None:
            @socketio.on("ping")  # type: ignore[untyped-decorator]
            def ping(data: dict[str, int]) -> int:
                return emit(Ping(n=data["n"])).seq

    recorder = Recorder()
    runtime.register_process(recorder)
    web = boot_web(runtime, Web(port=0))
    client = connect(web, clients)

    seq = client.sio.call("ping", {"n": 5}, timeout=TIMEOUT)

    assert recorder.seen == [5]
    assert isinstance(seq, int)


def test_emit_outside_a_request_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="inside a Flask request"):
        emit(Ping(n=1))


def test_emit_in_an_app_not_served_by_a_web_interface_is_a_clear_error() -> None:
    with Flask("plain").app_context(), pytest.raises(RuntimeError, match="not served"):
        emit(Ping(n=1))


def test_port_in_use_fails_boot_naming_interface_host_and_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rt = Runtime()
        rt.register_interface(WebInterface(port=port, name="dashboard"))

        with pytest.raises(BootError) as info:
            rt.boot()

    message = str(info.value)
    assert "dashboard" in message
    assert f"127.0.0.1:{port}" in message
    assert rt.phase == "stopped"


def test_port_zero_exposes_the_bound_port(runtime: Runtime) -> None:
    web = boot_web(runtime)
    assert web.port != 0
    assert web.url == f"http://127.0.0.1:{web.port}/"


def test_shutdown_disconnects_clients_and_frees_the_port(clients: list[Client]) -> None:
    rt = Runtime()
    web = boot_web(rt)
    client = connect(web, clients, transports=["websocket"])
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    rt.shutdown()

    assert client.disconnected.wait(TIMEOUT)
    assert not web.running
    # Nothing lingers on the port: a new listener binds at once, without retrying.
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", web.port))
        again.listen()


def test_a_new_runtime_serves_again_on_the_same_port(clients: list[Client]) -> None:
    first = Runtime()
    web = boot_web(first)
    port = web.port
    first.shutdown()

    second = Runtime()
    second.ctx.state.set("generation", 2)
    again = boot_web(second, WebInterface(port=port))
    try:
        client = connect(again, clients)
        client.wait_for(lambda: bool(client.snapshots), "the snapshot")
        assert client.snapshots[0]["state"]["generation"] == 2
    finally:
        second.shutdown()


def test_foreign_origin_is_refused(runtime: Runtime, clients: list[Client]) -> None:
    web = boot_web(runtime)

    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(web, clients, headers={"Origin": "http://evil.example"})
    same = connect(web, clients, headers={"Origin": web.url.rstrip("/")})
    same.wait_for(lambda: bool(same.snapshots), "the snapshot")


def test_cors_allowed_origins_admits_exactly_the_listed_origins(
    runtime: Runtime, clients: list[Client]
) -> None:
    web = boot_web(runtime, WebInterface(port=0, cors_allowed_origins=["http://ops.example"]))
    client = connect(web, clients, headers={"Origin": "http://ops.example"})
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(web, clients, headers={"Origin": "http://evil.example"})


def test_unserialisable_state_values_do_not_break_the_snapshot(
    runtime: Runtime, clients: list[Client]
) -> None:
    runtime.ctx.state.set("odd", {"obj": object(), "ping": Ping(n=3)})
    web = boot_web(runtime)
    client = connect(web, clients)
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")
    odd = client.snapshots[0]["state"]["odd"]
    assert odd["ping"] == {"n": 3}
    assert odd["obj"].startswith("<object")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"port": "80"}, ValueError),
        ({"port": 70000}, ValueError),
        ({"host": ""}, ValueError),
        ({"queue_size": 0}, ValueError),
        ({"push": ("",)}, TypeError),
        ({"push": (int,)}, TypeError),
        ({"cors_allowed_origins": ["*"]}, ValueError),
        ({"batch_window": -0.1}, ValueError),
        ({"batch_window": "0.1"}, ValueError),
        ({"batch_window": True}, ValueError),
        ({"batch_window": float("nan")}, ValueError),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        WebInterface(**kwargs)


def test_unresolvable_host_fails_boot_naming_it() -> None:
    rt = Runtime()
    rt.register_interface(WebInterface(host="no-such-host.invalid", port=0))
    with pytest.raises(BootError, match=r"no-such-host\.invalid"):
        rt.boot()


def test_http_errors_are_plain_http(runtime: Runtime) -> None:
    web = boot_web(runtime)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{web.url}missing", timeout=TIMEOUT)
    assert info.value.code == 404


def test_shutdown_does_not_wait_for_a_vanished_long_polling_client() -> None:
    rt = Runtime()
    web = boot_web(rt)
    # An Engine.IO long-polling handshake, then silence: the client never polls again.
    handshake = f"{web.url}socket.io/?EIO=4&transport=polling"
    with urllib.request.urlopen(handshake, timeout=TIMEOUT) as response:
        assert b'"sid"' in response.read()
    done = threading.Event()

    def shut() -> None:
        rt.shutdown()
        done.set()

    threading.Thread(target=shut, daemon=True).start()
    assert done.wait(TIMEOUT), "shutdown hung on a client that will never poll again"


class Doubler(Process):
    """Derives state from Pings: what a client could not compute from the events alone."""

    subscriptions = (Ping,)

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if evt.payload.n >= 0:
            ctx.state.set("derived.double", evt.payload.n * 2)


def test_watched_state_changes_ride_along_with_the_event_that_caused_them(
    runtime: Runtime, clients: list[Client]
) -> None:
    runtime.register_process(Doubler())
    web = boot_web(runtime, WebInterface(port=0, watch=("derived.double", "derived.absent")))
    client = connect(web, clients)
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    runtime.emit(Ping(n=1))
    runtime.emit(Ping(n=-1))  # changes nothing
    runtime.emit(Ping(n=4))
    client.wait_for(lambda: len(client.pings()) == 3, "three pings")

    assert [p.get("state") for p in client.pings()] == [
        {"derived.double": 2, "derived.absent": None},
        None,
        {"derived.double": 8},
    ]


def test_watch_paths_must_be_dotted_paths() -> None:
    with pytest.raises(ValueError, match="watch"):
        WebInterface(watch=("a..b",))


class Rendering(WebInterface):
    """Renders ``derived.double`` as HTML; fails on negative values."""

    def __init__(self) -> None:
        super().__init__(port=0, views=("derived.double",))
        self.calls: list[tuple[dict[str, Any], bool]] = []

    def render_views(self, values: Mapping[str, Any], snapshot: bool) -> Mapping[str, Any]:
        self.calls.append((dict(values), snapshot))
        value = values["derived.double"]
        if value is not None and value < 0:
            raise ValueError("cannot render a negative value")
        return {"double": render_template_string("<b>{{ v }}</b>", v=value)}


def test_views_are_rendered_once_per_change_and_pushed(
    runtime: Runtime, clients: list[Client]
) -> None:
    runtime.register_process(Doubler())
    runtime.ctx.state.set("derived.double", 0)
    web = boot_web(runtime, Rendering())
    assert isinstance(web, Rendering)
    first, second = connect(web, clients), connect(web, clients)
    for client in (first, second):
        client.wait_for(lambda c=client: bool(c.snapshots), "the snapshot")  # type: ignore[misc]
    assert first.snapshots[0]["views"] == {"double": "<b>0</b>"}
    web.calls.clear()

    runtime.emit(Ping(n=3))
    runtime.emit(Ping(n=-1))  # changes nothing: no view
    for client in (first, second):
        client.wait_for(lambda c=client: len(c.pings()) == 2, "two pings")  # type: ignore[misc]

    assert [p.get("views") for p in first.pings()] == [{"double": "<b>6</b>"}, None]
    assert second.pings()[0]["views"] == {"double": "<b>6</b>"}
    assert web.calls == [({"derived.double": 6}, False)]  # once, for two clients


def test_a_failing_view_costs_the_views_not_the_record(
    runtime: Runtime, clients: list[Client]
) -> None:
    runtime.ctx.state.set("derived.double", 0)
    web = boot_web(runtime, Rendering())
    client = connect(web, clients)
    client.wait_for(lambda: bool(client.snapshots), "the snapshot")

    runtime.ctx.state.set("derived.double", -2)
    runtime.emit(Ping(n=1))
    runtime.ctx.state.set("derived.double", 2)
    runtime.emit(Ping(n=2))
    client.wait_for(lambda: len(client.pings()) == 2, "two pings")

    assert [p.get("views") for p in client.pings()] == [None, {"double": "<b>2</b>"}]
    assert web.snapshot(views=False).keys() == {"seq", "time", "state"}


def test_the_framework_serves_its_browser_client(runtime: Runtime) -> None:
    web = boot_web(runtime)
    for name, marker in (("live.js", b"bussdcc"), ("socket.io.min.js", b"Socket.IO v4.")):
        with urllib.request.urlopen(f"{web.url}bussdcc/static/{name}", timeout=TIMEOUT) as r:
            assert r.status == 200
            assert "javascript" in r.headers["Content-Type"]
            assert marker in r.read()
