"""The MQTT bridge against a real Mosquitto on loopback: two runtimes, one broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from bussdcc.clock import ManualClock
from bussdcc.component import Device, Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import decode_event, encode_event
from bussdcc_framework.mqtt import (
    NODES_PATH,
    MqttBacklogOverflow,
    MqttBroker,
    MqttConnected,
    MqttDisconnected,
    MqttSink,
    MqttSource,
    NodeStatusChanged,
    RemoteEvent,
    testing,
)
from bussdcc_framework.mqtt.connection import Connection
from bussdcc_framework.mqtt.testing import Mosquitto
from bussdcc_framework.runtime import Runtime

TIMEOUT = 20.0
"""How long a network effect may take before a test gives up (a liveness bound, not a speed
goal: the tests never assert on durations)."""


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.mqtt.reading"
    n: int
    value: float = 0.0
    labels: tuple[str, ...] = ()
    at: datetime | None = None


class Recorder(Process):
    """Keeps every event it receives; `wait_for` blocks until a predicate over them holds."""

    def __init__(self, *types: type[Message]) -> None:
        self.subscriptions = types or (Message,)
        self.events: list[Event[Any]] = []
        self._cond = threading.Condition()

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        with self._cond:
            self.events.append(evt)
            self._cond.notify_all()

    def payloads(self, cls: type[Message] = Message) -> list[Any]:
        with self._cond:
            return [e.payload for e in self.events if isinstance(e.payload, cls)]

    def wait_for(self, what: str, predicate: Callable[[], bool]) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, TIMEOUT):
                raise AssertionError(f"timed out waiting for {what}; saw {self.events[-5:]}")


def wait_until(what: str, predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` (for state that no event announces) until it holds."""
    done = threading.Event()
    deadline = TIMEOUT
    step = 0.01
    while not predicate():
        if deadline <= 0:
            raise AssertionError(f"timed out waiting for {what}")
        done.wait(step)
        deadline -= step


# -- wiring ---------------------------------------------------------------------------------------

# The shared real-broker fixtures (bound here, not in a conftest: mypy takes every test
# directory's conftest for one module named "conftest").
mosquitto = testing.mosquitto
mosquitto_factory = testing.mosquitto_factory


def fast(url: str, **options: Any) -> MqttBroker:
    """Broker settings that retry quickly, so the tests do not wait on backoff."""
    return MqttBroker.from_url(url, reconnect_min=0.05, reconnect_max=0.5, **options)


def key(evt: Event[Any]) -> tuple[datetime, Message, int]:
    return evt.time, evt.payload, evt.seq


@pytest.fixture
def runtimes() -> Iterator[Callable[..., Runtime]]:
    """``make(clock=None)``: framework runtimes, shut down after the test."""
    made: list[Runtime] = []

    def make(clock: Any = None) -> Runtime:
        runtime = Runtime(clock=clock)
        made.append(runtime)
        return runtime

    yield make
    for runtime in reversed(made):
        runtime.shutdown()


def publisher(
    make: Callable[..., Runtime], broker: MqttBroker, node: str, **options: Any
) -> tuple[Runtime, MqttSink, Recorder]:
    """A booted runtime whose sink publishes `Reading` events as ``node``."""
    runtime = make()
    options.setdefault("publish", [Reading])
    sink = MqttSink(broker, node, **options)
    runtime.add_sink(sink)
    recorder = Recorder()
    runtime.add_process(recorder)
    runtime.boot()
    return runtime, sink, recorder


def subscriber(
    make: Callable[..., Runtime], broker: MqttBroker, node: str = "hub", **options: Any
) -> tuple[Runtime, MqttSource, Recorder]:
    """A booted runtime whose source re-emits what other nodes publish."""
    runtime = make(options.pop("clock", None))
    source = MqttSource(broker, node, **options)
    recorder = Recorder(RemoteEvent, NodeStatusChanged, MqttConnected, MqttDisconnected)
    runtime.add_process(recorder)
    runtime.add_interface(source)
    runtime.boot()
    return runtime, source, recorder


def remote(recorder: Recorder, node: str | None = None) -> list[Event[Any]]:
    """The remote events ``recorder`` received (from ``node`` only, if given)."""
    return [p.event for p in recorder.payloads(RemoteEvent) if node is None or p.node == node]


def sees_status(recorder: Recorder, node: str, status: str) -> Callable[[], bool]:
    def check() -> bool:
        return NodeStatusChanged(node, status) in recorder.payloads(NodeStatusChanged)  # type: ignore[arg-type]

    return check


