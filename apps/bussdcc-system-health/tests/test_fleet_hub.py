"""The fleet hub with a real broker: real app processes as nodes, /api/nodes, last will,
/metrics parsed by prometheus_client's own parser, node pages and replay of the hub's
history."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bussdcc_framework.io.jsonl import JsonlSource
from bussdcc_framework.mqtt import testing
from bussdcc_framework.mqtt.testing import Mosquitto
from bussdcc_system_health.fleet.hub import (
    HubOptions,
    HubWebInterface,
    build_hub_replay_runtime,
    build_hub_runtime,
)

mosquitto = testing.mosquitto

WAIT = 30.0


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after 30 s."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _start_node(url: str, node: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bussdcc_system_health",
            "--mqtt",
            url,
            "--node",
            node,
            "--port",
            "0",
            "--no-record",
            "--quiet",
            "--interval",
            "0.5",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def hub(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[HubWebInterface]:
    rt, web = build_hub_runtime(
        HubOptions(broker=mosquitto.url, port=0, data_dir=tmp_path / "hub", quiet=True)
    )
    rt.boot()
    try:
        yield web
    finally:
        rt.shutdown()


@pytest.fixture
def nodes(mosquitto: Mosquitto) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [_start_node(mosquitto.url, f"node-{i}") for i in range(3)]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            assert proc.stderr is not None
            proc.stderr.close()


def _rows(web: HubWebInterface) -> dict[str, dict[str, Any]]:
    return {row["node"]: row for row in _get(web.url + "api/nodes")["nodes"]}


def _all_reporting(web: HubWebInterface, names: set[str]) -> dict[str, dict[str, Any]] | None:
    rows = _rows(web)
    ready = names <= set(rows) and all(
        rows[n]["cpu"] is not None and rows[n]["memory"] is not None for n in names
    )
    return rows if ready else None


def test_three_nodes_appear_live_and_a_killed_one_goes_offline_by_its_last_will(
    hub: HubWebInterface, nodes: list[subprocess.Popen[bytes]]
) -> None:
    names = {"node-0", "node-1", "node-2"}
    rows = _until(lambda: _all_reporting(hub, names), "three nodes on /api/nodes")
    for name in names:
        row = rows[name]
        assert row["status"] in ("ok", "warning", "critical")
        assert row["last_seen"] is not None
        assert 0 <= row["cpu"] <= 100 and 0 < row["memory"] <= 100
        assert row["disk"] is not None
    # Figures keep moving: the hub is live, not a one-off snapshot.
    seq = rows["node-1"]["seq"]
    _until(lambda: _rows(hub)["node-1"]["seq"] > seq, "node-1's next event")

    nodes[0].kill()  # no clean disconnect: the broker publishes the last will
    rows = _until(
        lambda: (r := _rows(hub))["node-0"]["status"] == "offline" and r, "node-0 offline"
    )
    order = [row["node"] for row in _get(hub.url + "api/nodes")["nodes"]]
    # Worst first: nothing healthier than offline sorts before the dead node.
    rank = {"critical": 0, "offline": 1, "warning": 2, "unknown": 3, "ok": 4}
    ranks = [rank[rows[name]["status"]] for name in order]
    assert ranks == sorted(ranks)
    assert rows["node-1"]["status"] != "offline"


def test_hub_metrics_parse_with_a_node_label_per_node(
    hub: HubWebInterface, nodes: list[subprocess.Popen[bytes]]
) -> None:
    _until(lambda: _all_reporting(hub, {"node-0", "node-1", "node-2"}), "three nodes")
    with urllib.request.urlopen(hub.url + "metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    up = {s.labels["node"]: s.value for s in families["bussdcc_node_up"].samples}
    assert up == {"node-0": 1.0, "node-1": 1.0, "node-2": 1.0}
    busy = families["bussdcc_cpu_busy_ratio"]
    assert {s.labels["node"] for s in busy.samples} == {"node-0", "node-1", "node-2"}
    assert all(0.0 <= s.value <= 1.0 for s in busy.samples)
    assert families["bussdcc_memory_total_bytes"].type == "gauge"
    received = families["bussdcc_network_receive_bytes"]
    assert received.type == "counter"
    assert all(s.name.endswith("_total") for s in received.samples)
    health = [s for s in families["bussdcc_health_status"].samples if s.value == 1.0]
    assert sorted(s.labels["node"] for s in health) == ["node-0", "node-1", "node-2"]


def test_a_node_page_is_its_dashboard_through_the_hub(
    hub: HubWebInterface, nodes: list[subprocess.Popen[bytes]]
) -> None:
    _until(lambda: _all_reporting(hub, {"node-1"}), "node-1")
    with urllib.request.urlopen(hub.url + "node/node-1", timeout=10) as response:
        page = response.read().decode()
    assert 'data-live-node="node-1"' in page
    assert 'id="health-status"' in page  # the app's own cards
    state = _get(hub.url + "api/nodes/node-1/state")
    assert state["system"]["cpu"]["usage"]["busy"] >= 0
    assert state["system"]["health"]["status"] in ("ok", "warning", "critical")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(hub.url + "node/nobody", timeout=10)
    assert missing.value.code == 404


def test_the_hub_history_replays_into_the_same_fleet(mosquitto: Mosquitto, tmp_path: Path) -> None:
    options = HubOptions(broker=mosquitto.url, port=0, data_dir=tmp_path / "hub", quiet=True)
    rt, web = build_hub_runtime(options)
    rt.boot()
    proc = _start_node(mosquitto.url, "solo")
    try:
        _until(lambda: _all_reporting(web, {"solo"}), "solo on the hub")
        seq = _rows(web)["solo"]["seq"]
        _until(lambda: _rows(web)["solo"]["seq"] > seq + 5, "a few more events")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert proc.stderr is not None
        proc.stderr.close()
    _until(lambda: _rows(web)["solo"]["status"] == "offline", "solo offline after its stop")
    live = _rows(web)["solo"]
    rt.shutdown()

    replay, replay_web = build_hub_replay_runtime(
        HubOptions(port=0, data_dir=tmp_path / "replay", quiet=True),
        0,
        JsonlSource(tmp_path / "hub" / "history"),
    )
    replay.run()
    fleet = replay_web.fleet
    replayed = fleet.row("solo")
    assert replayed is not None
    for key in ("status", "cpu", "memory", "disk", "seq", "sent", "health"):
        assert replayed[key] == live[key], key
