"""The MQTT bridge: `MqttSink` publishes events, `MqttSource` receives other nodes' events.

Needs the ``mqtt`` extra (``pip install 'bussdcc-framework[mqtt]'``, paho-mqtt 1.6 or 2.x)
to connect; importing this package and its messages works without it. Topics:
``<prefix>/<node>/<message name>`` carry one wire-format record each (QoS 1) and the
retained ``<prefix>/<node>/status`` holds ``online`` or ``offline`` (also the last will).
"""

from .broker import MqttBroker
from .message import (
    MqttBacklogOverflow,
    MqttConnected,
    MqttDisconnected,
    NodeStatusChanged,
    RemoteEvent,
)
from .sink import MqttSink, PublishSpec
from .source import NODES_PATH, SOURCE_PATH, MqttSource, NodeView, SkippedMessage
from .topics import DEFAULT_PREFIX

__all__ = [
    "DEFAULT_PREFIX",
    "NODES_PATH",
    "SOURCE_PATH",
    "MqttBacklogOverflow",
    "MqttBroker",
    "MqttConnected",
    "MqttDisconnected",
    "MqttSink",
    "MqttSource",
    "NodeStatusChanged",
    "NodeView",
    "PublishSpec",
    "RemoteEvent",
    "SkippedMessage",
]