def emit_readings(runtime: Runtime, count: int, start: int = 0) -> list[Event[Any]]:
    return [
        runtime.ctx.emit(
            Reading(
                n=start + i,
                value=i / 3,
                labels=("a", "ü"),
                at=datetime(2024, 1, 2, 3, 4, 5, 6000 + i, tzinfo=UTC),
            )
        )
        for i in range(count)
    ]


# -- round trip -----------------------------------------------------------------------------------


def test_events_cross_the_broker_into_another_runtime_with_identical_payloads(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime]
) -> None:
    broker = fast(mosquitto.url)
    _, source, hub = subscriber(runtimes, broker)
    node, sink, _ = publisher(runtimes, broker, "pi-1")
    # The retained status arrives once the hub's subscription is in place.
    hub.wait_for("pi-1 online", sees_status(hub, "pi-1", "online"))

    sent = emit_readings(node, 50)
    hub.wait_for("50 remote readings", lambda: len(remote(hub)) == 50)

    assert [key(e) for e in remote(hub, "pi-1")] == [key(e) for e in sent]
    received = hub.payloads(RemoteEvent)
    assert {p.node for p in received} == {"pi-1"}
    assert hub.payloads(RemoteEvent)[0].event.payload == Reading(
        n=0, value=0.0, labels=("a", "ü"), at=datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    )
    assert source.received == 50 and source.skipped == 0
    assert source.nodes()["pi-1"].status == "online"
    assert source.nodes()["pi-1"].events == 50
    assert hub_state(source)["pi-1"]["status"] == "online"
    wait_until("every reading acknowledged", lambda: sink.published == 50)
    assert sink.dropped == 0


def hub_state(source: MqttSource) -> dict[str, Any]:
    assert source.ctx is not None
    nodes: dict[str, Any] = source.ctx.state.get(NODES_PATH, {})
    return nodes


def test_the_default_selection_publishes_info_and_above_but_never_received_events(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime], raw: RawPublisher
) -> None:
    broker = fast(mosquitto.url)
    _, _, hub = subscriber(runtimes, broker)
    # The node's boot events are not retained: the hub must be listening before it boots.
    subscribed(raw, hub)
    node, _, _ = publisher(runtimes, broker, "pi-1", publish=None)
    hub.wait_for("pi-1 online", sees_status(hub, "pi-1", "online"))
    # Received kinds emitted locally on the publishing side: never published.
    node.ctx.emit(NodeStatusChanged("elsewhere", "online"))
    node.ctx.emit(RemoteEvent("elsewhere", Event(datetime.now(UTC), Reading(n=-1))))
    node.ctx.emit(Reading(n=7))
    hub.wait_for("the reading", lambda: any(e.payload == Reading(n=7) for e in remote(hub)))
    names = {e.payload.name for e in remote(hub)}
    assert "framework.booted" in names  # lifecycle, INFO
    assert "mqtt.connected" in names  # the sink's own report, INFO
    assert not names & {"mqtt.remote", "mqtt.node.status"}
    assert "elsewhere" not in source_nodes(hub)


def source_nodes(recorder: Recorder) -> set[str]:
    return {p.node for p in recorder.payloads(NodeStatusChanged)}


# -- the broker going away ------------------------------------------------------------------------


def test_events_emitted_while_the_broker_restarts_are_buffered_and_delivered_after(
    mosquitto_factory: Callable[..., Mosquitto], runtimes: Callable[..., Runtime]
) -> None:
    mosquitto = mosquitto_factory(persistent=True).start()
    broker = fast(mosquitto.url)
    # A persistent session: the restarted broker queues for the hub whatever the node
    # publishes before the hub is back, so delivery does not depend on who reconnects first.
    _, _, hub = subscriber(runtimes, broker, session="hub-restart")
    node, sink, _ = publisher(runtimes, broker, "pi-1")
    hub.wait_for("pi-1 online", sees_status(hub, "pi-1", "online"))
    before = emit_readings(node, 5)
    hub.wait_for("5 readings", lambda: len(remote(hub)) == 5)

    mosquitto.stop()
    wait_until("the sink notices", lambda: not sink.connected)
    during = emit_readings(node, 20, start=5)
    assert sink.pending == 20  # held by the sink, not lost, while the broker is away

    mosquitto.start()
    hub.wait_for("25 readings", lambda: len(remote(hub)) == 25)
    assert [key(e) for e in remote(hub)] == [key(e) for e in before + during]
    assert sink.dropped == 0
    wait_until("all acknowledged", lambda: sink.published == 25)


