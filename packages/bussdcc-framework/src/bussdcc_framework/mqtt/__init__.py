"""The MQTT bridge: `MqttSink` publishes events, `MqttSource` receives other nodes' events.

Publishing (`MqttSink`, `MqttPublisher`) needs the ``mqtt`` extra (``pip install
'bussdcc-framework[mqtt]'``, paho-mqtt 1.6 or 2.x); `MqttSource` receives with a client of its
own, and importing this package and its messages works without paho. Topics:
``<prefix>/<node>/<message name>`` carry one wire-format record each (QoS 1) and the
retained ``<prefix>/<node>/status`` holds ``online`` or ``offline`` (also the last will).
`MqttPublisher` publishes anything else (retained integration configs) with the same broker
settings.
"""

from .broker import MqttBroker
from .message import (
    MqttBacklogOverflow,
    MqttConnected,
    MqttDisconnected,
    NodeStatusChanged,
    RemoteEvent,
)
from .publisher import Delivery, MqttPublisher
from .sink import MqttSink, PublishSpec
from .source import NODES_PATH, SOURCE_PATH, MqttSource, NodeView, SkippedMessage
from .topics import DEFAULT_PREFIX

__all__ = [
    "DEFAULT_PREFIX",
    "NODES_PATH",
    "SOURCE_PATH",
    "Delivery",
    "MqttBacklogOverflow",
    "MqttBroker",
    "MqttConnected",
    "MqttDisconnected",
    "MqttPublisher",
    "MqttSink",
    "MqttSource",
    "NodeStatusChanged",
    "NodeView",
    "PublishSpec",
    "RemoteEvent",
    "SkippedMessage",
]
