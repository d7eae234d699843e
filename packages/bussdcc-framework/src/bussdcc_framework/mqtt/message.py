"""The MQTT bridge's messages: remote events, node status, connection and backlog reports.

This module imports no MQTT client, so a recording that holds these messages (a hub's
history of `RemoteEvent`) replays without paho-mqtt installed: import it before reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bussdcc.event import Event
from bussdcc.message import Message, Severity

__all__ = [
    "MqttBacklogOverflow",
    "MqttConnected",
    "MqttDisconnected",
    "NodeStatusChanged",
    "RemoteEvent",
]


@dataclass(slots=True, frozen=True)
class RemoteEvent(Message):
    """An event another node published, as `MqttSource` received it.

    ``node`` is the publishing node's name (the topic level after the prefix) and ``event``
    the remote event exactly as that node's bus delivered it: its own time, ``seq`` and typed
    payload. The wrapper keeps `Event` itself small and keeps remote facts apart from local
    ones: a process subscribed to ``CpuUsageUpdated`` sees only its own host's readings, and
    one that wants the fleet subscribes to ``RemoteEvent`` and dispatches on
    ``event.payload``. `MqttSink` never publishes a `RemoteEvent`, so two bridged runtimes do
    not echo each other's events back and forth.
    """

    name = "mqtt.remote"
    node: str
    event: Event[Message]


@dataclass(slots=True, frozen=True)
class NodeStatusChanged(Message):
    """A node's retained status topic changed: ``online`` when its sink connected, ``offline``
    when it stopped cleanly or the broker published its last will (it died or lost the
    network). Never published back by `MqttSink`."""

    name = "mqtt.node.status"
    node: str
    status: Literal["online", "offline"]


@dataclass(slots=True, frozen=True)
class MqttConnected(Message):
    """The bridge's ``client`` (``"sink"`` or ``"source"``) of ``node`` connected to ``broker``."""

    name = "mqtt.connected"
    client: str
    node: str
    broker: str


@dataclass(slots=True, frozen=True)
class MqttDisconnected(Message):
    """The bridge's ``client`` lost ``broker`` or could not reach it; reported once per streak
    of failed attempts. ``error`` says why (refused, not authorised, connection lost)."""

    name = "mqtt.disconnected"
    severity = Severity.WARNING
    client: str
    node: str
    broker: str
    error: str


@dataclass(slots=True, frozen=True)
class MqttBacklogOverflow(Message):
    """`MqttSink`'s backlog was full, so it dropped its oldest event; reported once per streak
    (the streak ends when the backlog has drained). ``dropped`` counts every event dropped
    since the sink started, ``capacity`` is the backlog's size."""

    name = "mqtt.backlog.overflow"
    severity = Severity.WARNING
    node: str
    capacity: int
    dropped: int
