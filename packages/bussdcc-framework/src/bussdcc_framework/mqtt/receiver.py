"""`Receiver`: a subscribe-only MQTT 3.1.1 client that handles many packets per wakeup.

`MqttSource` receives every node's events; a hub of fifty nodes gets hundreds of messages a
second. paho-mqtt spends about as much per message as the broker itself: one network-loop
iteration per packet (a ``select``, four reads for header, length and body, the packet's
objects) and a PUBACK written on its own. This client reads whatever the socket holds at once
(up to ``read_size`` bytes), splits every complete packet out of that buffer, hands each
PUBLISH to ``on_message`` and acknowledges the whole batch with one write, after the batch
was delivered (so QoS 1 stays "at least once": what was not handled is sent again).

It speaks the subset a subscriber needs: CONNECT (clean or persistent session, user name and
password, keep-alive), CONNACK, SUBSCRIBE/SUBACK at QoS 1, PUBLISH at QoS 0 and 1 with
PUBACK, PINGREQ/PINGRESP and DISCONNECT, over TCP or TLS (`MqttBroker.ssl_context`). The
callback API is `Connection`'s: ``on_connect(None | error)``, ``on_disconnect(error | None)``
and ``on_message(topic, payload)``, all on the receiver's own thread. A lost or refused
connection is retried after `MqttBroker.reconnect_min` seconds, doubling up to
``reconnect_max``. It needs no third-party package.
"""

from __future__ import annotations

import logging
import secrets
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable

from .broker import MqttBroker

__all__ = ["Receiver"]

logger = logging.getLogger(__name__)

_CONNACK_ERRORS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}
_PUBLISH, _PUBACK, _SUBACK, _PINGRESP = 0x30, 0x40, 0x90, 0xD0
_PINGREQ = b"\xc0\x00"
_DISCONNECT = b"\xe0\x00"
_MAX_PACKET = 268_435_455
"""The largest remaining length MQTT can express (256 MB); more is a protocol error."""
_POLL = 0.25
"""Seconds between looks at the stop flag while the connection is idle."""


class _Refused(Exception):
    """The broker answered CONNECT with a refusal (the text says why)."""


