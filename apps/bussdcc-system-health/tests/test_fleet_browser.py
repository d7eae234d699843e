"""The fleet dashboard in headless Chromium: three real nodes live, one killed goes offline,
and a node's page is its own live dashboard through the hub."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bussdcc_framework.mqtt import testing
from bussdcc_framework.mqtt.testing import Mosquitto
from bussdcc_framework.testing import headless_chromium, wait_in_page
from bussdcc_system_health.fleet.hub import HubOptions, HubWebInterface, build_hub_runtime

pytestmark = pytest.mark.browser

mosquitto = testing.mosquitto

WAIT_MS = 30_000


@pytest.fixture
def chromium() -> Iterator[Any]:
    with headless_chromium() as launched:
        yield launched


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
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bussdcc_system_health",
                "--mqtt",
                mosquitto.url,
                "--node",
                f"node-{i}",
                "--port",
                "0",
                "--no-record",
                "--quiet",
                "--interval",
                "0.5",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(3)
    ]
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


def test_fleet_page_shows_three_nodes_live_and_one_going_offline(
    chromium: Any, hub: HubWebInterface, nodes: list[subprocess.Popen[bytes]]
) -> None:
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(hub.url)
    page.wait_for_selector('body[data-live-connection="live"]', timeout=WAIT_MS)
    for i in range(3):
        # A row with a CPU percentage: the node's telemetry reached the page.
        wait_in_page(
            page,
            """(node) => {
                const row = document.querySelector(`tr[data-node="${node}"]`);
                return row && row.dataset.status !== "offline"
                    && row.children[2].textContent.includes("%");
            }""",
            f"node-{i}",
            timeout=WAIT_MS / 1000,
        )
    first = page.locator('tr[data-node="node-1"] td').last.text_content()
    wait_in_page(
        page,
        """(before) => document.querySelector('tr[data-node="node-1"] td:last-child')
                .textContent !== before""",
        first,
        timeout=WAIT_MS / 1000,
    )  # the last-seen time moves: rows update live

    nodes[0].kill()
    page.wait_for_selector('tr[data-node="node-0"][data-status="offline"]', timeout=WAIT_MS)
    statuses = page.eval_on_selector_all(
        "#fleet-rows tr[data-node]", "rows => rows.map(r => r.dataset.status)"
    )
    rank = {"critical": 0, "offline": 1, "warning": 2, "unknown": 3, "ok": 4}
    assert [rank[s] for s in statuses] == sorted(rank[s] for s in statuses)
    assert len(statuses) == 3
    assert errors == []


def test_a_node_page_through_the_hub_is_live(
    chromium: Any, hub: HubWebInterface, nodes: list[subprocess.Popen[bytes]]
) -> None:
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(hub.url)
    page.wait_for_selector('tr[data-node="node-2"]', timeout=WAIT_MS)
    page.goto(hub.url + "node/node-2")
    page.wait_for_selector('body[data-live-connection="live"]', timeout=WAIT_MS)
    before = page.locator("#updated-at").text_content()
    wait_in_page(
        page,
        "(before) => document.getElementById('updated-at').textContent !== before",
        before,
        timeout=WAIT_MS / 1000,
    )
    assert page.locator("#health-status").text_content() in ("ok", "warning", "critical")
    assert errors == []
