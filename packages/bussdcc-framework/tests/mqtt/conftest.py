"""The real-broker fixtures, shared from the framework's public test helper."""

from bussdcc_framework.mqtt.testing import mosquitto, mosquitto_factory  # noqa: F401
