"""Home Assistant MQTT discovery: topics and payloads against HA's documented schema, and
retained configs on a real broker, kept across a restart unless cleanup is asked for."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest

from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.mqtt import MqttBroker, testing
from bussdcc_framework.mqtt.connection import Connection
from bussdcc_framework.mqtt.testing import Mosquitto
from bussdcc_framework.runtime import Runtime
from bussdcc_system_health.fleet.ha_discovery import (
    DeviceInfo,
    HaDiscovery,
    discovery_configs,
    object_id,
)
from bussdcc_system_health.message import (
    DiskUsageUpdated,
    Filesystem,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)

mosquitto = testing.mosquitto

# Home Assistant's MQTT discovery, as documented (integrations/mqtt, "Discovery topic" and the
# sensor / binary_sensor platforms): <discovery_prefix>/<component>/[<node_id>/]<object_id>/config
# with node_id and object_id of [a-zA-Z0-9_-].
TOPIC = re.compile(
    r"^homeassistant/(sensor|binary_sensor)/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config$"
)
COMMON_KEYS = {
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "device",
    "name",
    "unique_id",
    "object_id",
    "state_topic",
    "value_template",
    "icon",
    "entity_category",
    "device_class",
}
SENSOR_KEYS = COMMON_KEYS | {"unit_of_measurement", "state_class"}
BINARY_SENSOR_KEYS = COMMON_KEYS | {"payload_on", "payload_off"}
DEVICE_KEYS = {
    "identifiers",
    "name",
    "manufacturer",
    "model",
    "sw_version",
    "hw_version",
    "serial_number",
}
SENSOR_DEVICE_CLASSES = {"temperature"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# The abbreviations HA also accepts for these keys: a payload must use one spelling per key.
ABBREVIATIONS = {
    "availability_topic": "avty_t",
    "payload_available": "pl_avail",
    "payload_not_available": "pl_not_avail",
    "device": "dev",
    "unique_id": "uniq_id",
    "state_topic": "stat_t",
    "value_template": "val_tpl",
    "unit_of_measurement": "unit_of_meas",
    "device_class": "dev_cla",
    "state_class": "stat_cla",
    "payload_on": "pl_on",
    "payload_off": "pl_off",
}

IDENTITY = SystemIdentityEvent(
    hostname="pi4",
    model="Raspberry Pi 4 Model B Rev 1.4",
    serial="10000000abcdef",
    serial_source="cpuinfo",
    os="Debian GNU/Linux 12 (bookworm)",
    kernel="6.1",
    architecture="aarch64",
    python="3.11",
    boot_time=None,
)


def _configs() -> list[tuple[str, dict[str, Any]]]:
    return discovery_configs(
        "pi4.lab",
        DeviceInfo.of("pi4.lab", IDENTITY),
        mountpoints=["/", "/boot/firmware"],
        sensors=[("cpu_thermal", "")],
        throttling=True,
    )


def _check(topic: str, payload: dict[str, Any]) -> None:
    match = TOPIC.match(topic)
    assert match, topic
    component = match.group(1)
    allowed = SENSOR_KEYS if component == "sensor" else BINARY_SENSOR_KEYS
    assert set(payload) <= allowed, set(payload) - allowed
    assert not set(payload) & set(ABBREVIATIONS.values())
    for key in ("state_topic", "unique_id", "name", "device", "availability_topic"):
        assert payload[key], key
    assert set(payload["device"]) <= DEVICE_KEYS
    assert payload["device"]["identifiers"] and payload["device"]["name"]
    if "state_class" in payload:
        assert payload["state_class"] in STATE_CLASSES
    if component == "sensor" and "device_class" in payload:
        assert payload["device_class"] in SENSOR_DEVICE_CLASSES
        assert payload["unit_of_measurement"] == "°C"
    if component == "binary_sensor":
        assert payload["device_class"] == "problem"
        assert {payload["payload_on"], payload["payload_off"]} == {"ON", "OFF"}


def test_every_config_follows_the_documented_schema() -> None:
    configs = _configs()
    for topic, payload in configs:
        _check(topic, payload)
    ids = [payload["unique_id"] for _, payload in configs]
    assert len(ids) == len(set(ids))
    topics = [topic for topic, _ in configs]
    assert len(topics) == len(set(topics))


def test_one_device_with_the_hosts_identity_and_the_node_status_as_availability() -> None:
    configs = _configs()
    devices = {json.dumps(payload["device"], sort_keys=True) for _, payload in configs}
    assert len(devices) == 1
    device = configs[0][1]["device"]
    assert device["identifiers"] == ["bussdcc_10000000abcdef"]
    assert device["model"] == IDENTITY.model and device["name"] == "pi4.lab"
    for _, payload in configs:
        assert payload["availability_topic"] == "bussdcc/pi4.lab/status"
        assert (payload["payload_available"], payload["payload_not_available"]) == (
            "online",
            "offline",
        )
        assert payload["state_topic"].startswith("bussdcc/pi4.lab/system.")


def test_sensors_carry_units_classes_and_the_binary_sensors_are_problems() -> None:
    by_topic = dict(_configs())
    prefix = "homeassistant/sensor/pi4_lab/"
    cpu = by_topic[prefix + "cpu/config"]
    assert cpu["unit_of_measurement"] == "%" and cpu["state_class"] == "measurement"
    assert cpu["state_topic"] == "bussdcc/pi4.lab/system.cpu.usage.updated"
    assert "memory" in by_topic[prefix + "memory/config"]["state_topic"]
    assert "load1" in by_topic[prefix + "load1/config"]["value_template"]
    disk = by_topic[prefix + "disk_boot_firmware/config"]
    assert "/boot/firmware" in disk["value_template"] and disk["unit_of_measurement"] == "%"
    temperature = by_topic[prefix + "temperature_cpu_thermal/config"]
    assert temperature["device_class"] == "temperature"
    binary = "homeassistant/binary_sensor/pi4_lab/"
    under = by_topic[binary + "under_voltage/config"]
    assert under["state_topic"] == "bussdcc/pi4.lab/system.throttling.updated"
    assert "under_voltage" in under["value_template"]
    assert binary + "throttled/config" in by_topic


def test_without_throttling_there_are_no_binary_sensors() -> None:
    configs = discovery_configs("box", DeviceInfo("box"))
    assert all("/sensor/" in topic for topic, _ in configs)
    assert configs[0][1]["device"]["identifiers"] == ["bussdcc_box"]


@pytest.mark.parametrize(
    ("text", "slug"), [("/", "root"), ("/boot/firmware", "boot_firmware"), ("pi-4.x", "pi-4_x")]
)
def test_object_ids_fit_the_topic_alphabet(text: str, slug: str) -> None:
    assert object_id(text) == slug


class _Retained:
    """Every retained message under homeassistant/# on the broker, as a fresh subscriber sees."""

    def __init__(self, url: str) -> None:
        self.messages: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.connection = Connection(
            MqttBroker.from_url(url),
            label="test-ha",
            on_connect=lambda error: self.connection.subscribe(["homeassistant/#"]),
            on_disconnect=lambda error: None,
            on_message=self._received,
        )
        self.connection.start()

    def _received(self, topic: str, payload: bytes) -> None:
        with self.lock:
            if payload:
                self.messages[topic] = payload
            else:
                self.messages.pop(topic, None)

    def wait(self, check: Any) -> dict[str, bytes]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = dict(self.messages)
            if check(snapshot):
                return snapshot
            time.sleep(0.05)
        pytest.fail(f"retained configs never matched; have {sorted(snapshot)}")

    def close(self) -> None:
        self.connection.stop(2)