def test_a_broker_absent_at_start_gets_the_events_once_it_appears(
    mosquitto_factory: Callable[..., Mosquitto], runtimes: Callable[..., Runtime]
) -> None:
    mosquitto = mosquitto_factory(persistent=True).start()
    broker = fast(mosquitto.url)
    # Register the hub's persistent session, then take the broker away.
    first, _, hub = subscriber(runtimes, broker, session="hub-absent")
    hub.wait_for("the hub connected", lambda: bool(hub.payloads(MqttConnected)))
    first.shutdown()
    mosquitto.stop()

    node, sink, _ = publisher(runtimes, broker, "pi-1")
    _, _, hub = subscriber(runtimes, broker, session="hub-absent")
    sent = emit_readings(node, 10)
    assert not sink.connected and sink.pending == 10

    mosquitto.start()
    hub.wait_for("10 readings", lambda: len(remote(hub)) == 10)
    assert [key(e) for e in remote(hub)] == [key(e) for e in sent]
    hub.wait_for("pi-1 online", sees_status(hub, "pi-1", "online"))


def test_a_full_backlog_drops_the_oldest_counts_them_and_reports_once_per_streak(
    mosquitto_factory: Callable[..., Mosquitto], runtimes: Callable[..., Runtime]
) -> None:
    mosquitto = mosquitto_factory()
    port = mosquitto.reserve_port()  # nothing listens there yet
    node, sink, local = publisher(runtimes, fast(f"mqtt://127.0.0.1:{port}"), "pi-1", backlog=5)
    emit_readings(node, 12)

    assert sink.dropped == 7
    assert sink.pending == 5
    assert local.payloads(MqttBacklogOverflow) == [MqttBacklogOverflow("pi-1", 5, 1)]

    mosquitto.start()
    wait_until("the backlog drained", lambda: sink.pending == 0 and sink.published == 5)
    emit_readings(node, 3, start=100)  # a new streak needs a new overflow
    assert len(local.payloads(MqttBacklogOverflow)) == 1


def test_the_last_will_marks_a_killed_node_offline(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime]
) -> None:
    broker = fast(mosquitto.url)
    _, source, hub = subscriber(runtimes, broker)
    script = textwrap.dedent(
        f"""
        import sys, threading
        from bussdcc_framework.mqtt import MqttSink
        from bussdcc_framework.runtime import Runtime
        runtime = Runtime()
        sink = runtime.add_sink(MqttSink({mosquitto.url!r}, "victim"))
        runtime.boot()
        while not sink.connected:
            threading.Event().wait(0.01)
        print("ready", flush=True)
        threading.Event().wait()
        """
    )
    victim = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "ready"
        hub.wait_for("victim online", sees_status(hub, "victim", "online"))
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        victim.kill()
        victim.wait()
    hub.wait_for("victim offline", sees_status(hub, "victim", "offline"))
    assert source.nodes()["victim"].status == "offline"
    assert hub_state(source)["victim"]["status"] == "offline"


def test_a_clean_stop_publishes_offline(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime]
) -> None:
    broker = fast(mosquitto.url)
    _, _, hub = subscriber(runtimes, broker)
    node, sink, _ = publisher(runtimes, broker, "pi-1")
    hub.wait_for("pi-1 online", sees_status(hub, "pi-1", "online"))
    sent = emit_readings(node, 3)
    node.shutdown()
    hub.wait_for("pi-1 offline", sees_status(hub, "pi-1", "offline"))
    # Everything published before the status changed, in order.
    assert [key(e) for e in remote(hub)] == [key(e) for e in sent]
    assert not sink.connected


# -- loops and own events -------------------------------------------------------------------------


