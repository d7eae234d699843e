"""Home Assistant MQTT discovery: the configs that make a node's sensors appear by themselves.

`discovery_configs` is pure: from a node's name, identity and the filesystems and temperature
sensors it reports, it builds ``(topic, payload)`` pairs following Home Assistant's documented
MQTT discovery schema:

* topic ``<discovery prefix>/<component>/<node id>/<object id>/config`` where the ids match
  ``[a-zA-Z0-9_-]+`` (the node name is slugged to fit);
* one device per node (``identifiers`` from the CPU serial or machine id when known, else the
  node name), shared by every entity, so Home Assistant groups them;
* each entity's ``state_topic`` is the node's own bridge topic for the message that carries
  the value (``bussdcc/<node>/system.cpu.usage.updated`` ...) and ``value_template`` picks
  the value out of the wire record; ``availability_topic`` is the node's retained status
  topic (``online``/``offline``, also the last will), so Home Assistant shows a dead node's
  sensors as unavailable.

`HaDiscovery` publishes them, retained, as soon as it knows what the node has (identity,
filesystems, sensors) and again whenever Home Assistant announces it (re)started on
``<prefix>/status``. Configs are removed (empty retained payloads) on shutdown only when asked
(``cleanup=True``): a reboot or an upgrade must not make Home Assistant forget the device,
its history and the user's customisations.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bussdcc.component import Process
from bussdcc.event import Event
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.mqtt import DEFAULT_PREFIX, MqttBroker
from bussdcc_framework.mqtt.connection import Connection

from ..message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..version import __version__

if TYPE_CHECKING:
    from bussdcc.context import ContextProtocol

__all__ = [
    "HA_PREFIX",
    "DeviceInfo",
    "HaDiscovery",
    "discovery_configs",
    "object_id",
]

logger = logging.getLogger(__name__)

HA_PREFIX = "homeassistant"
"""Home Assistant's default discovery prefix (its birth message is ``<prefix>/status``)."""

_ID = re.compile(r"[^a-zA-Z0-9_-]+")


def object_id(text: str) -> str:
    """``text`` as a discovery topic id: runs of characters outside ``[a-zA-Z0-9_-]`` become
    ``_`` (``"/boot/firmware"`` -> ``"boot_firmware"``); ``"root"`` for what slugs to nothing."""
    slug = _ID.sub("_", text).strip("_")
    return slug or "root"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What Home Assistant's device registry shows for a node."""

    node: str
    hostname: str | None = None
    model: str | None = None
    serial: str | None = None
    os: str | None = None

    @classmethod
    def of(cls, node: str, identity: SystemIdentityEvent | None) -> DeviceInfo:
        if identity is None:
            return cls(node)
        return cls(node, identity.hostname, identity.model, identity.serial, identity.os)

    def payload(self) -> dict[str, Any]:
        # The serial (CPU serial or machine id) survives a rename of the node; without one the
        # node name is the identity.
        ident = f"bussdcc_{object_id(self.serial)}" if self.serial else f"bussdcc_{self.node}"
        device: dict[str, Any] = {
            "identifiers": [ident],
            "name": self.node,
            "manufacturer": "bussdcc-system-health",
            "sw_version": __version__,
        }
        if self.model:
            device["model"] = self.model
        if self.serial:
            device["serial_number"] = self.serial
        if self.os:
            device["hw_version"] = self.os
        return device


def _pick(list_field: str, key: str, value: str, attribute: str) -> str:
    # The entry of a list field whose key matches; nothing (unknown) when it is absent.
    return (
        f"{{% set m = value_json.data.{list_field} | selectattr('{key}', 'eq', {value!r}) "
        f"| list %}}{{{{ m[0].{attribute} if m else None }}}}"
    )