def _node_runtime(url: str, *, cleanup: bool) -> Runtime:
    rt = Runtime()
    rt.add_process(HaDiscovery(url, "pi4", cleanup=cleanup))
    return rt


def _feed(rt: Runtime) -> None:
    rt.emit(IDENTITY)
    rt.emit(
        DiskUsageUpdated(filesystems=(Filesystem("/", "/dev/root", "ext4", 100, 40, 60, 40.0),))
    )
    rt.emit(
        TemperatureUpdated(available=True, sensors=(TemperatureSensor("cpu_thermal", "", 51.0),))
    )
    flags = ThrottleFlags(False, False, False, False)
    rt.emit(ThrottlingUpdated(available=True, raw=0, now=flags, since_boot=flags))


def test_configs_are_retained_on_the_broker_and_survive_a_restart(mosquitto: Mosquitto) -> None:
    rt = _node_runtime(mosquitto.url, cleanup=False)
    rt.boot()
    _feed(rt)
    first = _Retained(mosquitto.url)
    try:
        seen = first.wait(lambda m: "homeassistant/binary_sensor/pi4/under_voltage/config" in m)
        assert "homeassistant/sensor/pi4/disk_root/config" in seen
        assert "homeassistant/sensor/pi4/temperature_cpu_thermal/config" in seen
        for topic, payload in seen.items():
            _check(topic, json.loads(payload))
    finally:
        first.close()
    rt.shutdown()
    # A reboot: Home Assistant must still find every config.
    later = _Retained(mosquitto.url)
    try:
        kept = later.wait(lambda m: len(m) >= len(seen))
        assert set(kept) == set(seen)
    finally:
        later.close()


def test_cleanup_removes_the_configs_on_shutdown(mosquitto: Mosquitto) -> None:
    rt = _node_runtime(mosquitto.url, cleanup=True)
    rt.boot()
    _feed(rt)
    watcher = _Retained(mosquitto.url)
    try:
        watcher.wait(lambda m: "homeassistant/sensor/pi4/cpu/config" in m)
        rt.shutdown()
        watcher.wait(lambda m: not m)
    finally:
        watcher.close()
    after = _Retained(mosquitto.url)
    try:
        time.sleep(0.5)  # a fresh subscriber gets retained messages at once, if any remain
        assert after.messages == {}
    finally:
        after.close()


def test_configs_are_published_again_when_home_assistant_comes_online(
    mosquitto: Mosquitto,
) -> None:
    rt = _node_runtime(mosquitto.url, cleanup=False)
    rt.boot()
    _feed(rt)
    watcher = _Retained(mosquitto.url)
    try:
        watcher.wait(lambda m: "homeassistant/sensor/pi4/cpu/config" in m)
        # Clear one config behind the node's back, as a reset Home Assistant would have lost it.
        watcher.connection.publish("homeassistant/sensor/pi4/cpu/config", b"", retain=True)
        watcher.wait(lambda m: "homeassistant/sensor/pi4/cpu/config" not in m)
        watcher.connection.publish("homeassistant/status", b"online")
        watcher.wait(lambda m: "homeassistant/sensor/pi4/cpu/config" in m)
    finally:
        watcher.close()
        rt.shutdown()
