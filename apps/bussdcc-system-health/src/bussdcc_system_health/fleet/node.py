"""The app as a fleet node: its telemetry and health published through the MQTT bridge."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from bussdcc.message import Message
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.mqtt import DEFAULT_PREFIX, MqttBroker, MqttSink
from bussdcc_framework.mqtt.topics import check_node
from bussdcc_framework.runtime import Runtime

from ..message import CollectorFailed, HealthChanged
from ..processes import STATE_PATHS
from .ha_discovery import HaDiscovery

__all__ = ["PUBLISHED", "NodeOptions", "add_node", "default_node_name"]

PUBLISHED: tuple[type[Message], ...] = (
    *STATE_PATHS,
    HealthChanged,
    CollectorFailed,
    SystemIdentityEvent,
)
"""What a node publishes: every telemetry message, health changes, collector failures and its
identity -- what a hub needs to run the same projection as the node's own dashboard."""


def default_node_name() -> str:
    """The host name up to its first dot (``pi4.local`` -> ``pi4``), the default node name."""
    return socket.gethostname().split(".", 1)[0] or "localhost"


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """``--mqtt``, ``--node``, ``--ha-discovery`` and ``--ha-discovery-cleanup``.

    Raises ``TypeError``/``ValueError`` naming the problem for a bad broker URL or node name.
    """

    broker: MqttBroker | str
    node: str | None = None
    ha_discovery: bool = False
    ha_cleanup: bool = False
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        object.__setattr__(self, "broker", MqttBroker.of(self.broker))
        object.__setattr__(self, "node", check_node(self.node or default_node_name()))


def add_node(rt: Runtime, options: NodeOptions) -> MqttSink:
    """Publish ``rt``'s telemetry and health as node ``options.node``; with ``ha_discovery``
    also Home Assistant's discovery configs. Returns the sink (its ``node``, counters)."""
    assert options.node is not None  # set by NodeOptions
    sink = MqttSink(options.broker, options.node, prefix=options.prefix, publish=PUBLISHED)
    rt.add_sink(sink)
    if options.ha_discovery:
        rt.add_process(
            HaDiscovery(
                options.broker,
                options.node,
                prefix=options.prefix,
                cleanup=options.ha_cleanup,
            )
        )
    return sink
