"""The `bussdcc-system-health` command end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bussdcc_framework.testing import segment_lines
from bussdcc_system_health.cli import parse_duration

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class App:
    """A running `python -m bussdcc_system_health` with its output collected."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bussdcc_system_health", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.ready = threading.Event()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)
            if "dashboard at" in line:
                self.ready.set()

    def finish(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return code

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "application/json"
        body = json.loads(response.read())
        assert isinstance(body, dict)
        return body


def wait_for(predicate: object, timeout: float = STARTUP_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def history_lines(data_dir: Path) -> Iterator[dict[str, object]]:
    # Closed segments are zstd-compressed: a stopped app leaves only .jsonl.zst files.
    for line in segment_lines(data_dir / "history"):
        if line.strip():
            yield json.loads(line)


def test_the_app_serves_records_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    app = App("--port", str(port), "--interval", "0.5", "--data-dir", str(tmp_path), "--console")
    try:
        assert app.ready.wait(STARTUP_TIMEOUT), app.output()
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: "cpu" in get_json(f"{base}/api/state").get("system", {}))
        health = get_json(f"{base}/api/health")
        assert isinstance(health, dict)
        assert health["status"] in ("ok", "warning", "critical")
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            html = page.read().decode()
        assert "bootstrap" in html.lower()
        assert "cdn" not in html.lower()
        # Every script and stylesheet loads with its type (from Python's built-in table).
        assets = re.findall(r'(?:src|href)="(/[^"]+\.(js|css))"', html)
        assert {kind for _, kind in assets} == {"js", "css"}
        for asset, kind in assets:
            with urllib.request.urlopen(base + asset, timeout=10) as response:
                assert response.status == 200
                expected = (
                    "text/css" if kind == "css" else ("text/javascript", "application/javascript")
                )
                assert response.headers.get_content_type() in expected, asset
        assert wait_for(
            lambda: any(
                rec["name"] == "system.cpu.usage.updated" for rec in history_lines(tmp_path)
            )
        )
    finally:
        app.proc.send_signal(signal.SIGTERM)
    assert app.finish() == 0, app.output()
    names = [rec["name"] for rec in history_lines(tmp_path)]
    assert names[0] == "runtime.booting"
    assert names[-1] == "runtime.shutdown"
    assert "system.identity" in names
    # Console output is the same stream as JSON lines.
    console = [json.loads(line) for line in app.stdout if line.startswith("{")]
    assert any(rec["name"] == "system.memory.usage.updated" for rec in console)
    # Nothing compiled is kept in the data directory (it would be code loaded from there).
    assert not (tmp_path / "cache").exists()


def test_no_record_and_quiet_write_nothing(tmp_path: Path) -> None:
    port = free_port()
    app = App("--port", str(port), "--data-dir", str(tmp_path), "--no-record", "--quiet")
    try:
        assert app.ready.wait(STARTUP_TIMEOUT), app.output()
        get_json(f"http://127.0.0.1:{port}/api/state")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
    finally:
        app.proc.send_signal(signal.SIGINT)
    assert app.finish() == 0, app.output()
    assert list(tmp_path.iterdir()) == []  # no history, no token on loopback: nothing at all
    assert not [line for line in app.stdout if line.startswith("{")]


def test_a_pipe_gets_no_json_and_the_first_line_is_the_dashboard_address(tmp_path: Path) -> None:
    # Under systemd stdout is no terminal: the JSON stream would only fill the journal. What
    # boot logs (the rollups announcing a rebuild, here: a damaged database) comes after
    # the address, with journald's priority prefix when stderr is the journal.
    (tmp_path / "rollups.sqlite3").write_bytes(b"not a database")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    old = tmp_path / "history" / yesterday.strftime("%Y-%m-%d") / "00-00-00.jsonl"
    old.parent.mkdir(parents=True)
    record = {"time": yesterday.isoformat(), "seq": 1, "name": "runtime.booting"}
    record |= {"type": "bussdcc.message:RuntimeBooting", "severity": "info"}
    old.write_text(json.dumps({**record, "data": {"version": "0.43.0"}}) + "\n")
    port = free_port()
    app = App("--port", str(port), "--data-dir", str(tmp_path), env={"JOURNAL_STREAM": "8:1"})
    try:
        assert app.ready.wait(STARTUP_TIMEOUT), app.output()
        assert wait_for(lambda: len(app.stderr) >= 2)
    finally:
        app.proc.send_signal(signal.SIGTERM)
    assert app.finish() == 0, app.output()
    assert not [line for line in app.stdout if line.startswith("{")]
    assert "dashboard at http://127.0.0.1:" in app.stderr[0]
    assert any(line.startswith("<4>bussdcc_system_health.history") for line in app.stderr[1:]), (
        app.output()
    )


def test_a_busy_port_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = App("--port", str(port), "--data-dir", str(tmp_path), "--quiet")
        code = app.finish(STARTUP_TIMEOUT)
    err = "".join(app.stderr)
    assert code == 1
    assert "error:" in err
    assert str(port) in err
    assert "Traceback" not in err
    # What was recorded before the refusal is kept: the whole aborted lifecycle.
    names = [rec["name"] for rec in history_lines(tmp_path)]
    assert names[0] == "runtime.booting"
    assert names[-1] == "runtime.shutdown"


def test_an_unwritable_data_dir_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    app = App("--port", str(free_port()), "--data-dir", str(blocker / "data"))
    code = app.finish(STARTUP_TIMEOUT)
    err = "".join(app.stderr)
    assert code == 1
    assert "cannot write history" in err
    assert str(blocker) in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--port", "70000"], "argument --port: port must be 0-65535, got 70000"),
        (["--port", "http"], "argument --port: port must be a whole number, got 'http'"),
        (["--interval", "0"], "argument --interval: interval must be from 0.01 to 86400 seconds"),
        (["--interval", "-1"], "argument --interval: interval must be from 0.01 to 86400"),
        (["--interval", "nan"], "argument --interval: interval must be a number, got NaN"),
        (
            ["--interval", "1e12"],
            "interval must be from 0.01 to 86400 seconds, got 1000000000000.0",
        ),
        (["--interval", "1e-6"], "interval must be from 0.01 to 86400 seconds, got 1e-06"),
        (["--retention", "forever"], "invalid duration"),
        (["--retention", "999999999w"], "duration '999999999w' is too long: at most 100 years"),
        (["--host", ""], "argument --host: host must be a host name or address"),
        (["--host", "local host"], "argument --host: host must be a host name or address"),
        (["--bogus"], "unrecognized arguments"),
        (["replay", "--speed", "-2"], "argument --speed: speed must be a finite number >= 0"),
        (["replay", "--speed", "1e-300"], "speed must be 0 (as fast as possible) or from 0.001"),
        (["replay", "--max-gap", "-1"], "argument --max-gap: max-gap must be from 0 to 86400"),
    ],
)
def test_bad_arguments_exit_2_with_the_problem_named(args: list[str], complaint: str) -> None:
    app = App(*args)
    code = app.finish(STARTUP_TIMEOUT)
    assert code == 2
    err = "".join(app.stderr)
    assert complaint in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()[-1]) < 200  # one line, after argparse's usage


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n", b""])
def test_replay_of_input_without_a_readable_event_exits_1_saying_so(
    tmp_path: Path, content: bytes
) -> None:
    source = tmp_path / "passwd"
    source.write_bytes(content)
    app = App("replay", "--speed", "0", "--port", "0", "--quiet", str(source))
    assert app.finish(STARTUP_TIMEOUT) == 1
    err = "".join(app.stderr)
    assert f"error: no readable event in {source}: nothing readable to replay" in err
    assert "Traceback" not in err


