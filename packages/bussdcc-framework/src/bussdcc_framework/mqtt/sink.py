"""`MqttSink`: publishes chosen events to an MQTT broker, never blocking the bus."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from bussdcc.event import Event
from bussdcc.message import Message

from ..codec import encode_event
from ..selection import MessageSelection, SelectionSpec
from .broker import MqttBroker
from .connection import Connection
from .message import (
    MqttBacklogOverflow,
    MqttConnected,
    MqttDisconnected,
    NodeStatusChanged,
    RemoteEvent,
)
from .topics import DEFAULT_PREFIX, check_node, check_prefix, event_topic, status_topic

if TYPE_CHECKING:
    from bussdcc.context import ContextProtocol

__all__ = ["MqttSink", "PublishSpec"]

logger = logging.getLogger(__name__)

PublishSpec: TypeAlias = SelectionSpec
"""A message class (subclasses included) or a wire name; ``"system.*"`` matches a prefix."""

RECEIVED: tuple[type[Message], ...] = (RemoteEvent, NodeStatusChanged)
"""Messages that came from MQTT: never published again, so bridges cannot loop."""

ONLINE = b"online"
OFFLINE = b"offline"


class _Selection(MessageSelection):
    """`MessageSelection` that never takes what came from MQTT (so bridges cannot loop)."""

    __slots__ = ()

    def _matches(self, cls: type[Message]) -> bool:
        return not issubclass(cls, RECEIVED) and super()._matches(cls)


class MqttSink:
    """Publishes events in the wire format (`bussdcc_framework.codec.encode_event`) to
    ``<prefix>/<node>/<message name>`` at QoS 1. Add it with ``runtime.add_sink(sink)``.

    ``publish`` chooses the events: message classes (with subclasses) and wire names
    (``"system.*"`` matches a dotted prefix); None (the default) publishes every message of
    severity INFO or above. Messages that came from MQTT (`RemoteEvent`, `NodeStatusChanged`)
    are never published, whatever ``publish`` says, so two bridged runtimes never echo each
    other. ``node`` defaults to the host name.

    Status: on every (re)connection the sink publishes a retained ``online`` on
    ``<prefix>/<node>/status``; the broker publishes the retained last will ``offline`` there
    if the connection dies (the process killed, the network gone), and `stop` publishes
    ``offline`` itself before disconnecting cleanly.

    Never blocking the bus: `handle` encodes the event and appends it to a backlog; a thread
    of the sink's own hands the backlog to the client while connected, at most ``window``
    unacknowledged messages at a time (the rest wait in the backlog, in order). While the
    broker is away the client reconnects with a backoff (`MqttBroker.reconnect_min` doubling
    up to ``reconnect_max``) and the backlog keeps the newest ``backlog`` events (default
    10 000; with ~8 telemetry events a second that is about 20 minutes). When it is full the
    OLDEST event is dropped: counted in `dropped` and reported as one `MqttBacklogOverflow`
    per streak (the streak ends once the backlog has drained). Messages already handed to the
    client when the connection broke are resent after the reconnect (QoS 1: at least once).

    `stop` publishes what is still queued while connected, for at most ``stop_timeout``
    seconds in all, then ``offline``, then disconnects; events still queued then (or with the
    broker away) are counted in `dropped` and logged. Connection changes are emitted as
    `MqttConnected` / `MqttDisconnected` (once per streak of failures).

    `handle` raises `bussdcc_framework.codec.UnencodableError` for an event the wire format
    cannot carry and ``ValueError`` for a message name that cannot be a topic (``status``, or
    one holding ``+``/``#``); the runtime reports either as ``sink.error``. The constructor
    raises ``TypeError``/``ValueError`` naming a bad argument and ``ImportError`` (at `start`)
    without paho-mqtt.
    """

    def __init__(
        self,
        broker: MqttBroker | str,
        node: str | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        publish: Iterable[PublishSpec] | PublishSpec | None = None,
        backlog: int = 10_000,
        window: int = 20,
        stop_timeout: float = 5.0,
        name: str = "mqtt",
    ) -> None:
        self.broker = MqttBroker.of(broker)
        self.node = check_node(socket.gethostname() if node is None else node)
        self.prefix = check_prefix(prefix)
        self._selected = _Selection(publish, label="publish")
        for label, value in (("backlog", backlog), ("window", window)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{label} must be an int, got {type(value).__qualname__}")
            if value < 1:
                raise ValueError(f"{label} must be at least 1, got {value}")
        if isinstance(stop_timeout, bool) or not isinstance(stop_timeout, int | float):
            raise TypeError(f"stop_timeout must be a number, got {stop_timeout!r}")
        if stop_timeout < 0:
            raise ValueError(f"stop_timeout must be >= 0, got {stop_timeout}")
        self.capacity = backlog
        self.window = window
        self.stop_timeout = float(stop_timeout)
        self.name = name
        self.status_topic = status_topic(self.prefix, self.node)

        self.dropped = 0
        """Events dropped: pushed out of a full backlog, or still queued at `stop`."""
        self.published = 0
        """Events the broker acknowledged."""
        self._topics: dict[type, str] = {}
        self._cond = threading.Condition()
        self._backlog: deque[tuple[str, bytes]] = deque()
        self._overflowing = False
        self._connected = False
        self._failing = False
        self._stopping = False
        self._deadline = 0.0
        self._notices: list[Message] = []
        self._ctx: ContextProtocol | None = None
        self._connection: Connection | None = None
        self._worker: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"MqttSink({self.broker.address!r}, node={self.node!r})"

    @property
    def connected(self) -> bool:
        """Whether the client is connected to the broker now."""
        return self._connected

    @property
    def pending(self) -> int:
        """Events in the backlog, not yet handed to the client."""
        return len(self._backlog)

    # -- the sink protocol ---------------------------------------------------------------------

    def start(self, ctx: ContextProtocol) -> None:
        """Start connecting in the background (a broker that is away is retried)."""
        if self._connection is not None:
            return
        self._ctx = ctx
        self._stopping = False
        connection = Connection(
            self.broker,
            label=f"{self.name}:{self.node}",
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_publish=self._on_publish,
            will=(self.status_topic, OFFLINE),
            max_inflight=self.window,
        )
        self._connection = connection
        self._worker = threading.Thread(
            target=self._work, args=(connection,), name=f"{self.name}-publisher", daemon=True
        )
        self._worker.start()
        connection.start()

    def handle(self, evt: Event[Any]) -> None:
        """Queue ``evt`` for publishing if it is selected; returns at once."""
        cls = type(evt.payload)
        topic = self._topics.get(cls)
        if topic is None:
            # "" caches "not published" for the class.
            topic = event_topic(self.prefix, self.node, cls.name) if self._selected(cls) else ""
            self._topics[cls] = topic
        if not topic:
            return
        record = encode_event(evt)
        report = False
        with self._cond:
            if len(self._backlog) >= self.capacity:
                self._backlog.popleft()
                self.dropped += 1
                report = not self._overflowing
                self._overflowing = True
            self._backlog.append((topic, record))
            self._cond.notify_all()
        if report and self._ctx is not None:
            self._ctx.emit(
                MqttBacklogOverflow(node=self.node, capacity=self.capacity, dropped=self.dropped)
            )

    def stop(self) -> None:
        """Publish what is queued (while connected), then ``offline``, then disconnect;
        within ``stop_timeout`` seconds in all."""
        connection, worker = self._connection, self._worker
        if connection is None or worker is None:
            return
        deadline = time.monotonic() + self.stop_timeout
        with self._cond:
            self._stopping = True
            self._deadline = deadline
            self._cond.notify_all()
        worker.join(max(0.0, deadline - time.monotonic()) + 0.2)
        connection.stop(max(0.5, deadline - time.monotonic()))
        with self._cond:
            lost = len(self._backlog)
            self._backlog.clear()
            self.dropped += lost
        if lost:
            logger.warning(
                "MQTT sink %s: %d events were not published before stopping", self.node, lost
            )
        self._connection = self._worker = None
        self._connected = False

    # -- the client's callbacks (its network thread; never call the client under _cond) ---------

    def _on_connect(self, error: str | None) -> None:
        if error is None:
            # Before the backlog: subscribers learn the node is up before its events arrive.
            assert self._connection is not None
            self._connection.publish(self.status_topic, ONLINE, retain=True)
            self._changed(True, None)
        else:
            self._changed(False, f"connection refused: {error}")

    def _on_disconnect(self, error: str | None) -> None:
        self._changed(False, error)

    def _on_publish(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _changed(self, connected: bool, error: str | None) -> None:
        with self._cond:
            self._connected = connected
            if connected:
                self._failing = False
                self._notices.append(MqttConnected("sink", self.node, self.broker.address))
            elif error is not None and not self._failing:
                self._failing = True
                self._notices.append(
                    MqttDisconnected("sink", self.node, self.broker.address, error)
                )
            self._cond.notify_all()

    # -- the publisher thread ------------------------------------------------------------------

    def _work(self, connection: Connection) -> None:
        inflight: list[Any] = []
        offline: Any = None
        while True:
            batch: list[tuple[str, bytes]] = []
            with self._cond:
                while True:
                    still = [info for info in inflight if not info.is_published()]
                    self.published += len(inflight) - len(still)
                    inflight = still
                    notices = []
                    if self._notices and self._processes_listen():
                        notices, self._notices = self._notices, []
                        break
                    room = self.window - len(inflight)
                    if self._stopping:
                        if (
                            not self._connected
                            or time.monotonic() >= self._deadline
                            or (offline is not None and offline.is_published() and not inflight)
                        ):
                            return
                        if not self._backlog and offline is None:
                            break  # time to say offline
                    if self._connected and self._backlog and room > 0:
                        take = min(room, len(self._backlog))
                        batch = [self._backlog.popleft() for _ in range(take)]
                        if not self._backlog:
                            self._overflowing = False
                        break
                    # Notices held until boot: look again soon rather than in a second.
                    timeout = 0.05 if self._notices else 1.0
                    if self._stopping:
                        timeout = max(0.0, min(timeout, self._deadline - time.monotonic()))
                    self._cond.wait(timeout)
                stopping, backlog_empty = self._stopping, not self._backlog
            for notice in notices:
                self._emit(notice)
            for topic, record in batch:
                inflight.append(connection.publish(topic, record))
            if stopping and backlog_empty and offline is None and not batch and not notices:
                offline = connection.publish(self.status_topic, OFFLINE, retain=True)

    def _processes_listen(self) -> bool:
        # A sink starts before boot, so the broker may answer (a refusal, say) before the
        # runtime's processes have subscribed: a notice emitted then would reach the other
        # sinks only, and a process tracking the connection would never learn of it. Notices
        # wait until the boot is over; anything later is reported at once.
        ctx = self._ctx
        return ctx is None or ctx.runtime.phase not in ("created", "booting")

    def _emit(self, message: Message) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        try:
            ctx.emit(message)
        except Exception:
            logger.exception("MQTT sink %s could not report %s", self.node, message.name)