class _ProtocolError(Exception):
    """The broker sent something this client cannot parse."""


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class Receiver:
    """A subscriber connected to ``broker`` (with retries), on a daemon thread of its own
    (see the module docstring). ``session`` names a persistent session (the client id: the
    broker keeps its subscriptions and queues QoS 1 messages while it is away); None means a
    clean session under a random client id. `subscribe` is called from ``on_connect``.
    """

    def __init__(
        self,
        broker: MqttBroker,
        *,
        label: str,
        on_connect: Callable[[str | None], None],
        on_disconnect: Callable[[str | None], None],
        on_message: Callable[[str, bytes], None],
        session: str | None = None,
        read_size: int = 65536,
    ) -> None:
        self.broker = broker
        self.label = label
        self.client_id = session or f"bussdcc-{secrets.token_hex(6)}"
        self.clean = session is None
        self.read_size = read_size
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_message = on_message
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_id = 0
        self._pinged: float | None = None
        self._last_sent = 0.0

    # -- the Connection API --------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting (in the background: a broker that is away is retried)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.label}-mqtt", daemon=True)
        self._thread.start()

    def subscribe(self, topics: list[str]) -> None:
        """Subscribe to ``topics`` at QoS 1 (call from ``on_connect``, on this thread)."""
        sock = self._sock
        if sock is None or not topics:
            return
        self._next_id = self._next_id % 65535 + 1
        body = self._next_id.to_bytes(2, "big") + b"".join(_string(t) + b"\x01" for t in topics)
        self._send(sock, b"\x82" + _length(len(body)) + body)

    def stop(self, timeout: float) -> bool:
        """Disconnect cleanly (the broker keeps a persistent session) and end the thread,
        waiting at most ``timeout`` seconds; return whether it ended."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        broker = self.broker
        delay = broker.reconnect_min
        while not self._stop.is_set():
            try:
                sock = self._open()
            except _Refused as exc:
                self._call(self._on_connect, str(exc))
            except (OSError, _ProtocolError) as exc:
                self._call(self._on_disconnect, f"connection failed: {_describe(exc)}")
            else:
                delay = broker.reconnect_min
                self._sock = sock
                self._call(self._on_connect, None)
                error = self._serve(sock)
                self._sock = None
                self._close(sock, clean=error is None)
                self._call(self._on_disconnect, error)
                if error is None:
                    return
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, broker.reconnect_max)

    def _open(self) -> socket.socket:
        broker = self.broker
        raw = socket.create_connection((broker.host, broker.port), timeout=10)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            context = broker.ssl_context()
            sock = raw if context is None else context.wrap_socket(raw, server_hostname=broker.host)
            flags = 0x02 if self.clean else 0x00
            payload = _string(self.client_id)
            if broker.username is not None:
                flags |= 0x80
                payload += _string(broker.username)
                if broker.password is not None:
                    flags |= 0x40
                    payload += _string(broker.password)
            header = _string("MQTT") + bytes((4, flags)) + broker.keepalive.to_bytes(2, "big")
            body = header + payload
            self._send(sock, b"\x10" + _length(len(body)) + body)
            connack = b""
            while len(connack) < 4:
                chunk = sock.recv(4 - len(connack))
                if not chunk:
                    raise _ProtocolError("the broker closed the connection before CONNACK")
                connack += chunk
            if connack[0] != 0x20 or connack[1] != 2:
                raise _ProtocolError(f"expected CONNACK, got {connack!r}")
            if connack[3]:
                code = connack[3]
                raise _Refused(_CONNACK_ERRORS.get(code, f"refused with code {code}"))
            # Reads wait in select(); a write that blocks this long means the peer is gone.
            sock.settimeout(max(10.0, float(broker.keepalive)))
            return sock
        except BaseException:
            raw.close()
            raise

    def _serve(self, sock: socket.socket) -> str | None:
        """Receive until stopped (None) or the connection fails (why)."""
        buffer = bytearray()
        keepalive = self.broker.keepalive
        self._pinged = None
        self._last_sent = time.monotonic()
        tls = isinstance(sock, ssl.SSLSocket)
        try:
            while not self._stop.is_set():
                ready = tls and sock.pending() > 0  # type: ignore[attr-defined]
                if not ready:
                    ready = bool(select.select([sock], [], [], _POLL)[0])
                if ready:
                    try:
                        data = sock.recv(self.read_size)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        data = None
                    if data is not None:
                        if not data:
                            return "connection closed by the broker"
                        buffer += data
                        acks = self._packets(buffer)
                        if acks:
                            self._send(sock, acks)
                if keepalive:
                    now = time.monotonic()
                    if self._pinged is not None and now - self._pinged > keepalive:
                        return "no answer to a keep-alive ping"
                    if self._pinged is None and now - self._last_sent >= keepalive / 2:
                        self._send(sock, _PINGREQ)
                        self._pinged = now
            return None
        except (OSError, _ProtocolError) as exc:
            return f"connection lost: {_describe(exc)}"

    def _packets(self, buffer: bytearray) -> bytes:
        """Handle every complete packet at the start of ``buffer`` (removing them); return the
        PUBACKs owed for them, to be written once they have all been delivered."""
        acks = bytearray()
        size = len(buffer)
        pos = 0
        on_message = self._on_message
        while size - pos >= 2:
            kind = buffer[pos] & 0xF0
            length = 0
            shift = 0
            i = pos + 1
            complete = False
            while i < size:
                byte = buffer[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
                if shift > 21:
                    raise _ProtocolError("malformed remaining length")
            if not complete:
                break  # the length itself is still on its way
            if length > _MAX_PACKET:
                raise _ProtocolError("packet too large")
            end = i + length
            if end > size:
                break  # the rest of this packet is still on its way
            if kind == _PUBLISH:
                qos = (buffer[pos] >> 1) & 0x03
                topic_end = i + 2 + int.from_bytes(buffer[i : i + 2], "big")
                try:
                    topic = buffer[i + 2 : topic_end].decode()
                except UnicodeDecodeError:
                    topic = ""  # the source skips it as hostile
                body = topic_end
                if qos:
                    acks += b"\x40\x02" + buffer[topic_end : topic_end + 2]
                    body += 2
                try:
                    on_message(topic, bytes(buffer[body:end]))
                except Exception:
                    logger.exception("%s: MQTT message callback failed", self.label)
            elif kind == _PINGRESP:
                self._pinged = None
            elif kind == _SUBACK and b"\x80" in buffer[i + 2 : end]:
                logger.warning("%s: the broker refused a subscription", self.label)
            pos = end
        del buffer[:pos]
        return bytes(acks)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        sock.sendall(data)
        self._last_sent = time.monotonic()

    def _close(self, sock: socket.socket, *, clean: bool) -> None:
        if clean:
            try:
                sock.sendall(_DISCONNECT)
            except OSError:
                pass
        try:
            sock.close()
        except OSError:
            pass

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception:
            logger.exception("%s: MQTT callback failed", self.label)
