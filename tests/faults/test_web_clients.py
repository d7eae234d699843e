"""Faults at the dashboard, against the real app in a subprocess: a planted compiled-template
cache, stuck clients, connection churn and malformed packets (issue 11, items 4, 8, 9, 11)."""

from __future__ import annotations

import io
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import websocket
from jinja2.bccache import Bucket, BytecodeCache, bc_magic

from bussdcc_framework.testing import DEFAULT_TIMEOUT, StuckClient

TEMPLATES = (
    Path(__file__).resolve().parents[2]
    / "apps/bussdcc-system-health/src/bussdcc_system_health/templates"
)
_URL = re.compile(r"dashboard at (http://\S+?/)")


class App:
    """``python -m bussdcc_system_health`` on a free loopback port, stderr collected."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bussdcc_system_health",
                "--port",
                "0",
                "--quiet",
                "--data-dir",
                str(data_dir),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.stderr: list[str] = []
        self.url = ""
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.ready.wait(DEFAULT_TIMEOUT), "".join(self.stderr)
        self.process = psutil.Process(self.proc.pid)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            found = _URL.search(line)
            if found and not self.url:
                self.url = found.group(1)
                self.ready.set()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(DEFAULT_TIMEOUT)
        self._reader.join(10)
        return code

    def text(self) -> str:
        return "".join(self.stderr)


@pytest.fixture
def apps() -> Iterator[list[App]]:
    made: list[App] = []
    yield made
    for app in made:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()


def wait_until(predicate: object, what: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Plant:
    """Pickling this runs ``open(marker, "w")`` when unpickled: code from the data dir."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def test_a_planted_template_cache_file_never_runs(tmp_path: Path, apps: list[App]) -> None:
    marker = tmp_path / "pwned"
    cache = tmp_path / "cache" / "templates"
    cache.mkdir(parents=True)
    payload = bc_magic + pickle.dumps(Plant(marker), 2)
    # One file under every name Jinja's file-system bytecode cache would look for (its key
    # is the sha1 of the template's name and file), for every template the app has.
    naming = BytecodeCache()
    for template in TEMPLATES.rglob("*.html"):
        name = template.relative_to(TEMPLATES).as_posix()
        for filename in (str(template), None):
            key = naming.get_cache_key(name, filename)
            (cache / f"__jinja2_{key}.cache").write_bytes(payload)
    # The plant is live: Jinja's own loader runs it (checked here, in the test, on a copy).
    probe = Bucket(None, "probe", "checksum")  # type: ignore[arg-type]
    live_marker = tmp_path / "probe-ran"
    probe.load_bytecode(io.BytesIO(bc_magic + pickle.dumps(Plant(live_marker), 2)))
    assert live_marker.exists()

    app = App(tmp_path)
    apps.append(app)
    with urllib.request.urlopen(app.url, timeout=DEFAULT_TIMEOUT) as page:
        assert page.status == 200
        assert b"System Health" in page.read()
    assert app.stop() == 0, app.text()
    assert not marker.exists(), "a file from the data directory was executed"


def test_stuck_clients_leave_server_memory_bounded(tmp_path: Path, apps: list[App]) -> None:
    app = App(tmp_path, "--interval", "0.01", "--no-record")
    apps.append(app)
    stuck = [StuckClient(app.url) for _ in range(5)]
    for client in stuck:
        assert client.connect() == 101
    rss_start = app.process.memory_info().rss
    # Without a bound every queue grows by the whole stream (~1 MB/s per client here);
    # 15 s of five stuck clients would add tens of MB.
    deadline = time.monotonic() + 15
    peak = rss_start
    while time.monotonic() < deadline:
        for client in stuck:
            client.pong()
        peak = max(peak, app.process.memory_info().rss)
        time.sleep(0.5)
    for client in stuck:
        client.close()
    grown = (peak - rss_start) / 1e6
    assert grown < 15, f"server memory grew {grown:.1f} MB with five stuck clients"
    assert "dropped a client that did not keep up" in app.text()
    assert app.stop() == 0, app.text()
    assert "Traceback" not in app.text()


def test_connection_churn_returns_to_the_baseline_thread_count(
    tmp_path: Path, apps: list[App]
) -> None:
    app = App(tmp_path, "--no-record")
    apps.append(app)
    ws_url = app.url.replace("http://", "ws://") + "socket.io/?EIO=4&transport=websocket"

    def churn(cycles: int) -> None:
        for _ in range(cycles):
            ws = websocket.create_connection(ws_url, timeout=DEFAULT_TIMEOUT)
            ws.recv()
            ws.send("40")
            ws.recv()
            ws.close()

    churn(3)
    time.sleep(1)  # the first connections start the server's own helper threads
    baseline = app.process.num_threads()
    churn(200)
    # Engine.IO's ping timers used to keep a thread per connection for a ping interval (25 s).
    wait_until(
        lambda: app.process.num_threads() <= baseline + 2,
        f"threads back to {baseline}",
        timeout=10,
    )
    assert app.stop() == 0, app.text()


def test_malformed_packets_cost_one_line_per_client(tmp_path: Path, apps: list[App]) -> None:
    app = App(tmp_path, "--no-record")
    apps.append(app)
    ws_url = app.url.replace("http://", "ws://") + "socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(ws_url, timeout=DEFAULT_TIMEOUT)
    ws.recv()
    ws.send("40")
    ws.recv()
    for _ in range(1000):
        ws.send("4x")
        ws.send('42["resync", {"unterminated')
    ws.send('42["resync"]')
    # The answer to the last message shows the server got through the bad ones.
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    while '"snapshot"' not in ws.recv() and time.monotonic() < deadline:
        pass
    ws.close()
    # And one raw socket speaking nonsense over plain HTTP.
    with socket.create_connection(("127.0.0.1", int(app.url.rsplit(":", 1)[1].strip("/")))) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        raw.settimeout(DEFAULT_TIMEOUT)
        raw.recv(1024)
    assert app.stop() == 0, app.text()
    text = app.text()
    assert "Traceback" not in text
    assert len(text.encode()) < 2_000, text  # 2,000 bad packets: a few lines, not a megabyte