def test_two_bridged_runtimes_never_echo_each_others_events(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime]
) -> None:
    broker = fast(mosquitto.url)
    sides = {}
    for name in ("a", "b"):
        runtime = runtimes()
        runtime.add_sink(MqttSink(broker, name, publish=None))
        recorder = Recorder(RemoteEvent, NodeStatusChanged)
        runtime.add_process(recorder)
        runtime.add_interface(MqttSource(broker, name))
        runtime.boot()
        sides[name] = (runtime, recorder)
    (a, seen_by_a), (b, seen_by_b) = sides["a"], sides["b"]
    seen_by_a.wait_for("b online", sees_status(seen_by_a, "b", "online"))
    seen_by_b.wait_for("a online", sees_status(seen_by_b, "a", "online"))

    original = a.ctx.emit(Reading(n=1))
    seen_by_b.wait_for(
        "a's reading", lambda: any(key(e) == key(original) for e in remote(seen_by_b))
    )
    # b's sink is FIFO: once a has b's marker, it has everything b published before it.
    marker = b.ctx.emit(Reading(n=2))
    seen_by_a.wait_for("b's marker", lambda: any(key(e) == key(marker) for e in remote(seen_by_a)))

    readings_at_a = [e for e in remote(seen_by_a) if isinstance(e.payload, Reading)]
    readings_at_b = [e for e in remote(seen_by_b) if isinstance(e.payload, Reading)]
    assert [key(e) for e in readings_at_a] == [key(marker)]
    assert [key(e) for e in readings_at_b] == [key(original)]
    # Neither side hears itself, and neither hears the other's remote events.
    assert {p.node for p in seen_by_a.payloads(RemoteEvent)} == {"b"}
    assert {p.node for p in seen_by_b.payloads(RemoteEvent)} == {"a"}
    assert source_nodes(seen_by_a) == {"b"}


# -- hostile input --------------------------------------------------------------------------------


class RawPublisher:
    """A bare client publishing whatever bytes a test wants, where it wants."""

    def __init__(self, broker: MqttBroker) -> None:
        self.ready = threading.Event()
        self.connection = Connection(
            broker,
            label="raw",
            on_connect=lambda error: self.ready.set() if error is None else None,
            on_disconnect=lambda error: None,
        )
        self.connection.start()
        assert self.ready.wait(TIMEOUT), "the raw publisher did not connect"
        self.infos: list[Any] = []

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.infos.append(self.connection.publish(topic, payload, retain=retain))

    def close(self) -> None:
        wait_until("raw messages acknowledged", lambda: all(i.is_published() for i in self.infos))
        self.connection.stop(5.0)


@pytest.fixture
def raw(mosquitto: Mosquitto) -> Iterator[RawPublisher]:
    publisher = RawPublisher(fast(mosquitto.url))
    yield publisher
    publisher.close()


def subscribed(raw: RawPublisher, hub: Recorder) -> None:
    """Wait until the hub's source has subscribed: a retained status reaches it then."""
    raw.publish("bussdcc/probe/status", b"online", retain=True)
    hub.wait_for("the probe's status", sees_status(hub, "probe", "online"))


def record(evt: Event[Any]) -> bytes:
    return encode_event(evt)


def reading_record(n: int, **changes: Any) -> bytes:
    data = msgspec.json.decode(record(Event(datetime.now(UTC), Reading(n=n), n)))
    data.update(changes)
    return msgspec.json.encode(data)


@dataclass(slots=True, frozen=True)
class NeverImported(Message):
    name = "test.mqtt.never_imported"
    n: int


def test_hostile_payloads_are_skipped_and_counted_and_the_bridge_keeps_running(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime], raw: RawPublisher
) -> None:
    _, source, hub = subscriber(runtimes, fast(mosquitto.url), max_payload_bytes=4096)
    subscribed(raw, hub)

    relayed = RemoteEvent("x", Event(datetime.now(UTC), Reading(n=0)))
    unknown = msgspec.json.decode(record(Event(datetime.now(UTC), NeverImported(n=1))))
    unknown["name"], unknown["type"] = "test.mqtt.nobody", "os:system"
    hostile: list[tuple[str, bytes]] = [
        ("bussdcc/evil/test.mqtt.reading", b"{not json"),
        ("bussdcc/evil/test.mqtt.reading", b"\xff\xfe\x00garbage"),
        ("bussdcc/evil/test.mqtt.reading", b"[1, 2, 3]"),
        ("bussdcc/evil/test.mqtt.nobody", msgspec.json.encode(unknown)),
        ("bussdcc/evil/test.mqtt.reading", reading_record(1, data={"n": "one"})),
        ("bussdcc/evil/test.mqtt.other", reading_record(2)),
        ("bussdcc/evil/test.mqtt.reading", b" " * 5000),
        ("bussdcc/evil/mqtt.remote", record(Event(datetime.now(UTC), relayed))),
        ("bussdcc/evil/status", b"maybe"),
        ("bussdcc/evil", b"no tail"),
    ]
    for topic, payload in hostile:
        raw.publish(topic, payload)
    for i in range(2000):  # a flood
        raw.publish(f"bussdcc/flood-{i % 7}/test.mqtt.reading", b"\x00" * (i % 50))
    good = Event(datetime.now(UTC), Reading(n=42), 9)
    raw.publish("bussdcc/good/test.mqtt.reading", record(good))

    hub.wait_for("the good event", lambda: len(remote(hub)) == 1)
    # One publisher's QoS 1 messages arrive in order: all the hostile ones came first.
    assert [key(e) for e in remote(hub)] == [key(good)]
    assert source.skipped == len(hostile) + 2000
    assert len(source.problems) == source.max_problems
    reasons = [p.reason for p in source.problems[: len(hostile)]]
    assert "not valid JSON" in reasons[0]
    assert "unknown message 'test.mqtt.nobody'" in reasons[3]
    assert "does not validate" in reasons[4]
    assert "topic names 'test.mqtt.other'" in reasons[5]
    assert "5000 bytes" in reasons[6]
    assert "relayed" in reasons[7]
    assert "status must be" in reasons[8]
    assert "not <prefix>/<node>/<name>" in reasons[9]  # '#' matches its parent level too
    assert source.ctx is not None
    assert source.ctx.state.get("mqtt.source.skipped") == source.skipped


