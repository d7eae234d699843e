"""``/api/history/series`` and ``/api/history``: answers from the rollups, and 400s naming
the bad parameter."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bussdcc_system_health.history import (
    RollupBuilder,
    RollupReader,
    RollupStore,
    register_history_routes,
)
from bussdcc_system_health.message import HealthChanged

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def client(tmp_path: Path, telemetry: Any) -> FlaskClient:
    path = tmp_path / "rollups.sqlite3"
    store = RollupStore.create(path)
    builder = RollupBuilder(store)
    for i in range(3600):  # one hour at 1 s
        builder.ingest(T0 + i, telemetry.memory(percent=40 + (i // 60) / 10))
        builder.ingest(T0 + i, telemetry.load(load1=1.0 if i < 1800 else 2.0))
    builder.ingest(T0 + 1800.5, HealthChanged(previous="ok", status="warning", reasons=("load",)))
    assert builder.close()
    store.close()
    app = Flask(__name__)
    register_history_routes(app, RollupReader(path))
    return app.test_client()


def test_series_lists_every_stored_series(client: FlaskClient) -> None:
    response = client.get("/api/history/series")
    assert response.status_code == 200
    assert response.get_json() == {
        "series": [
            "load.load1",
            "load.load15",
            "load.load5",
            "load.processes",
            "memory.percent",
            "swap.percent",
        ]
    }


def test_an_hour_comes_from_the_finest_tier_in_steps_of_20_s(client: FlaskClient) -> None:
    response = client.get(
        "/api/history?series=memory.percent&series=load.load1"
        "&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["start"] == "2026-01-01T00:00:00Z"
    assert body["end"] == "2026-01-01T01:00:00Z"
    assert body["step"] == 20
    memory = body["series"]["memory.percent"]
    assert len(memory) == 180
    assert memory[0] == ["2026-01-01T00:00:00Z", 40.0, 40.0, 40.0]
    assert memory[-1] == ["2026-01-01T00:59:40Z", 45.9, 45.9, 45.9]
    load = body["series"]["load.load1"]
    assert load[89] == ["2026-01-01T00:29:40Z", 1.0, 1.0, 1.0]
    assert load[90] == ["2026-01-01T00:30:00Z", 2.0, 2.0, 2.0]
    assert body["events"] == [
        {
            "time": "2026-01-01T00:30:00.500Z",
            "name": "system.health.changed",
            "data": {"previous": "ok", "status": "warning", "reasons": ["load"]},
        }
    ]


def test_fewer_points_merge_buckets_exactly(client: FlaskClient) -> None:
    response = client.get(
        "/api/history?series=load.load1&start=2026-01-01T00:00:00Z"
        "&end=2026-01-01T01:00:00Z&points=1"
    )
    body = response.get_json()
    assert body["step"] == 3600  # one point: the hour tier
    assert body["series"]["load.load1"] == [["2026-01-01T00:00:00Z", 1.0, 1.5, 2.0]]


def test_a_range_without_readings_is_empty_not_an_error(client: FlaskClient) -> None:
    body = client.get(
        "/api/history?series=load.load1&start=2025-01-01T00:00:00&end=2025-01-02T00:00:00"
    ).get_json()
    assert body["series"] == {"load.load1": []}
    assert body["events"] == []
    assert body["step"] == 300


@pytest.mark.parametrize(
    ("query", "parameter", "why"),
    [
        ("start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z", "series", "at least one"),
        (
            "series=cpu.nope&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z",
            "series",
            "unknown series 'cpu.nope'",
        ),
        ("series=load.load1&end=2026-01-01T01:00:00Z", "start", "required"),
        (
            "series=load.load1&start=yesterday&end=2026-01-01T01:00:00Z",
            "start",
            "not an ISO-8601 time",
        ),
        ("series=load.load1&start=2026-01-01T00:00:00Z&end=soon", "end", "not an ISO-8601 time"),
        (
            "series=load.load1&start=2026-01-01T01:00:00Z&end=2026-01-01T00:00:00Z",
            "end",
            "must be after start",
        ),
        (
            "series=load.load1&start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:00Z",
            "end",
            "must be after start",
        ),
        (
            "series=load.load1&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z&points=0",
            "points",
            "from 1 to",
        ),
        (
            "series=load.load1&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z&points=many",
            "points",
            "not a whole number",
        ),
        (
            "series=load.load1&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z&points=99999",
            "points",
            "from 1 to",
        ),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    client: FlaskClient, query: str, parameter: str, why: str
) -> None:
    response = client.get(f"/api/history?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ")
    assert why in body["error"]


def test_without_rollups_the_list_is_empty_and_a_query_is_404() -> None:
    app = Flask(__name__)
    register_history_routes(app, None)
    client = app.test_client()
    assert client.get("/api/history/series").get_json() == {"series": []}
    response = client.get(
        "/api/history?series=cpu.busy&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z"
    )
    assert response.status_code == 404
    assert response.get_json()["parameter"] == "series"


def test_the_dashboard_serves_the_history_routes(dashboard: Any) -> None:
    with urllib.request.urlopen(f"{dashboard.url}api/history/series", timeout=10) as response:
        assert json.load(response) == {"series": []}
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{dashboard.url}api/history?start=x", timeout=10)
    assert error.value.code == 400
    assert json.load(error.value)["parameter"] == "series"
