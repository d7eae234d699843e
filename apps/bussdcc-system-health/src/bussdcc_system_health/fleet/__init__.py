"""Many hosts: the app as an MQTT node (with Home Assistant discovery), the fleet hub, and
Prometheus metrics for both (SPEC section 9)."""