class EncodingSink:
    """Encodes each remote event with the source's `MqttSource.encode`, as the hub's history
    sink does (inside the emit, on the receiving thread)."""

    def __init__(self) -> None:
        self.source: MqttSource | None = None
        self.lines: list[tuple[Event[Any], bytes]] = []
        self.done = threading.Event()

    def start(self, ctx: ContextProtocol) -> None:
        pass

    def handle(self, evt: Event[Any]) -> None:
        if isinstance(evt.payload, RemoteEvent) and self.source is not None:
            self.lines.append((evt, self.source.encode(evt)))
            if len(self.lines) == 3:
                self.done.set()

    def stop(self) -> None:
        pass


def test_encode_embeds_the_record_as_it_arrived_and_reads_back_as_the_same_event(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime], raw: RawPublisher
) -> None:
    runtime = runtimes()
    source = MqttSource(fast(mosquitto.url), "hub")
    sink = EncodingSink()
    sink.source = source
    recorder = Recorder(NodeStatusChanged)
    runtime.add_sink(sink)
    runtime.add_process(recorder)
    runtime.add_interface(source)
    runtime.boot()
    subscribed(raw, recorder)
    compact = reading_record(1)
    extra = reading_record(2, extra="kept")  # a field this runtime does not know
    pretty = msgspec.json.format(reading_record(3), indent=2)  # a record over several lines
    assert b"\n" in pretty
    for payload in (compact, extra, pretty):
        raw.publish("bussdcc/node-a/test.mqtt.reading", payload)
    assert sink.done.wait(TIMEOUT), f"only {len(sink.lines)} remote events"
    for evt, line in sink.lines:
        assert b"\n" not in line
        assert key(decode_event(line)) == key(evt)  # the same record encode_event writes
    (_, first), (second_evt, second), (third_evt, third) = sink.lines
    # The node's bytes, not encoded again: what this runtime does not know stays.
    assert b'"event":' + compact + b"}" in first
    assert b'"extra":"kept"' in second
    # A record spread over lines is encoded again, as is any event not being emitted now.
    assert third == encode_event(third_evt)
    assert source.encode(second_evt) == encode_event(second_evt)
    assert b"extra" not in encode_event(second_evt)


def test_a_node_over_max_rate_is_throttled_on_the_runtime_clock(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime], raw: RawPublisher
) -> None:
    clock = ManualClock()
    _, source, hub = subscriber(runtimes, fast(mosquitto.url), max_rate=10, clock=clock)
    subscribed(raw, hub)

    for n in range(30):
        raw.publish("bussdcc/chatty/test.mqtt.reading", reading_record(n))
    raw.publish("bussdcc/quiet/test.mqtt.reading", reading_record(100))
    hub.wait_for("the quiet node's event", lambda: bool(remote(hub, "quiet")))
    assert [e.payload.n for e in remote(hub, "chatty")] == list(range(10))
    assert source.skipped == 20

    clock.advance(0.5)  # five more tokens
    for n in range(30, 40):
        raw.publish("bussdcc/chatty/test.mqtt.reading", reading_record(n))
    raw.publish("bussdcc/quiet/test.mqtt.reading", reading_record(101))
    hub.wait_for("the second quiet event", lambda: len(remote(hub, "quiet")) == 2)
    assert [e.payload.n for e in remote(hub, "chatty")] == [*range(10), *range(30, 35)]


