"""ReplayControl: pause, seek both ways, speed, progress, and the /api/replay channel."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from bussdcc import Event
from bussdcc.message import Message
from bussdcc_framework.runtime import ReplayRuntime
from bussdcc_system_health.processes import HealthProcess, SystemProcess
from bussdcc_system_health.replay_control import (
    ProgressLine,
    ReplayControl,
    ReplayProgress,
    progress_text,
    register_replay_routes,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = 30.0


def recorded(telemetry: Any, seconds: int = 120) -> list[Event[Message]]:
    events: list[Event[Message]] = []
    for i in range(seconds):
        moment = START + timedelta(seconds=i)
        for message in (
            telemetry.cpu(user=10 + i % 50),
            telemetry.memory(percent=30 + i % 20),
            telemetry.network(rx=100.0 * i),
        ):
            events.append(Event(moment, message, len(events) + 1))
    return events


def build_with(source: list[Event[Message]]) -> Callable[[float], ReplayRuntime]:
    def build(speed: float) -> ReplayRuntime:
        rt = ReplayRuntime(speed=speed)
        rt.add_process(SystemProcess())
        rt.add_process(HealthProcess())
        rt.add_source(source)
        return rt

    return build


def straight(source: list[Event[Message]], end: datetime) -> dict[str, Any]:
    rt = build_with(source)(0)
    rt.replay(source, end_at=end)
    return rt.state.snapshot("system")


def until(condition: Callable[[], bool]) -> None:
    stop = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < stop, "condition never held"
        time.sleep(0.005)


def held(control: ReplayControl) -> bool:
    rt = control.runtime
    return rt is not None and rt.clock.holding and control.progress().seeking is None


def test_pause_seek_forwards_and_backwards_land_on_a_straight_replays_state(
    telemetry: Any,
) -> None:
    source = recorded(telemetry)
    span = (source[0].time, source[-1].time)
    # Paced at speed 1: two minutes of recording, so only seeks and max speed end it soon.
    control = ReplayControl(build_with(source), source, speed=1.0, span=span)
    control.pause()
    runner = threading.Thread(target=control.run, daemon=True)
    runner.start()
    until(lambda: held(control))
    assert control.progress().events == 0  # paused before the first event

    forward = START + timedelta(seconds=90)
    control.seek(forward)
    until(lambda: held(control) and control.progress().events > 0)
    progress = control.progress()
    assert progress.events == 90 * 3
    assert progress.round == 1
    assert progress.paused
    rt = control.runtime
    assert rt is not None
    assert rt.state.snapshot("system") == straight(source, forward)
    first_runtime = rt

    backward = START + timedelta(seconds=30)
    control.seek(backward)
    until(lambda: control.runtime is not first_runtime and held(control))
    progress = control.progress()
    assert progress.round == 2
    assert progress.events == 30 * 3
    assert progress.position == START + timedelta(seconds=29)
    rt = control.runtime
    assert rt is not None
    assert rt.state.snapshot("system") == straight(source, backward)

    control.set_speed(0)
    control.resume()
    runner.join(DEADLINE)
    assert not runner.is_alive()
    progress = control.progress()
    assert progress.ended and progress.fraction == 1.0
    assert progress.events == len(source)
    assert control.total == 90 * 3 + len(source)


def test_loop_replays_again_until_stopped(telemetry: Any) -> None:
    source = recorded(telemetry, seconds=5)
    control = ReplayControl(build_with(source), source, speed=0, loop=True)
    rounds: list[int] = []

    def on_round(rt: ReplayRuntime) -> None:
        rounds.append(control.round)
        if control.round == 3:
            control.stop()

    control.on_round = on_round
    runner = threading.Thread(target=control.run, daemon=True)
    runner.start()
    runner.join(DEADLINE)
    assert not runner.is_alive()
    assert rounds == [1, 2, 3]
    assert control.progress().ended


def test_progress_figures_and_terminal_line() -> None:
    progress = ReplayProgress(
        position=START + timedelta(hours=6),
        start=START,
        end=START + timedelta(hours=24),
        events=1234,
        speed=4.0,
        paused=False,
        seeking=None,
        round=1,
        loop=False,
        ended=False,
    )
    assert progress.fraction == 0.25
    assert progress.to_dict() == {
        "position": "2026-01-01T06:00:00Z",
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-02T00:00:00Z",
        "fraction": 0.25,
        "events": 1234,
        "speed": 4.0,
        "paused": False,
        "seeking": None,
        "round": 1,
        "loop": False,
        "ended": False,
    }
    assert progress_text(progress) == (
        "[#####...............]  25.0 %  2026-01-01 06:00:00  1,234 events  x4"
    )
    unknown = ReplayProgress(None, None, None, 0, 0.0, True, None, 2, True, False)
    assert unknown.fraction is None
    assert progress_text(unknown).endswith("0 events  paused  round 2")


def test_progress_line_ends_with_a_newline(telemetry: Any) -> None:
    source = recorded(telemetry, seconds=2)
    control = ReplayControl(build_with(source), source, speed=0)
    stream = io.StringIO()
    line = ProgressLine(control, stream, every=3600)
    line.start()
    control.run()
    line.stop()
    assert stream.getvalue().startswith("\r\x1b[K[")
    assert stream.getvalue().endswith(" events  max speed\n")


@pytest.fixture
def client(telemetry: Any) -> Any:
    source = recorded(telemetry, seconds=10)
    control = ReplayControl(
        build_with(source), source, speed=1.0, span=(source[0].time, source[-1].time)
    )
    app = Flask(__name__)
    register_replay_routes(app, control)
    test_client = app.test_client()
    test_client.control = control  # type: ignore[attr-defined]
    return test_client


def test_api_replay_controls_and_reports_progress(client: Any) -> None:
    assert client.get("/api/replay").get_json()["paused"] is False
    assert client.post("/api/replay/pause", json={}).get_json()["paused"] is True
    assert client.post("/api/replay/resume", json={}).get_json()["paused"] is False
    assert client.post("/api/replay/speed", json={"speed": 10}).get_json()["speed"] == 10
    answer = client.post("/api/replay/seek", json={"fraction": 0.5})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("action", "body", "parameter"),
    [
        ("speed", {"speed": -1}, "speed"),
        ("speed", {"speed": "fast"}, "speed"),
        ("seek", {"fraction": 2}, "fraction"),
        ("seek", {"time": "yesterday"}, "time"),
        ("seek", {}, "fraction"),
        ("rewind", {}, "action"),
        ("pause", [1], "body"),
    ],
)
def test_api_replay_rejects_bad_requests(
    client: Any, action: str, body: Any, parameter: str
) -> None:
    answer = client.post(f"/api/replay/{action}", json=body)
    assert answer.status_code == 400
    assert answer.get_json()["parameter"] == parameter


def test_api_replay_posts_must_be_json(client: Any) -> None:
    answer = client.post("/api/replay/pause", data="x", content_type="text/plain")
    assert answer.status_code == 400
    assert answer.get_json()["parameter"] == "body"
    assert client.control.progress().paused is False
