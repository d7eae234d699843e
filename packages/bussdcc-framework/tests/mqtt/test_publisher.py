"""`MqttPublisher`: arbitrary retained messages and a few subscriptions, on a real Mosquitto."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bussdcc_framework.mqtt import Delivery, MqttBroker, MqttPublisher, testing
from bussdcc_framework.mqtt.testing import Mosquitto

TIMEOUT = 20.0
"""A liveness bound for network effects, never a speed goal."""

mosquitto = testing.mosquitto
mosquitto_factory = testing.mosquitto_factory


def fast(url: str) -> MqttBroker:
    return MqttBroker.from_url(url, reconnect_min=0.05, reconnect_max=0.5)


class Inbox:
    """What a subscribed publisher received, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self.cond:
            self.messages.append((topic, payload))
            self.cond.notify_all()

    def wait_for(self, message: tuple[str, bytes]) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: message in self.messages, TIMEOUT):
                raise AssertionError(f"never received {message}; got {self.messages}")


def test_a_retained_message_reaches_a_later_subscriber_and_an_empty_one_deletes_it(
    mosquitto: Mosquitto,
) -> None:
    writer = MqttPublisher(fast(mosquitto.url), name="writer")
    writer.start()
    try:
        delivery = writer.publish_retained("integration/pi4/config", b'{"a": 1}')
        assert isinstance(delivery, Delivery)
        assert delivery.wait(TIMEOUT)
        assert delivery.acknowledged
        inbox = Inbox()
        reader = MqttPublisher(
            fast(mosquitto.url), name="reader", subscribe=["integration/#"], on_message=inbox
        )
        reader.start()
        try:
            inbox.wait_for(("integration/pi4/config", b'{"a": 1}'))
            assert writer.publish_retained("integration/pi4/config", b"").wait(TIMEOUT)
            inbox.wait_for(("integration/pi4/config", b""))  # live subscribers see the delete
        finally:
            reader.stop()
        late = Inbox()
        probe = MqttPublisher(
            fast(mosquitto.url), name="late", subscribe=["integration/#"], on_message=late
        )
        probe.start()
        try:
            assert probe.wait_connected(TIMEOUT)
            # A marker published after the subscription: once it arrives, a retained config
            # would have arrived before it (the broker sends retained messages on SUBSCRIBE).
            assert probe.publish("integration/marker", b"x").wait(TIMEOUT)
            late.wait_for(("integration/marker", b"x"))
            assert [m for m in late.messages if m[0] == "integration/pi4/config"] == []
        finally:
            probe.stop()
    finally:
        writer.stop()


def test_messages_published_before_the_connection_are_sent_once_connected(
    mosquitto_factory: Any,
) -> None:
    broker = mosquitto_factory()
    port = broker.reserve_port()
    url = f"mqtt://127.0.0.1:{port}"
    publisher = MqttPublisher(fast(url), name="early")
    publisher.start()
    try:
        delivery = publisher.publish_retained("integration/early", b"queued")
        assert not publisher.connected
        broker.start()
        assert delivery.wait(TIMEOUT)
        inbox = Inbox()
        reader = MqttPublisher(fast(url), subscribe=["integration/early"], on_message=inbox)
        reader.start()
        try:
            inbox.wait_for(("integration/early", b"queued"))
        finally:
            reader.stop()
    finally:
        publisher.stop()


def test_on_connect_runs_after_subscribing_on_every_connection(mosquitto: Mosquitto) -> None:
    connects = threading.Semaphore(0)
    inbox = Inbox()
    client = MqttPublisher(
        fast(mosquitto.url),
        subscribe=["ha/status"],
        on_message=inbox,
        on_connect=connects.release,
    )
    client.start()
    try:
        assert connects.acquire(timeout=TIMEOUT)
        mosquitto.restart()
        assert connects.acquire(timeout=TIMEOUT)  # reconnected, on_connect again
        # Subscribed again on the new connection (clean sessions forget subscriptions).
        client.publish("ha/status", b"online")
        inbox.wait_for(("ha/status", b"online"))
    finally:
        client.stop()


def test_a_stopped_publisher_reports_unacknowledged_deliveries_without_raising(
    mosquitto_factory: Any,
) -> None:
    broker = mosquitto_factory()
    url = f"mqtt://127.0.0.1:{broker.reserve_port()}"  # nothing listens there
    publisher = MqttPublisher(fast(url))
    publisher.start()
    delivery = publisher.publish_retained("integration/never", b"x")
    assert publisher.stop(TIMEOUT)
    assert delivery.wait(0.05) is False
    assert delivery.acknowledged is False
    with pytest.raises(RuntimeError, match="before start"):
        publisher.publish("integration/never", b"x")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"subscribe": "a/#"}, TypeError, "subscribe"),
        ({"subscribe": [""]}, ValueError, "subscribe"),
        ({"subscribe": [7]}, TypeError, "subscribe"),
        ({"window": 0}, ValueError, "window"),
        ({"window": 1.5}, TypeError, "window"),
    ],
)
def test_bad_settings_name_the_argument(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        MqttPublisher("mqtt://127.0.0.1", **kwargs)


@pytest.mark.parametrize(
    ("topic", "payload", "error", "match"),
    [
        ("a/+/b", b"", ValueError, "topic"),
        ("a/#", b"", ValueError, "topic"),
        ("", b"", ValueError, "topic"),
        (b"a", b"", TypeError, "topic"),
        ("a/b", "text", TypeError, "payload"),
    ],
)
def test_bad_topics_and_payloads_name_the_argument(
    topic: Any, payload: Any, error: type[Exception], match: str
) -> None:
    publisher = MqttPublisher("mqtt://127.0.0.1")
    with pytest.raises(error, match=match):
        publisher.publish(topic, payload)
