"""`MqttPublisher`: arbitrary (typically retained) messages on the bridge's broker.

The event bridge (`MqttSink`/`MqttSource`) carries wire-format records on its own topic
layout. Integrations need more: Home Assistant discovery configs (retained JSON on
``homeassistant/...``), and Home Assistant's birth message to answer. `MqttPublisher` is the
public way to do that with the same broker settings (`MqttBroker`: TLS, credentials, backoff),
the same paho adapter (1.6 and 2.x) and the same QoS 1, without reaching into the bridge's
private connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .broker import MqttBroker
from .connection import Connection

__all__ = ["Delivery", "MqttPublisher"]

logger = logging.getLogger(__name__)

_FORBIDDEN = ("+", "#", "\0")


class Delivery:
    """One message handed to `MqttPublisher.publish`: whether the broker acknowledged it."""

    __slots__ = ("_info",)

    def __init__(self, info: Any) -> None:
        self._info = info

    @property
    def acknowledged(self) -> bool:
        """Whether the broker acknowledged the message (QoS 1 PUBACK)."""
        try:
            return bool(self._info.is_published())
        except Exception:  # paho raises for a message it will never send
            return False

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the acknowledgement; return whether it came
        (False, never an exception, when the connection went away meanwhile)."""
        deadline = time.monotonic() + timeout
        while not self.acknowledged:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.01, remaining))
        return True


def _check_topic(topic: object, label: str, *, wildcards: bool) -> str:
    if not isinstance(topic, str):
        raise TypeError(f"{label} must be a str, got {type(topic).__qualname__}")
    forbidden = ("\0",) if wildcards else _FORBIDDEN
    if not topic or any(c in topic for c in forbidden) or len(topic.encode()) > 65535:
        kind = "a topic filter" if wildcards else "a topic without wildcards"
        raise ValueError(f"{label} must be {kind}, got {topic!r}")
    return topic


class MqttPublisher:
    """A client of ``broker`` publishing whatever topics and bytes its owner chooses, at
    QoS 1, and optionally receiving a few topics.

    `start` connects in the background (a broker that is away is retried with the broker's
    backoff). ``subscribe`` lists topic filters subscribed at QoS 1 on every (re)connection;
    ``on_message(topic, payload)`` receives what arrives on them and ``on_connect()`` runs
    after each successful (re)connection -- both on the client's network thread, so they
    must be quick; an exception in them is logged and the client keeps running.

    `publish` (and `publish_retained`) queue a message: sent at once while connected, else
    after the next connection; paho holds what is queued in memory (nothing survives the
    process). `stop` disconnects cleanly.

    Raises ``TypeError``/``ValueError`` naming the argument for a bad topic, filter or
    payload, and ``ImportError`` (at `start`) without paho-mqtt.
    """

    def __init__(
        self,
        broker: MqttBroker | str,
        *,
        name: str = "mqtt-publisher",
        subscribe: Iterable[str] = (),
        on_message: Callable[[str, bytes], None] | None = None,
        on_connect: Callable[[], None] | None = None,
        window: int = 20,
    ) -> None:
        self.broker = MqttBroker.of(broker)
        if isinstance(subscribe, str):
            raise TypeError(f"subscribe must be a collection of filters, not the str {subscribe!r}")
        self.filters = [_check_topic(f, "subscribe", wildcards=True) for f in subscribe]
        if isinstance(window, bool) or not isinstance(window, int):
            raise TypeError(f"window must be an int, got {type(window).__qualname__}")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.name = name
        self.window = window
        self._on_message = on_message
        self._on_connected = on_connect
        self._connected = threading.Event()
        self._connection: Connection | None = None

    def __repr__(self) -> str:
        return f"MqttPublisher({self.broker.address!r}, name={self.name!r})"

    @property
    def connected(self) -> bool:
        """Whether the client is connected to the broker now."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a connection; return whether there is one."""
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Begin connecting in the background (idempotent)."""
        if self._connection is not None:
            return
        connection = Connection(
            self.broker,
            label=self.name,
            on_connect=self._connect,
            on_disconnect=lambda error: self._connected.clear(),
            on_message=self._on_message if self.filters else None,
            max_inflight=self.window,
        )
        self._connection = connection
        connection.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Disconnect cleanly, waiting at most ``timeout`` seconds for the network thread;
        return whether it ended (idempotent)."""
        connection, self._connection = self._connection, None
        self._connected.clear()
        if connection is None:
            return True
        return connection.stop(timeout)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Delivery:
        """Queue ``payload`` on ``topic`` at QoS 1 (thread-safe).

        Raises:
            TypeError: ``topic`` not a str or ``payload`` not bytes.
            ValueError: ``topic`` empty or holding a wildcard or NUL.
            RuntimeError: the publisher is not started.
        """
        _check_topic(topic, "topic", wildcards=False)
        if not isinstance(payload, bytes | bytearray):
            raise TypeError(f"payload must be bytes, got {type(payload).__qualname__}")
        connection = self._connection
        if connection is None:
            raise RuntimeError(f"{self.name}: publish before start (or after stop)")
        return Delivery(connection.publish(topic, bytes(payload), retain=retain))

    def publish_retained(self, topic: str, payload: bytes) -> Delivery:
        """`publish` with the retain flag: the broker keeps the latest payload of ``topic``
        for every later subscriber; an empty payload deletes it. Raises as `publish`."""
        return self.publish(topic, payload, retain=True)

    def _connect(self, error: str | None) -> None:
        connection = self._connection
        if error is not None or connection is None:
            if error is not None:
                logger.warning("%s: broker refused the connection: %s", self.name, error)
            return
        if self.filters:
            connection.subscribe(self.filters)
        self._connected.set()
        if self._on_connected is not None:
            self._on_connected()
