"""``GET /metrics``: the projected state in Prometheus' text format, read at scrape time.

Nothing is done per event: a `prometheus_client` custom collector reads the state records
the processes keep (the same ones the dashboard renders) when Prometheus scrapes, and turns
them into metric families. Naming follows Prometheus' conventions: a ``bussdcc_`` namespace,
base units in the name (``_bytes``, ``_celsius``, ``_seconds``, and ``_ratio`` for shares
from 0 to 1 -- the app's percentages are divided by 100), ``_total`` for counters, the
node-exporter names for load averages. On the hub every series carries a ``node`` label, and
``bussdcc_node_up`` / ``bussdcc_node_last_seen_timestamp_seconds`` say which nodes are alive.

Families (labels in brackets):

* ``bussdcc_cpu_busy_ratio``, ``bussdcc_cpu_mode_ratio[mode]`` (user, system, iowait, idle)
* ``bussdcc_memory_{total,available,used}_bytes``, ``bussdcc_memory_used_ratio``,
  ``bussdcc_swap_{total,used}_bytes``
* ``bussdcc_filesystem_{size,used,free}_bytes[mountpoint, device, fstype]``,
  ``bussdcc_filesystem_used_ratio[...]``
* ``bussdcc_load1``, ``bussdcc_load5``, ``bussdcc_load15``
* ``bussdcc_temperature_celsius[sensor, label]``
* ``bussdcc_network_{receive,transmit}_bytes_total[interface]`` (the interfaces' own
  counters), ``bussdcc_network_{receive,transmit}_bytes_per_second[interface]``
* ``bussdcc_throttle_condition[condition, scope]``: 1 when the Raspberry Pi firmware reports
  the condition ``now`` or ``since_boot``, else 0 (absent where throttling is unreadable)
* ``bussdcc_health_status[status]``: 1 for the current status, 0 for the others
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, Response

# prometheus_client (about 1 MB resident with what it imports) is loaded at the first
# scrape, not at start: most installs are never scraped, and the app has a memory budget.
if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..processes import HEALTH_STATE, STATE_PATHS

__all__ = ["NodeRecords", "StateCollector", "metric_families", "register_metrics_route"]

NodeRecords = tuple[Mapping[str, str], Callable[[str], Any]]
"""One host's labels (``{}`` on the app, ``{"node": name}`` on the hub) and a reader of its
state paths (``state.get``)."""

HEALTH_STATUSES = ("ok", "warning", "critical")
CONDITIONS = ("under_voltage", "frequency_capped", "throttled", "soft_temperature_limit")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Families:
    """Metric families keyed by name, created on first use with the right label names."""

    def __init__(self, base_labels: tuple[str, ...]) -> None:
        self.base = base_labels
        self.families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(
        self,
        kind: str,
        name: str,
        doc: str,
        labels: Mapping[str, str],
        value: Any,
        unit: str = "",
    ) -> None:
        if not _number(value):
            return
        family = self.families.get(name)
        if family is None:
            from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

            cls: type[GaugeMetricFamily | CounterMetricFamily] = (
                CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            )
            family = self.families[name] = cls(name, doc, labels=list(labels), unit=unit)
        family.add_metric(list(labels.values()), float(value))


def _project(families: _Families, base: Mapping[str, str], read: Callable[[str], Any]) -> None:
    gauge, counter = "gauge", "counter"
    cpu = read(STATE_PATHS[CpuUsageUpdated])
    if isinstance(cpu, Mapping):
        families.add(gauge, "bussdcc_cpu_busy_ratio", "CPU busy share", base, _ratio(cpu, "busy"))
        for mode in ("user", "system", "iowait", "idle"):
            families.add(
                gauge,
                "bussdcc_cpu_mode_ratio",
                "CPU time share by mode since the previous sample",
                {**base, "mode": mode},
                _ratio(cpu, mode),
            )
    memory = read(STATE_PATHS[MemoryUsageUpdated])
    if isinstance(memory, Mapping):
        for key, doc in (
            ("total", "RAM size"),
            ("available", "RAM available"),
            ("used", "RAM used"),
        ):
            families.add(gauge, f"bussdcc_memory_{key}_bytes", doc, base, memory.get(key))
        families.add(
            gauge, "bussdcc_memory_used_ratio", "RAM in use", base, _ratio(memory, "percent")
        )
        families.add(gauge, "bussdcc_swap_total_bytes", "Swap size", base, memory.get("swap_total"))
        families.add(gauge, "bussdcc_swap_used_bytes", "Swap used", base, memory.get("swap_used"))
    disk = read(STATE_PATHS[DiskUsageUpdated])
    for fs in _records(disk, "filesystems"):
        labels = {
            **base,
            "mountpoint": str(fs.get("mountpoint", "")),
            "device": str(fs.get("device", "")),
            "fstype": str(fs.get("fstype", "")),
        }
        for key, metric in (("total", "size"), ("used", "used"), ("free", "free")):
            families.add(
                gauge,
                f"bussdcc_filesystem_{metric}_bytes",
                f"Filesystem {metric}",
                labels,
                fs.get(key),
            )
        families.add(
            gauge,
            "bussdcc_filesystem_used_ratio",
            "Filesystem in use",
            labels,
            _ratio(fs, "percent"),
        )
    load = read(STATE_PATHS[LoadAverageUpdated])
    if isinstance(load, Mapping):
        for minutes in (1, 5, 15):
            families.add(
                gauge,
                f"bussdcc_load{minutes}",
                f"{minutes}-minute load average",
                base,
                load.get(f"load{minutes}"),
            )
    temperature = read(STATE_PATHS[TemperatureUpdated])
    for sensor in _records(temperature, "sensors"):
        families.add(
            gauge,
            "bussdcc_temperature_celsius",
            "Temperature sensor reading",
            {**base, "sensor": str(sensor.get("name", "")), "label": str(sensor.get("label", ""))},
            sensor.get("current"),
        )
    network = read(STATE_PATHS[NetworkUsageUpdated])
    for iface in _records(network, "interfaces"):
        labels = {**base, "interface": str(iface.get("interface", ""))}
        for key, direction in (("rx", "receive"), ("tx", "transmit")):
            families.add(
                counter,
                f"bussdcc_network_{direction}_bytes",
                f"Bytes the interface counted ({direction})",
                labels,
                iface.get(f"{key}_bytes"),
            )
            families.add(
                gauge,
                f"bussdcc_network_{direction}_bytes_per_second",
                f"Throughput over the last sample ({direction})",
                labels,
                iface.get(f"{key}_bytes_per_s"),
            )
    throttling = read(STATE_PATHS[ThrottlingUpdated])
    if isinstance(throttling, Mapping) and throttling.get("available"):
        for scope in ("now", "since_boot"):
            flags = throttling.get(scope)
            if not isinstance(flags, Mapping):
                continue
            for condition in CONDITIONS:
                families.add(
                    gauge,
                    "bussdcc_throttle_condition",
                    "Raspberry Pi firmware condition (1 = reported)",
                    {**base, "condition": condition, "scope": scope},
                    int(bool(flags.get(condition))),
                )
    health = read(HEALTH_STATE)
    if isinstance(health, Mapping) and health.get("status") in HEALTH_STATUSES:
        for status in HEALTH_STATUSES:
            families.add(
                gauge,
                "bussdcc_health_status",
                "Current health status (1 for the current one)",
                {**base, "status": status},
                int(health["status"] == status),
            )


def _ratio(record: Mapping[str, Any], key: str) -> float | None:
    value = record.get(key)
    return float(value) / 100.0 if isinstance(value, int | float) and _number(value) else None


def _records(record: Any, key: str) -> Iterator[Mapping[str, Any]]:
    if isinstance(record, Mapping):
        for item in record.get(key) or ():
            if isinstance(item, Mapping):
                yield item


def metric_families(hosts: Iterable[NodeRecords], extra: Iterable[Metric] = ()) -> list[Metric]:
    """The metric families of every host's state records (see the module docstring)."""
    hosts = list(hosts)
    families = _Families(tuple(hosts[0][0]) if hosts else ())
    for labels, read in hosts:
        _project(families, labels, read)
    return [*extra, *families.families.values()]


class StateCollector:
    """A `prometheus_client` collector: ``hosts()`` is called at each scrape and returns the
    hosts to report (see `NodeRecords`); ``extra()`` returns further families (the hub's
    node liveness)."""

    def __init__(
        self,
        hosts: Callable[[], Iterable[NodeRecords]],
        extra: Callable[[], Iterable[Metric]] | None = None,
    ) -> None:
        self._hosts = hosts
        self._extra = extra

    def collect(self) -> Iterator[Metric]:
        extra = self._extra() if self._extra is not None else ()
        yield from metric_families(self._hosts(), extra)

    def describe(self) -> list[Metric]:
        # Nothing described up front: the families depend on what the hosts report, and an
        # empty description keeps registration from calling collect().
        return []


def register_metrics_route(app: Flask, collector: StateCollector) -> None:
    """Serve ``collector`` at ``GET /metrics`` (a registry of its own, made at the first
    scrape, not the process-wide default one, so several apps in one process never
    collide)."""
    registries: list[CollectorRegistry] = []

    @app.route("/metrics")
    def metrics() -> Response:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        if not registries:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(collector)
            registries.append(registry)
        response = Response(generate_latest(registries[0]), mimetype=None)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        response.headers["Cache-Control"] = "no-store"
        return response
