"""`MqttSource`: re-emits other nodes' events from an MQTT broker into the local bus."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import msgspec

from bussdcc.component import Interface
from bussdcc.event import Event

from ..codec import WireError, encode_event
from ..codec._decode import _decode_line
from ..codec._encode import Record, wire_type
from ..message.framework import FrameworkShuttingDown
from .broker import MqttBroker
from .message import MqttConnected, MqttDisconnected, NodeStatusChanged, RemoteEvent
from .receiver import Receiver
from .sink import RECEIVED
from .topics import DEFAULT_PREFIX, STATUS, check_node, check_prefix, parse_topic

if TYPE_CHECKING:
    from bussdcc.context import ContextProtocol

__all__ = ["NODES_PATH", "SOURCE_PATH", "MqttSource", "NodeView", "SkippedMessage"]

logger = logging.getLogger(__name__)

NODES_PATH = "mqtt.nodes"
"""State: ``{node: {"status": "online" | "offline", "since": ISO-8601}}`` from status topics."""
SOURCE_PATH = "mqtt.source"
"""State: ``{"received": n, "skipped": n}``, written when a message is skipped."""


class SkippedMessage(NamedTuple):
    """A received message that was not used: its topic and why."""

    topic: str
    reason: str


@dataclass(frozen=True, slots=True)
class NodeView:
    """What the source knows of one node: its status (``unknown`` until its retained status
    arrives), since when (local time), when anything of it last arrived, and how many of its
    events were re-emitted."""

    node: str
    status: Literal["online", "offline", "unknown"]
    since: datetime | None
    last_seen: datetime | None
    events: int


DUPLICATE_WINDOW = 256
"""How many of a node's latest events are remembered to recognise a redelivered one."""


class _Node:
    __slots__ = ("events", "last_seen", "recent", "refilled", "seen", "since", "status", "tokens")

    def __init__(self, burst: float, now: float) -> None:
        self.status: Literal["online", "offline", "unknown"] = "unknown"
        self.since: datetime | None = None
        self.last_seen: datetime | None = None
        self.events = 0
        self.tokens = burst
        self.refilled = now
        # Hashes of (time, seq) of the latest events: QoS 1 is "at least once".
        self.recent: deque[int] = deque()
        self.seen: set[int] = set()

    def first_time(self, evt: Event[Any]) -> bool:
        """Remember ``evt``; False if one with the same time and ``seq`` came recently."""
        mark = hash((evt.time, evt.seq))
        if mark in self.seen:
            return False
        self.seen.add(mark)
        self.recent.append(mark)
        if len(self.recent) > DUPLICATE_WINDOW:
            self.seen.discard(self.recent.popleft())
        return True