def test_replay_of_a_missing_history_is_a_clear_error(tmp_path: Path) -> None:
    app = App("replay", "--data-dir", str(tmp_path))
    assert app.finish(STARTUP_TIMEOUT) == 1
    assert "no recorded history" in "".join(app.stderr)


def test_replay_plays_a_recorded_history_through_the_dashboard(tmp_path: Path) -> None:
    port = free_port()
    recorder = App("--port", str(port), "--interval", "0.2", "--data-dir", str(tmp_path), "--quiet")
    try:
        assert recorder.ready.wait(STARTUP_TIMEOUT), recorder.output()
        assert wait_for(
            lambda: (
                sum(rec["name"] == "system.cpu.usage.updated" for rec in history_lines(tmp_path))
                >= 3
            )
        )
    finally:
        recorder.proc.send_signal(signal.SIGTERM)
    assert recorder.finish() == 0
    replay = App(
        "replay",
        "--speed",
        "0",
        "--port",
        str(free_port()),
        "--data-dir",
        str(tmp_path),
        "--console",
    )
    assert replay.finish(STARTUP_TIMEOUT) == 0, replay.output()
    err = "".join(replay.stderr)
    assert "replayed" in err
    replayed = int(err.split("replayed ")[1].split()[0])
    assert replayed == len(list(history_lines(tmp_path))) - sum(
        rec["name"] == "system.health.changed" for rec in history_lines(tmp_path)
    )
    shown = [json.loads(line)["name"] for line in replay.stdout if line.startswith("{")]
    assert "system.cpu.usage.updated" in shown


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 7 * 86400), ("12h", 43200), ("90m", 5400), ("30s", 30), ("2", 172800), ("1w", 604800)],
)
def test_retention_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds
