"""GET /metrics: the projected state in Prometheus' text format, parsed by prometheus_client."""

from __future__ import annotations

from typing import Any

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from bussdcc.state import StateStore
from bussdcc_framework.runtime import Runtime
from bussdcc_system_health.fleet.metrics import StateCollector, register_metrics_route
from bussdcc_system_health.message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    Filesystem,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)
from bussdcc_system_health.processes import HealthProcess, SystemProcess


def _projected() -> StateStore:
    rt = Runtime()
    rt.add_process(SystemProcess())
    rt.add_process(HealthProcess())
    rt.boot()
    rt.emit(CpuUsageUpdated(user=20.0, system=5.0, iowait=1.0, idle=74.0, busy=25.0))
    rt.emit(MemoryUsageUpdated(1000, 600, 400, 40.0, 200, 50, 25.0))
    rt.emit(DiskUsageUpdated((Filesystem("/", "/dev/root", "ext4", 100, 30, 70, 30.0),)))
    rt.emit(LoadAverageUpdated(0.5, 0.4, 0.3, 4, 0.125, 0.1, 0.075))
    rt.emit(TemperatureUpdated(True, (TemperatureSensor("cpu_thermal", "", 48.5),)))
    rt.emit(
        NetworkUsageUpdated(1.0, 10.0, 20.0, (InterfaceThroughput("eth0", 10.0, 20.0, 5000, 7000),))
    )
    now = ThrottleFlags(True, False, False, False)
    rt.emit(ThrottlingUpdated(True, 0x10001, now, ThrottleFlags(True, False, False, False)))
    state = rt.state
    rt.shutdown()
    return state


def _scrape(collector: StateCollector) -> dict[str, Any]:
    app = Flask(__name__)
    register_metrics_route(app, collector)
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}


def _value(families: dict[str, Any], name: str, **labels: str) -> float:
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels}")


def test_state_records_become_prometheus_families_with_base_units() -> None:
    state = _projected()
    families = _scrape(StateCollector(lambda: [({}, state.get)]))
    assert _value(families, "bussdcc_cpu_busy_ratio") == 0.25
    assert _value(families, "bussdcc_cpu_mode_ratio", mode="iowait") == 0.01
    assert _value(families, "bussdcc_memory_total_bytes") == 1000
    assert _value(families, "bussdcc_memory_used_ratio") == 0.4
    assert _value(families, "bussdcc_filesystem_free_bytes", mountpoint="/") == 70
    assert _value(families, "bussdcc_load1") == 0.5
    assert _value(families, "bussdcc_temperature_celsius", sensor="cpu_thermal") == 48.5
    assert families["bussdcc_network_receive_bytes"].type == "counter"
    assert _value(families, "bussdcc_network_receive_bytes_total", interface="eth0") == 5000
    assert (
        _value(families, "bussdcc_throttle_condition", condition="under_voltage", scope="now") == 1
    )
    assert _value(families, "bussdcc_throttle_condition", condition="throttled", scope="now") == 0
    statuses = {s.labels["status"]: s.value for s in families["bussdcc_health_status"].samples}
    assert sum(statuses.values()) == 1 and set(statuses) == {"ok", "warning", "critical"}


def test_an_empty_state_scrapes_to_nothing_but_parses() -> None:
    assert _scrape(StateCollector(lambda: [({}, StateStore().get)])) == {}


def test_every_host_gets_its_node_label() -> None:
    state = _projected()
    families = _scrape(
        StateCollector(lambda: [({"node": "a"}, state.get), ({"node": "b"}, state.get)])
    )
    nodes = {s.labels["node"] for s in families["bussdcc_cpu_busy_ratio"].samples}
    assert nodes == {"a", "b"}


def test_reading_happens_at_scrape_time_not_per_event() -> None:
    calls = []
    state = _projected()

    def hosts() -> list[Any]:
        calls.append(1)
        return [({}, state.get)]

    collector = StateCollector(hosts)
    app = Flask(__name__)
    register_metrics_route(app, collector)
    assert calls == []
    app.test_client().get("/metrics")
    app.test_client().get("/metrics")
    assert len(calls) == 2