class MqttSource(Interface):
    """Subscribes to ``<prefix>/+/#`` (or to the given ``nodes`` only) and emits each remote
    event as a `RemoteEvent` carrying the publishing node and the event as it was delivered
    there (time, ``seq``, typed payload). Register it with ``runtime.add_interface(source)``:
    it connects when interfaces start (after processes, so they see the first events) and
    stops with them.

    Types resolve by wire name through the registry of already-imported messages
    (`bussdcc_framework.codec.decode_event` without ``allowed_modules``): nothing is ever
    imported because of a message. ``node`` names this runtime's own node: its topics are
    ignored, so a runtime with both a sink and a source does not receive itself.

    Status: a node's retained ``status`` topic (``online``/``offline``, the latter also as
    its last will) updates the view returned by `nodes`, the state at `NODES_PATH`, and emits
    `NodeStatusChanged` on each change. An empty retained status (a cleared topic) forgets the
    node.

    Sessions: by default a clean session, so what is published while the source is
    disconnected is not seen. A ``session`` name (a client id unique on the broker) makes the
    session persistent: the broker keeps the subscription and queues the QoS 1 messages
    published meanwhile (within its own limits, e.g. Mosquitto's ``max_queued_messages``),
    and delivers them when the source is back -- for a hub that must not miss a node's events
    across its own restarts.

    Duplicates: QoS 1 delivers at least once, so a message whose PUBACK was lost (the broker
    restarting, a connection breaking) comes again. An event with the same time and ``seq``
    as one of the node's latest 256 is dropped and counted in `duplicates`, not re-emitted.

    Hostile input is skipped and counted, and the bridge keeps running: a payload over
    ``max_payload_bytes``, not JSON or not UTF-8, not an event record, naming an unknown
    message or one other than its topic says, data that does not validate, a relayed
    `RemoteEvent`/`NodeStatusChanged`, a status other than ``online``/``offline``, a node
    beyond ``max_nodes``, and, with ``max_rate`` set, a node's messages beyond that many per
    second (a token bucket holding one second's worth, on the runtime's clock). Each is
    counted in `skipped`, the first ``max_problems`` kept in `problems` and logged as
    warnings naming the topic (then one line saying the rest are not logged), and the count
    written to state at `SOURCE_PATH`. Remote events stop being emitted once the runtime
    begins shutting down.

    Recording: a sink fed on the receiving thread (as the runtime feeds sinks, inside the
    emit) can encode with `encode`, which writes the `RemoteEvent` being delivered with the
    node's record embedded as the bytes that arrived instead of decoding them and encoding
    them again.

    Receiving: its own subscribe-only client (`bussdcc_framework.mqtt.receiver`) rather
    than paho's, which costs about as much per message as the broker does: it handles every
    packet a read brings in one go and acknowledges them with one write. It needs no
    third-party package.

    The constructor raises ``TypeError``/``ValueError`` naming a bad argument.
    """

    subscriptions = (FrameworkShuttingDown,)

    def __init__(
        self,
        broker: MqttBroker | str,
        node: str | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        nodes: Iterable[str] | None = None,
        max_payload_bytes: int = 1024 * 1024,
        max_rate: float | None = None,
        max_nodes: int = 10_000,
        max_problems: int = 100,
        session: str | None = None,
        name: str = "mqtt-source",
    ) -> None:
        self.broker = MqttBroker.of(broker)
        self.node = None if node is None else check_node(node)
        self.prefix = check_prefix(prefix)
        if isinstance(nodes, str):
            raise TypeError(f"nodes must be a collection of node names, not the str {nodes!r}")
        self.only = None if nodes is None else frozenset(check_node(n) for n in nodes)
        for label, value in (
            ("max_payload_bytes", max_payload_bytes),
            ("max_nodes", max_nodes),
            ("max_problems", max_problems),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{label} must be an int, got {type(value).__qualname__}")
            if value < 0:
                raise ValueError(f"{label} must be >= 0, got {value}")
        if max_rate is not None:
            if isinstance(max_rate, bool) or not isinstance(max_rate, int | float):
                raise TypeError(f"max_rate must be a number or None, got {max_rate!r}")
            if not max_rate > 0:
                raise ValueError(f"max_rate must be > 0, got {max_rate}")
        if session is not None and (not isinstance(session, str) or not 0 < len(session) <= 64):
            raise ValueError(f"session must be a str of 1-64 characters or None, got {session!r}")
        self.session = session
        self.max_payload_bytes = max_payload_bytes
        self.max_rate = None if max_rate is None else float(max_rate)
        self.max_nodes = max_nodes
        self.max_problems = max_problems
        self.name = name
        self.received = 0
        """Remote events re-emitted."""
        self.skipped = 0
        """Messages skipped as unusable (see the class docstring)."""
        self.duplicates = 0
        """Redelivered events dropped (see the class docstring)."""
        self.problems: list[SkippedMessage] = []
        self._nodes: dict[str, _Node] = {}
        self._lock = threading.Lock()
        self._closing = False
        self._failing = False
        self._connection: Receiver | None = None
        # (the RemoteEvent being emitted, the node's record as received): see `encode`.
        self._in_flight: tuple[RemoteEvent, bytes] | None = None

    def __repr__(self) -> str:
        return f"MqttSource({self.broker.address!r}, prefix={self.prefix!r})"

    @property
    def topics(self) -> list[str]:
        """The topic filters subscribed to."""
        if self.only is None:
            return [f"{self.prefix}/+/#"]
        return [f"{self.prefix}/{node}/#" for node in sorted(self.only)]

    def nodes(self) -> dict[str, NodeView]:
        """A snapshot of every node heard of, by name."""
        with self._lock:
            return {
                name: NodeView(name, n.status, n.since, n.last_seen, n.events)
                for name, n in self._nodes.items()
            }

    def encode(self, evt: Event[Any]) -> bytes:
        """`bussdcc_framework.codec.encode_event`, the same record, but cheaper for the
        `RemoteEvent` this source is emitting right now: its ``event`` is written as the
        record the node published, byte for byte (already validated by decoding it, so it
        reads back as the same event; fields this runtime does not know are kept), not
        encoded again. Any other event, or one whose record held a line break (JSON allows
        them between values), goes through ``encode_event``. Raises as ``encode_event`` does."""
        in_flight = self._in_flight
        if in_flight is None or evt.payload is not in_flight[0]:
            return encode_event(evt)
        message, raw = in_flight
        return _remote_encoder.encode(
            Record(
                evt.time,
                evt.seq,
                RemoteEvent.name,
                _REMOTE_TYPE,
                _REMOTE_SEVERITY,
                {"node": message.node, "event": msgspec.Raw(raw)},
            )
        )

    # -- the interface lifecycle ---------------------------------------------------------------

    def start(self, ctx: ContextProtocol) -> None:
        """Connect in the background (a broker that is away is retried)."""
        self.ctx = ctx
        self._closing = False
        connection = Receiver(
            self.broker,
            label=self.name,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_message=self._on_message,
            session=self.session,
        )
        self._connection = connection
        connection.start()

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        # Processes stop right after interfaces; stop feeding them remote events now.
        self._closing = True

    def stop(self, ctx: ContextProtocol) -> None:
        """Disconnect; a network thread stuck delivering an event is given up after 5 s."""
        self._closing = True
        connection, self._connection = self._connection, None
        if connection is not None and not connection.stop(5.0):
            logger.warning("%s: the MQTT network thread did not stop in time", self.name)

    # -- the client's callbacks (its network thread) -------------------------------------------

    def _on_connect(self, error: str | None) -> None:
        connection = self._connection
        if error is None and connection is not None:
            connection.subscribe(self.topics)  # clean sessions: subscribe on every connect
            self._failing = False
            self._emit(MqttConnected("source", self.node or "", self.broker.address))
        elif error is not None:
            self._disconnected(f"connection refused: {error}")

    def _on_disconnect(self, error: str | None) -> None:
        if error is not None:
            self._disconnected(error)

    def _disconnected(self, error: str) -> None:
        if not self._failing:
            self._failing = True
            self._emit(MqttDisconnected("source", self.node or "", self.broker.address, error))

    def _on_message(self, topic: str, payload: bytes) -> None:
        if self._closing or self.ctx is None:
            return
        parsed = parse_topic(self.prefix, topic)
        if parsed is None:
            self._skip(topic, "topic is not <prefix>/<node>/<name>")
            return
        node, tail = parsed
        if node == self.node:
            return
        if tail == STATUS:
            self._status(topic, node, payload)
            return
        if len(payload) > self.max_payload_bytes:
            self._skip(topic, f"payload of {len(payload)} bytes > {self.max_payload_bytes}")
            return
        state = self._node(topic, node)
        if state is None:
            return
        if not self._admit(state):
            self._skip(topic, f"node {node!r} exceeds {self.max_rate:g} messages/s")
            return
        try:
            # decode_event without its argument checks (no allowed_modules, no filter): the
            # same decoding path, once per message.
            evt = _decode_line(payload, (), None)
            assert evt is not None  # without a filter every record is wanted
        except WireError as exc:
            self._skip(topic, str(exc))
            return
        if evt.payload.name != tail:
            self._skip(topic, f"topic names {tail!r} but the record is {evt.payload.name!r}")
            return
        if isinstance(evt.payload, RECEIVED):
            self._skip(topic, f"relayed {evt.payload.name!r} records are not accepted")
            return
        with self._lock:
            fresh = state.first_time(evt)
            if fresh:
                state.events += 1
        if not fresh:
            self.duplicates += 1
            return
        self.received += 1
        message = RemoteEvent(node=node, event=evt)
        # Sinks run inside the emit on this thread: `encode` recognises the message there.
        # A record spread over lines (JSON allows whitespace) would break a JSONL line.
        raw = payload.strip()
        self._in_flight = None if b"\n" in raw or b"\r" in raw else (message, raw)
        try:
            self._emit(message)
        finally:
            self._in_flight = None

    def _node(self, topic: str, node: str) -> _Node | None:
        ctx = self.ctx
        assert ctx is not None
        with self._lock:
            state = self._nodes.get(node)
            if state is None:
                if len(self._nodes) >= self.max_nodes:
                    state = None
                else:
                    burst = self.max_rate or 0.0
                    state = self._nodes[node] = _Node(burst, ctx.clock.monotonic())
            if state is not None:
                state.last_seen = ctx.clock.now_utc()
        if state is None:
            self._skip(topic, f"more than {self.max_nodes} nodes")
        return state

    def _admit(self, state: _Node) -> bool:
        """Take a token from the node's bucket (always True without ``max_rate``)."""
        rate = self.max_rate
        if rate is None:
            return True
        assert self.ctx is not None
        now = self.ctx.clock.monotonic()
        with self._lock:
            state.tokens = min(rate, state.tokens + (now - state.refilled) * rate)
            state.refilled = now
            if state.tokens < 1.0:
                return False
            state.tokens -= 1.0
            return True

    def _status(self, topic: str, node: str, payload: bytes) -> None:
        ctx = self.ctx
        assert ctx is not None
        if payload == b"":
            with self._lock:
                known = self._nodes.pop(node, None) is not None
            if known:
                ctx.state.update(NODES_PATH, lambda nodes: _without(nodes, node), default={})
            return
        if payload not in (b"online", b"offline"):
            self._skip(topic, f"status must be 'online' or 'offline', got {payload[:40]!r}")
            return
        status: Literal["online", "offline"] = "online" if payload == b"online" else "offline"
        state = self._node(topic, node)
        if state is None:
            return
        now = ctx.clock.now_utc()
        with self._lock:
            changed = state.status != status
            if changed:
                state.status, state.since = status, now
        if changed:
            record = {"status": status, "since": now.isoformat()}
            ctx.state.update(NODES_PATH, lambda nodes: {**(nodes or {}), node: record}, default={})
            self._emit(NodeStatusChanged(node=node, status=status))

    def _skip(self, topic: str, reason: str) -> None:
        with self._lock:
            self.skipped += 1
            skipped = self.skipped
            keep = len(self.problems) < self.max_problems
            if keep:
                self.problems.append(SkippedMessage(topic, reason))
        if keep:
            logger.warning("%s: skipped a message on %r: %s", self.name, topic, reason)
        elif skipped == self.max_problems + 1:
            logger.warning("%s: more messages skipped; not logging each", self.name)
        if self.ctx is not None:
            self.ctx.state.set(SOURCE_PATH, {"received": self.received, "skipped": skipped})

    def _emit(self, message: Any) -> None:
        ctx = self.ctx
        if ctx is None or self._closing:
            return
        try:
            ctx.emit(message)
        except Exception:
            logger.exception("%s could not emit %s", self.name, message.name)


_remote_encoder = msgspec.json.Encoder()
_REMOTE_TYPE = wire_type(RemoteEvent)
_REMOTE_SEVERITY = RemoteEvent.severity.label


def _without(nodes: dict[str, Any] | None, node: str) -> dict[str, Any]:
    return {name: value for name, value in (nodes or {}).items() if name != node}