def test_a_source_ignores_its_own_node_and_nodes_it_was_not_asked_for(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime], raw: RawPublisher
) -> None:
    _, source, hub = subscriber(runtimes, fast(mosquitto.url), node="me", nodes=["me", "pi-2"])
    assert source.topics == ["bussdcc/me/#", "bussdcc/pi-2/#"]
    raw.publish("bussdcc/pi-2/status", b"online", retain=True)  # seen once subscribed
    hub.wait_for("pi-2 online", sees_status(hub, "pi-2", "online"))
    raw.publish("bussdcc/me/test.mqtt.reading", reading_record(1))
    raw.publish("bussdcc/me/status", b"online")
    raw.publish("bussdcc/pi-3/test.mqtt.reading", reading_record(2))
    raw.publish("bussdcc/pi-2/test.mqtt.reading", reading_record(3))
    hub.wait_for("pi-2's event", lambda: bool(remote(hub)))
    assert [(p.node, p.event.payload.n) for p in hub.payloads(RemoteEvent)] == [("pi-2", 3)]
    assert set(source.nodes()) == {"pi-2"}
    assert source.skipped == 0


def test_a_cleared_status_forgets_the_node(
    mosquitto: Mosquitto, runtimes: Callable[..., Runtime], raw: RawPublisher
) -> None:
    _, source, hub = subscriber(runtimes, fast(mosquitto.url))
    raw.publish("bussdcc/gone/status", b"online", retain=True)
    hub.wait_for("gone online", sees_status(hub, "gone", "online"))
    assert "gone" in hub_state(source)
    raw.publish("bussdcc/gone/status", b"", retain=True)
    wait_until("gone forgotten", lambda: "gone" not in source.nodes())
    assert "gone" not in hub_state(source)


# -- authentication -------------------------------------------------------------------------------


class SlowToConnect(Device):
    """A device whose connect takes a while: the boot is still under way when the broker
    answers the sink (which started before boot)."""

    def connect(self) -> None:
        threading.Event().wait(1.0)


def test_a_refusal_during_boot_still_reaches_the_processes(
    mosquitto_factory: Callable[..., Mosquitto], runtimes: Callable[..., Runtime]
) -> None:
    mosquitto = mosquitto_factory(users={"alice": "right"}).start()
    runtime = runtimes()
    runtime.add_sink(MqttSink(fast(mosquitto.url, username="alice", password="wrong"), "x"))
    runtime.add_device(SlowToConnect("slow"))
    recorder = runtime.add_process(Recorder(MqttDisconnected))
    runtime.boot()  # the device holds the boot past the refusal, before processes subscribe
    recorder.wait_for("the refusal", lambda: bool(recorder.payloads(MqttDisconnected)))
    [refusal] = recorder.payloads(MqttDisconnected)
    assert refusal.client == "sink" and "refused" in refusal.error


def test_username_and_password_authenticate_and_a_wrong_password_is_reported(
    mosquitto_factory: Callable[..., Mosquitto], runtimes: Callable[..., Runtime]
) -> None:
    mosquitto = mosquitto_factory(users={"alice": "s3cr:t/?"}).start()
    good = fast(mosquitto.url, username="alice", password="s3cr:t/?")
    url = f"mqtt://alice:s3cr%3At%2F%3F@127.0.0.1:{mosquitto.port}"
    assert MqttBroker.from_url(url) == MqttBroker.from_url(mosquitto.url, **_creds(good))

    _, _, intruder = publisher(runtimes, fast(mosquitto.url, username="alice", password="no"), "x")
    intruder.wait_for("the refusal", lambda: bool(intruder.payloads(MqttDisconnected)))
    [refusal] = intruder.payloads(MqttDisconnected)
    assert refusal.client == "sink" and "refused" in refusal.error
    assert "s3cr" not in repr(good) and "no" not in refusal.error.split(": ", 1)[0]

    _, _, hub = subscriber(runtimes, good)
    node, _, _ = publisher(runtimes, MqttBroker.from_url(url, reconnect_min=0.05), "pi-1")
    hub.wait_for("pi-1 online", sees_status(hub, "pi-1", "online"))
    sent = emit_readings(node, 3)
    hub.wait_for("3 readings", lambda: len(remote(hub)) == 3)
    assert [key(e) for e in remote(hub)] == [key(e) for e in sent]
    # Retried with backoff, the refusal stays one report per streak.
    assert len(intruder.payloads(MqttDisconnected)) == 1


def _creds(broker: MqttBroker) -> dict[str, Any]:
    return {"username": broker.username, "password": broker.password}