def discovery_configs(
    node: str,
    device: DeviceInfo,
    *,
    mountpoints: Iterable[str] = (),
    sensors: Iterable[tuple[str, str]] = (),
    throttling: bool = False,
    prefix: str = DEFAULT_PREFIX,
    discovery_prefix: str = HA_PREFIX,
) -> list[tuple[str, dict[str, Any]]]:
    """Every discovery config of ``node``: ``[(topic, payload), ...]`` (payloads as dicts).

    Always: CPU busy %, memory %, swap %, load 1/5/15 minutes. One disk-usage sensor per
    mountpoint in ``mountpoints``, one temperature sensor per ``(name, label)`` in
    ``sensors``, and, when ``throttling`` (the node reads Raspberry Pi firmware flags), binary
    sensors (device class ``problem``) for under-voltage, throttled, frequency capped and soft
    temperature limit now.
    """
    node_id = object_id(node)
    base = f"{prefix}/{node}"
    dev = device.payload()
    common = {
        "availability_topic": f"{base}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": dev,
    }
    configs: list[tuple[str, dict[str, Any]]] = []

    def add(component: str, oid: str, name: str, message: str, extra: dict[str, Any]) -> None:
        payload = {
            **common,
            "name": name,
            "unique_id": f"{dev['identifiers'][0]}_{oid}",
            "object_id": f"{node_id}_{oid}",
            "state_topic": f"{base}/{message}",
            **extra,
        }
        configs.append((f"{discovery_prefix}/{component}/{node_id}/{oid}/config", payload))

    def percent(oid: str, name: str, message: str, field: str, icon: str) -> None:
        add(
            "sensor",
            oid,
            name,
            message,
            {
                "value_template": f"{{{{ value_json.data.{field} | round(1) }}}}",
                "unit_of_measurement": "%",
                "state_class": "measurement",
                "icon": icon,
            },
        )

    percent("cpu", "CPU", CpuUsageUpdated.name, "busy", "mdi:cpu-64-bit")
    percent("memory", "Memory", MemoryUsageUpdated.name, "percent", "mdi:memory")
    percent("swap", "Swap", MemoryUsageUpdated.name, "swap_percent", "mdi:memory")
    for minutes in (1, 5, 15):
        add(
            "sensor",
            f"load{minutes}",
            f"Load ({minutes} min)",
            LoadAverageUpdated.name,
            {
                "value_template": f"{{{{ value_json.data.load{minutes} | round(2) }}}}",
                "state_class": "measurement",
                "icon": "mdi:gauge",
            },
        )
    for mountpoint in sorted(set(mountpoints)):
        add(
            "sensor",
            f"disk_{object_id(mountpoint)}",
            f"Disk {mountpoint}",
            DiskUsageUpdated.name,
            {
                "value_template": _pick("filesystems", "mountpoint", mountpoint, "percent"),
                "unit_of_measurement": "%",
                "state_class": "measurement",
                "icon": "mdi:harddisk",
            },
        )
    for sensor, label in sorted(set(sensors)):
        title = f"{sensor} {label}".strip()
        template = (
            "{% set m = value_json.data.sensors | selectattr('name', 'eq', "
            f"{sensor!r}) | selectattr('label', 'eq', {label!r}) | list %}}"
            "{{ m[0].current if m else None }}"
        )
        add(
            "sensor",
            f"temperature_{object_id(title)}",
            f"Temperature {title}",
            TemperatureUpdated.name,
            {
                "value_template": template,
                "unit_of_measurement": "°C",
                "device_class": "temperature",
                "state_class": "measurement",
            },
        )
    if throttling:
        for flag, name in (
            ("under_voltage", "Under-voltage"),
            ("throttled", "Throttled"),
            ("frequency_capped", "Frequency capped"),
            ("soft_temperature_limit", "Soft temperature limit"),
        ):
            add(
                "binary_sensor",
                flag,
                name,
                ThrottlingUpdated.name,
                {
                    "value_template": (
                        f"{{{{ 'ON' if value_json.data.now and value_json.data.now.{flag} "
                        "else 'OFF' }}"
                    ),
                    "payload_on": "ON",
                    "payload_off": "OFF",
                    "device_class": "problem",
                    "entity_category": "diagnostic",
                },
            )
    return configs


class HaDiscovery(Process):
    """Publishes the node's Home Assistant discovery configs, retained, at QoS 1.

    It learns what the node has from its own events (identity, filesystems, temperature
    sensors, whether throttling is readable) and publishes a config the first time it is
    needed and again whenever Home Assistant publishes ``online`` on ``<discovery
    prefix>/status`` (its birth message, sent when it starts). A filesystem or sensor that
    disappears keeps its config: a USB disk unplugged for a while should not lose its history
    in Home Assistant.

    With ``cleanup`` the configs published are removed (empty retained payloads) when the
    process stops: for taking a node out of Home Assistant for good. Without it (the
    default) they stay, so a reboot does not make Home Assistant forget the device.

    Raises ``TypeError``/``ValueError`` (from `MqttBroker`) for a bad broker, and
    ``ImportError`` at `start` without paho-mqtt.
    """

    name = "ha-discovery"
    subscriptions = (SystemIdentityEvent, DiskUsageUpdated, TemperatureUpdated, ThrottlingUpdated)

    def __init__(
        self,
        broker: MqttBroker | str,
        node: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        discovery_prefix: str = HA_PREFIX,
        cleanup: bool = False,
    ) -> None:
        self.broker = MqttBroker.of(broker)
        self.node = node
        self.prefix = prefix
        self.discovery_prefix = discovery_prefix
        self.cleanup = cleanup
        self.published: dict[str, bytes] = {}
        """Every config published so far, by topic (what `cleanup` removes)."""
        self._identity: SystemIdentityEvent | None = None
        self._mountpoints: set[str] = set()
        self._sensors: set[tuple[str, str]] = set()
        self._throttling = False
        self._lock = threading.Lock()
        self._connected = False
        self._connection: Connection | None = None

    def start(self, ctx: ContextProtocol) -> None:
        connection = Connection(
            self.broker,
            label=f"ha-discovery:{self.node}",
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            on_message=self._on_message,
        )
        self._connection = connection
        connection.start()

    def stop(self, ctx: ContextProtocol) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self.cleanup and self._connected:
            infos = [connection.publish(topic, b"", retain=True) for topic in self.published]
            for info in infos:
                try:
                    info.wait_for_publish(2.0)
                except Exception:  # paho raises when the connection went away meanwhile
                    logger.warning("ha-discovery: a config removal was not acknowledged")
                    break
        connection.stop(2.0)

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        with self._lock:
            changed = self._learn(evt.payload)
        if changed:
            self._publish(force=False)

    def _learn(self, payload: Any) -> bool:
        """Note what ``payload`` says the node has; True if that is something new."""
        if isinstance(payload, SystemIdentityEvent):
            changed = self._identity != payload
            self._identity = payload
        elif isinstance(payload, DiskUsageUpdated):
            mounts = {fs.mountpoint for fs in payload.filesystems}
            changed = not mounts <= self._mountpoints
            self._mountpoints |= mounts
        elif isinstance(payload, TemperatureUpdated):
            sensors = {(s.name, s.label) for s in payload.sensors}
            changed = not sensors <= self._sensors
            self._sensors |= sensors
        elif isinstance(payload, ThrottlingUpdated):
            changed = payload.available and not self._throttling
            self._throttling = self._throttling or payload.available
        else:
            changed = False
        return changed

    def configs(self) -> list[tuple[str, dict[str, Any]]]:
        """The configs for what the node has reported so far (call under the lock from
        another thread than the bus's)."""
        return discovery_configs(
            self.node,
            DeviceInfo.of(self.node, self._identity),
            mountpoints=self._mountpoints,
            sensors=self._sensors,
            throttling=self._throttling,
            prefix=self.prefix,
            discovery_prefix=self.discovery_prefix,
        )

    def _publish(self, *, force: bool) -> None:
        connection = self._connection
        if connection is None:
            return
        # Encoded with sorted keys: an unchanged config is the same bytes and is not resent.
        with self._lock:
            encoded = [
                (topic, json.dumps(payload, sort_keys=True, ensure_ascii=False).encode())
                for topic, payload in self.configs()
            ]
            fresh = [(t, p) for t, p in encoded if force or self.published.get(t) != p]
            self.published.update(fresh)
        for topic, payload in fresh:
            # paho queues it while disconnected and sends it once connected.
            connection.publish(topic, payload, retain=True)

    # -- the client's callbacks (its network thread) -------------------------------------------

    def _on_connect(self, error: str | None) -> None:
        connection = self._connection
        if error is not None or connection is None:
            return
        self._connected = True
        connection.subscribe([f"{self.discovery_prefix}/status"])
        self._publish(force=True)

    def _on_disconnect(self, error: str | None) -> None:
        self._connected = False

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == f"{self.discovery_prefix}/status" and payload == b"online":
            self._publish(force=True)  # Home Assistant (re)started: announce everything again
