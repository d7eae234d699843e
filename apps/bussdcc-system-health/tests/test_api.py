"""`/api/state` and `/api/health`: the dashboard's JSON, over real HTTP on loopback."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

TIMEOUT = 10.0


def get(url: str) -> tuple[int, dict[str, str], Any]:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.status, dict(response.headers), json.load(response)


def test_api_state_is_the_whole_state_snapshot(dashboard: Any, telemetry: Any) -> None:
    telemetry.emit_all(dashboard.runtime, cpu_user=33.0)
    telemetry.publish_identity(dashboard.runtime, "pi-lab-07")

    status, headers, state = get(f"{dashboard.url}api/state")

    assert status == 200
    # Over JSON, the history's columns (tuples in state) arrive as lists.
    assert state == json.loads(json.dumps(dashboard.runtime.ctx.state.snapshot()))
    assert state["system"]["cpu"]["usage"]["user"] == 33.0
    assert state["system"]["identity"]["hostname"] == "pi-lab-07"
    assert state["system"]["history"]["cpu"]["user"] == [33.0]
    assert headers["X-Bussdcc-Seq"] == str(dashboard.runtime.events.last_seq)
    assert headers["Cache-Control"] == "no-store"


def test_api_health_is_unknown_before_any_telemetry(dashboard: Any) -> None:
    status, _, health = get(f"{dashboard.url}api/health")
    assert status == 200
    assert health == {"status": "unknown", "reasons": [], "notes": [], "since": None}


def test_api_health_reports_ok(dashboard: Any, telemetry: Any) -> None:
    telemetry.emit_all(dashboard.runtime)
    status, _, health = get(f"{dashboard.url}api/health")
    assert status == 200
    assert health["status"] == "ok"
    assert health["reasons"] == []
    assert health["since"]


def test_api_health_is_http_200_even_when_critical(dashboard: Any, telemetry: Any) -> None:
    telemetry.emit_all(dashboard.runtime, memory_percent=99.0)

    status, _, health = get(f"{dashboard.url}api/health")

    assert status == 200
    assert health["status"] == "critical"
    assert any("memory" in reason.lower() for reason in health["reasons"])
    assert health == dashboard.runtime.ctx.state.get("system.health")
