"""`Receiver`, MqttSource's subscribe-only client: packets split out of whatever a read
brings, QoS 1 acknowledged per batch after delivery, refusals reported; against a real
Mosquitto where the network matters."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bussdcc_framework.mqtt import MqttBroker, MqttPublisher, testing
from bussdcc_framework.mqtt.receiver import Receiver
from bussdcc_framework.mqtt.testing import Mosquitto

TIMEOUT = 20.0
"""A liveness bound for network effects, never a speed goal."""

mosquitto = testing.mosquitto
mosquitto_factory = testing.mosquitto_factory


def publish_packet(topic: bytes, payload: bytes, qos: int = 1, packet_id: int = 1) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += packet_id.to_bytes(2, "big")
    body += payload
    length = bytearray()
    n = len(body)
    while True:
        byte, n = n % 128, n // 128
        length.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([0x30 | qos << 1]) + bytes(length) + body


class Offline:
    """A receiver never started: its packet parser fed by hand."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.receiver = Receiver(
            MqttBroker(),
            label="test",
            on_connect=lambda error: None,
            on_disconnect=lambda error: None,
            on_message=lambda topic, payload: self.messages.append((topic, payload)),
        )


def test_every_complete_packet_of_a_read_is_delivered_and_the_qos1_ones_acked_together() -> None:
    rig = Offline()
    big = b"x" * 300  # a two-byte remaining length
    buffer = bytearray(
        publish_packet(b"a/1", b"one", qos=1, packet_id=7)
        + publish_packet(b"a/2", b"two", qos=0)
        + publish_packet(b"a/3", big, qos=1, packet_id=300)
    )
    acks = rig.receiver._packets(buffer)
    assert rig.messages == [("a/1", b"one"), ("a/2", b"two"), ("a/3", big)]
    assert acks == b"\x40\x02\x00\x07" + b"\x40\x02\x01\x2c"
    assert buffer == b""


@pytest.mark.parametrize("cut", [1, 2, 3, 10, 305])
def test_a_packet_split_across_reads_waits_for_its_rest(cut: int) -> None:
    rig = Offline()
    packet = publish_packet(b"a/b", b"y" * 300, packet_id=9)
    buffer = bytearray(packet[:cut])
    assert rig.receiver._packets(buffer) == b""
    assert rig.messages == [] and buffer == packet[:cut]
    buffer += packet[cut:]
    assert rig.receiver._packets(buffer) == b"\x40\x02\x00\x09"
    assert rig.messages == [("a/b", b"y" * 300)]


def test_a_topic_that_is_not_utf8_arrives_empty_for_the_source_to_skip() -> None:
    rig = Offline()
    rig.receiver._packets(bytearray(publish_packet(b"a/\xff", b"z")))
    assert rig.messages == [("", b"z")]


def test_a_malformed_remaining_length_is_a_protocol_error() -> None:
    rig = Offline()
    with pytest.raises(Exception, match="remaining length"):
        rig.receiver._packets(bytearray(b"\x30\xff\xff\xff\xff\x01"))


class Live:
    """A started receiver and what it saw."""

    def __init__(self, url: str, topics: list[str], **options: Any) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.events: list[tuple[str, str | None]] = []
        self.cond = threading.Condition()
        broker = MqttBroker.from_url(url, reconnect_min=0.05, reconnect_max=0.5, **options)
        self.receiver = Receiver(
            broker,
            label="live",
            on_connect=self._connected,
            on_disconnect=lambda error: self._note("disconnect", error),
            on_message=self._message,
            **{k: v for k, v in options.items() if k == "session"},
        )
        self.topics = topics

    def _connected(self, error: str | None) -> None:
        if error is None:
            self.receiver.subscribe(self.topics)
        self._note("connect", error)

    def _note(self, what: str, error: str | None) -> None:
        with self.cond:
            self.events.append((what, error))
            self.cond.notify_all()

    def _message(self, topic: str, payload: bytes) -> None:
        with self.cond:
            self.messages.append((topic, payload))
            self.cond.notify_all()

    def wait(self, what: str, predicate: Any) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, TIMEOUT), f"timed out waiting for {what}"


def test_a_refused_login_is_reported_as_a_connect_error_and_retried(
    mosquitto_factory: Any,
) -> None:
    broker = mosquitto_factory(users={"alice": "right"}).start()
    live = Live(broker.url, ["t/#"])
    live.receiver.broker = MqttBroker.from_url(
        broker.url, username="alice", password="wrong", reconnect_min=0.05, reconnect_max=0.1
    )
    live.receiver.start()
    try:
        live.wait("two refusals", lambda: len(live.events) >= 2)
        # Mosquitto 2 answers a wrong password with "not authorised" (CONNACK code 5).
        assert live.events[:2] == [("connect", "not authorised")] * 2
    finally:
        assert live.receiver.stop(TIMEOUT)


def test_messages_in_order_across_a_broker_restart_with_a_persistent_session(
    mosquitto_factory: Any,
) -> None:
    broker: Mosquitto = mosquitto_factory(persistent=True).start()
    live = Live(broker.url, ["t/#"])
    live.receiver.client_id, live.receiver.clean = "receiver-test", False
    live.receiver.start()
    sender = MqttPublisher(MqttBroker.from_url(broker.url, reconnect_min=0.05), window=100)
    sender.start()
    try:
        live.wait("connected", lambda: ("connect", None) in live.events)
        assert sender.wait_connected(TIMEOUT)
        first = [sender.publish(f"t/{n}", b"%d" % n) for n in range(50)]
        assert all(d.wait(TIMEOUT) for d in first)
        live.wait("50 messages", lambda: len(live.messages) == 50)
        broker.restart()
        assert sender.wait_connected(TIMEOUT) or sender.wait_connected(TIMEOUT)
        second = [sender.publish(f"t/{n}", b"%d" % n) for n in range(50, 80)]
        assert all(d.wait(TIMEOUT) for d in second)
        live.wait("80 messages", lambda: len(live.messages) >= 80)
        assert [p for _, p in live.messages] == [b"%d" % n for n in range(80)]
        assert any(what == "disconnect" and error for what, error in live.events)
    finally:
        sender.stop()
        assert live.receiver.stop(TIMEOUT)
