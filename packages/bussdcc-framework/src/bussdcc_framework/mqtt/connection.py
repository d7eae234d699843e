"""`Connection`: one paho-mqtt client on a thread of its own, behind one callback API.

paho-mqtt 2.0 changed the signatures of its callbacks (and wants the version named when a
client is made); Debian 12 ships 1.6. This adapter speaks both and hands the bridge plain
callbacks. paho is imported when a connection is made, so the rest of the package (its
messages above all) imports without it.

The network loop runs in a thread this module owns (paho's ``loop_forever`` with retries of
the first connection) rather than paho's ``loop_start``, so `stop` can give up on a thread
stuck in a callback after a timeout instead of joining it forever.
"""

from __future__ import annotations

import importlib
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

from .broker import MqttBroker

__all__ = ["Connection"]

logger = logging.getLogger(__name__)

QOS = 1


def _paho() -> Any:
    # Typed as Any on purpose: the two supported major versions differ in signatures, and
    # this module is the one place that knows both.
    try:
        return importlib.import_module("paho.mqtt.client")
    except ImportError as exc:
        raise ImportError(
            "the MQTT bridge needs paho-mqtt: pip install 'bussdcc-framework[mqtt]'"
        ) from exc


def _failure(rc: Any, describe: Callable[[int], str]) -> str | None:
    """None for a success code, else its text. ``rc`` is an int (paho 1.x) or a ReasonCode."""
    value = getattr(rc, "value", rc)
    if value == 0:
        return None
    if hasattr(rc, "value"):
        return str(rc)
    return str(describe(value))


class Connection:
    """A paho client connected to ``broker`` (with retries), its loop on a daemon thread.

    Callbacks run in that thread: ``on_connect(None)`` after a successful connect (and each
    reconnect), ``on_connect(error)`` when the broker refused the connection,
    ``on_disconnect(error)`` when it was lost (``error`` None after our own `stop`),
    ``on_publish()`` when a QoS 1 publish was acknowledged, ``on_message(topic, payload)`` for
    each received message. An exception in a callback is logged and never kills the loop.
    ``will`` is ``(topic, payload)`` published retained at QoS 1 by the broker if the
    connection dies without a clean disconnect. ``session`` names a persistent session (the
    client id; the broker keeps its subscriptions and queues QoS 1 messages while it is
    away); None means a clean session under a random client id.

    Raises ``ImportError`` naming the extra to install if paho-mqtt is missing.
    """

    def __init__(
        self,
        broker: MqttBroker,
        *,
        label: str,
        on_connect: Callable[[str | None], None],
        on_disconnect: Callable[[str | None], None],
        on_publish: Callable[[], None] | None = None,
        on_message: Callable[[str, bytes], None] | None = None,
        will: tuple[str, bytes] | None = None,
        max_inflight: int = 20,
        session: str | None = None,
    ) -> None:
        mqtt = _paho()
        self._mqtt = mqtt
        self.broker = broker
        self.label = label
        # 20 characters: within the 23 every MQTT 3.1.1 broker must accept; random, so two
        # processes with the same node name never take over each other's session.
        # A persistent ``session`` is its own client id.
        client_id = session or f"bussdcc-{secrets.token_hex(6)}"
        clean = session is None
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt >= 2.0
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=clean,
                protocol=mqtt.MQTTv311,
            )
        else:
            client = mqtt.Client(client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311)
        self.client = client
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_publish = on_publish
        self._on_message = on_message
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        if on_publish is not None:
            client.on_publish = self._published
        if on_message is not None:
            client.on_message = self._received
        client.max_inflight_messages_set(max_inflight)
        client.reconnect_delay_set(broker.reconnect_min, broker.reconnect_max)
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        context = broker.ssl_context()
        if context is not None:
            # Always a context of our own: paho 1.6's own TLS setup calls ssl.match_hostname,
            # which Python 3.12 removed; a context that checks host names itself skips it.
            client.tls_set_context(context)
        if will is not None:
            client.will_set(will[0], will[1], qos=QOS, retain=True)
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        """Begin connecting (in the background: a broker that is away is retried)."""
        self.client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive)
        self._thread = threading.Thread(target=self._loop, name=f"{self.label}-mqtt", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            self.client.loop_forever(retry_first_connection=True)
        except Exception:
            if not self._stopping:
                logger.exception("%s: the MQTT network loop failed", self.label)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Any:
        """Queue ``payload`` on ``topic`` at QoS 1; paho sends it now or after a reconnect.

        Returns paho's message info (``is_published()``). Thread-safe.
        """
        return self.client.publish(topic, payload, qos=QOS, retain=retain)

    def subscribe(self, topics: list[str]) -> None:
        """Subscribe to ``topics`` at QoS 1 (call from ``on_connect``: sessions are clean)."""
        self.client.subscribe([(topic, QOS) for topic in topics])

    def stop(self, timeout: float) -> bool:
        """Disconnect cleanly (the broker then discards the will) and end the loop thread,
        waiting at most ``timeout`` seconds; return whether the thread ended."""
        self._stopping = True
        try:
            self.client.disconnect()
        except Exception:
            logger.debug("%s: disconnect failed", self.label, exc_info=True)
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- paho's callbacks, both API versions ---------------------------------------------------

    def _connected(self, client: Any, userdata: Any, flags: Any, rc: Any, *rest: Any) -> None:
        self._call(self._on_connect, _failure(rc, self._mqtt.connack_string))

    def _disconnected(self, client: Any, userdata: Any, *args: Any) -> None:
        # 1.x: (rc); 2.x: (flags, reason code, properties).
        rc = args[0] if len(args) == 1 else args[1]
        error = None if self._stopping else _failure(rc, self._mqtt.error_string)
        if error is None and not self._stopping:
            error = "disconnected"
        self._call(self._on_disconnect, error)

    def _published(self, client: Any, userdata: Any, mid: int, *rest: Any) -> None:
        if self._on_publish is not None:
            self._call(self._on_publish)

    def _received(self, client: Any, userdata: Any, message: Any) -> None:
        if self._on_message is None:
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = ""  # brokers should refuse such topics; the receiver skips it as hostile
        self._call(self._on_message, topic, message.payload)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            logger.exception("%s: MQTT callback failed", self.label)
