"""The bridge's pure parts: topic layout, broker settings, argument checks. No broker."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any

import pytest

from bussdcc.event import Event
from bussdcc.message import Message, Severity
from bussdcc_framework.mqtt import MqttBroker, MqttSink, MqttSource, RemoteEvent
from bussdcc_framework.mqtt.topics import (
    check_node,
    check_prefix,
    event_topic,
    parse_topic,
    status_topic,
)


class Quiet(Message):
    name = "test.mqtt.settings.quiet"
    severity = Severity.DEBUG


class Loud(Message):
    name = "system.loud"


def test_topics_are_prefix_node_and_message_name() -> None:
    assert event_topic("bussdcc", "pi-1", "system.cpu.usage.updated") == (
        "bussdcc/pi-1/system.cpu.usage.updated"
    )
    assert status_topic("site/a", "pi-1") == "site/a/pi-1/status"
    assert parse_topic("site/a", "site/a/pi-1/system.x") == ("pi-1", "system.x")
    assert parse_topic("site/a", "site/a/pi-1/status") == ("pi-1", "status")
    assert parse_topic("bussdcc", "other/pi-1/x") is None
    assert parse_topic("bussdcc", "bussdcc/pi-1") is None
    assert parse_topic("bussdcc", "bussdccx/pi-1/x") is None


@pytest.mark.parametrize("name", ["", "status", "a/+", "a/#", "x\0"])
def test_a_message_name_that_cannot_be_a_topic_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot be published"):
        event_topic("bussdcc", "pi", name)


@pytest.mark.parametrize("node", ["", "a/b", "+", "#", "x" * 257])
def test_bad_node_names_are_refused(node: str) -> None:
    with pytest.raises(ValueError, match="node must be one topic level"):
        check_node(node)


@pytest.mark.parametrize("prefix", ["", "/a", "a/", "a//b", "a/+", "#"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        check_prefix(prefix)


def test_node_and_prefix_must_be_strings() -> None:
    with pytest.raises(TypeError, match="node"):
        check_node(5)
    with pytest.raises(TypeError, match="prefix"):
        check_prefix(None)


def test_broker_urls() -> None:
    assert MqttBroker.from_url("mqtt://broker.lan") == MqttBroker("broker.lan", 1883)
    secure = MqttBroker.from_url("mqtts://u:p%40ss@broker.lan:9000", keepalive=10)
    assert (secure.host, secure.port, secure.tls, secure.keepalive) == (
        "broker.lan",
        9000,
        True,
        10,
    )
    assert (secure.username, secure.password) == ("u", "p@ss")
    assert MqttBroker.from_url("mqtts://broker.lan").port == 8883
    assert MqttBroker.from_url("mqtt://[::1]:1884").address == "[::1]:1884"
    assert "p@ss" not in repr(secure)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://broker", "mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        ("mqtt://broker:99999", "bad port"),
        ("mqtt://broker/topic", "path"),
    ],
)
def test_bad_broker_urls_name_the_problem(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MqttBroker.from_url(url)


def test_broker_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="port"):
        MqttBroker(port=0)
    with pytest.raises(TypeError, match="port"):
        MqttBroker(port="1883")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="password needs a username"):
        MqttBroker(password="x")
    with pytest.raises(ValueError, match="ca_file needs tls=True"):
        MqttBroker(ca_file="/ca.pem")
    with pytest.raises(ValueError, match="reconnect_max"):
        MqttBroker(reconnect_min=5, reconnect_max=1)
    with pytest.raises(TypeError, match="tls"):
        MqttBroker(tls="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="broker"):
        MqttSink(42, "pi")  # type: ignore[arg-type]


def test_tls_settings_give_a_verifying_context() -> None:
    assert MqttBroker().ssl_context() is None
    context = MqttBroker(tls=True).ssl_context()
    assert context is not None
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    own = ssl.create_default_context()
    assert MqttBroker(tls=own).ssl_context() is own


def test_sink_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="backlog"):
        MqttSink("mqtt://h", "pi", backlog=0)
    with pytest.raises(TypeError, match="window"):
        MqttSink("mqtt://h", "pi", window=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stop_timeout"):
        MqttSink("mqtt://h", "pi", stop_timeout=-1)
    with pytest.raises(TypeError, match="publish entries"):
        MqttSink("mqtt://h", "pi", publish=["a*b"])
    with pytest.raises(ValueError, match="node"):
        MqttSink("mqtt://h", "a/b")


def test_source_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="nodes must be a collection"):
        MqttSource("mqtt://h", nodes="pi")
    with pytest.raises(ValueError, match="max_rate"):
        MqttSource("mqtt://h", max_rate=0)
    with pytest.raises(ValueError, match="session"):
        MqttSource("mqtt://h", session="")
    assert MqttSource("mqtt://h", nodes=["b", "a"]).topics == ["bussdcc/a/#", "bussdcc/b/#"]
    assert MqttSource("mqtt://h", prefix="x/y").topics == ["x/y/+/#"]


def _queued(sink: MqttSink, *messages: Message) -> list[str]:
    """The topics ``sink`` queues for ``messages`` (unstarted: nothing is sent)."""
    for message in messages:
        sink.handle(Event(datetime.now(UTC), message, 1))
    return [topic for topic, _ in sink._backlog]


def test_the_selection_follows_the_push_spec_and_never_takes_received_events() -> None:
    remote = RemoteEvent("x", Event(datetime.now(UTC), Loud()))
    everything: Any = None
    assert _queued(MqttSink("mqtt://h", "pi", publish=everything), Quiet(), Loud(), remote) == [
        "bussdcc/pi/system.loud"
    ]
    assert _queued(MqttSink("mqtt://h", "pi", publish="test.mqtt.*"), Quiet(), Loud()) == [
        "bussdcc/pi/test.mqtt.settings.quiet"
    ]
    assert _queued(MqttSink("mqtt://h", "pi", publish=[Message]), Quiet(), remote) == [
        "bussdcc/pi/test.mqtt.settings.quiet"
    ]
