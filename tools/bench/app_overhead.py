"""App overhead benchmark: CPU and memory of the running system-health app, against a floor.

Run with ``python tools/bench/app_overhead.py [--seconds 30] [--warmup 3] [--console]``. It
installs the three distributions into a throwaway virtual environment the way the README's
first command does (only the app's own dependencies: the test and bench tools installed
alongside them here would add megabytes of imports to the app), then starts
``python -m bussdcc_system_health --port 0 --data-dir <tmp> --interval 1 --quiet`` (recording
on) with that environment's Python. ``--python PATH`` uses an existing interpreter instead
(``--python current`` the one running this script). It times how long the command takes to
answer ``GET /`` with 200, loads the page and its scripts and stylesheets as a browser would,
connects one Socket.IO client (WebSocket) that stays connected,
and over a ``--seconds`` window reads the app's own CPU time (user + system) and its memory
(RSS, and USS where the platform offers it), in MB (10^6 bytes, the issue's unit).

In the same window a floor process runs: a bare Python that imports the same libraries
(bussdcc, bussdcc_framework, flask, flask_socketio, psutil, msgspec) and takes one psutil
sample per second. Its RSS is the memory floor and its CPU the CPU floor; each figure is
printed with the floor and their ratio, plus a verdict against the targets (0.4% of one core,
45 MB RSS). ``--quiet`` is used because the console sink writes a JSON line per event and
would dominate the figures; ``--console`` also measures a run with the console on (to
/dev/null). Each configuration runs twice on the same data dir: the first start and a restart
(with the first run's history and rollups already there), the way a device that runs for
months meets every later start. Templates are compiled in memory on each start (nothing
compiled is kept in the data dir: it would be code loaded from a writable place). The app
is stopped with SIGTERM and must exit 0. The exit code is 0 whatever the verdicts: the
figures are for humans on a possibly busy machine.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import socketio

CPU_TARGET = 0.4
"""Percent of one core the app may use at a 1 s interval with one client connected."""

RSS_TARGET_MB = 45.0
"""Resident memory the app may use."""

WARMUP = 3.0
"""Default seconds after the client connects before the window opens (first page, ticks).

The chart histories grow to 300 samples (5 minutes at 1 s) and cost more per tick as they
grow; ``--warmup 300`` measures the steady state."""

CPU_TICK = 0.01
"""Resolution of the kernel's per-process CPU time on Linux (one clock tick)."""

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
MB = 1_000_000
ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = ("packages/bussdcc", "packages/bussdcc-framework", "apps/bussdcc-system-health")

FLOOR_SCRIPT = """
import sys, time
import bussdcc, bussdcc_framework, flask, flask_socketio, msgspec, psutil
print("ready", flush=True)
while True:
    psutil.cpu_times_percent(interval=None)
    psutil.virtual_memory()
    time.sleep(1.0)
"""
"""The floor: the app's libraries imported, one cheap psutil sample per second, nothing else."""

_URL = re.compile(r"dashboard at (http://\S+?/)")


@dataclass(frozen=True, slots=True)
class Usage:
    """One process's CPU and memory over the window."""

    cpu_percent: float
    """CPU time (user + system) over the window, as a percent of one core's wall time."""
    rss_mb: float
    uss_mb: float | None
    """Memory only this process holds (None where psutil cannot tell)."""


class Sampler:
    """CPU time and memory of one process, read at the start and end of a window."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self._cpu0 = 0.0
        self._wall0 = 0.0

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        self._cpu0, self._wall0 = self._cpu(), time.monotonic()

    def finish(self) -> Usage:
        cpu, wall = self._cpu() - self._cpu0, time.monotonic() - self._wall0
        rss = self.process.memory_info().rss / MB
        uss: float | None
        try:
            uss = float(self.process.memory_full_info().uss) / MB
        except (psutil.AccessDenied, AttributeError):
            uss = None
        return Usage(cpu_percent=cpu / wall * 100.0, rss_mb=rss, uss_mb=uss)


class LineReader:
    """Drains a child's pipe in a thread (so it never blocks) and waits for a matching line."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str] | None:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    match = pattern.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                left = deadline - time.monotonic()
                # Lines are appended under the lock: a dead reader has nothing more to add.
                if left <= 0 or not self._thread.is_alive():
                    return None
                self._cond.wait(min(left, 0.5))


class EventCounter:
    """A Socket.IO client that stays connected and counts what the dashboard pushes."""

    def __init__(self) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.snapshots = 0
        self.messages = 0
        self.events = 0
        self._lock = threading.Lock()
        self.sio.on("snapshot", self._on_snapshot)
        self.sio.on("events", self._on_events)

    def _on_snapshot(self, data: Any) -> None:
        with self._lock:
            self.snapshots += 1

    def _on_events(self, data: Any) -> None:
        with self._lock:
            self.messages += 1
            self.events += len(data)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()
        return int(response.status)


_ASSET = re.compile(r'(?:src|href)="(/[^"]+\.(?:js|css))"')


def _load_page(url: str) -> int:
    """Fetch the page and every script and stylesheet it links, as a browser would."""
    with urllib.request.urlopen(url, timeout=5) as response:
        page = response.read().decode()
    assets = _ASSET.findall(page)
    for asset in assets:
        if _get(urllib.parse.urljoin(url, asset)) != 200:
            raise RuntimeError(f"the dashboard's {asset} did not load")
    return len(assets)


def _first_response(url: str, started: float, child: subprocess.Popen[str]) -> float:
    """Seconds from ``started`` until ``GET url`` answers 200."""
    deadline = started + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the app exited with {child.returncode} before answering")
        try:
            if _get(url) == 200:
                return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"the app did not answer GET {url} within {STARTUP_TIMEOUT:.0f} s")


@dataclass(frozen=True, slots=True)
class AppRun:
    label: str
    startup: float
    app: Usage
    floor: Usage
    events: int
    messages: int
    assets: int
    snapshots: int
    seconds: float
    exit_code: int | None
    stop_seconds: float
    history_bytes: int
    warmup: float


def install_app(venv: Path) -> str:
    """Install the three distributions into a new venv at ``venv``; its Python's path."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / ("Scripts" if os.name == "nt" else "bin") / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", *(str(ROOT / d) for d in DISTRIBUTIONS)],
        check=True,
    )
    return python


def _start_floor(python: str) -> subprocess.Popen[str]:
    floor = subprocess.Popen(
        [python, "-c", FLOOR_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert floor.stdout is not None
    if floor.stdout.readline().strip() != "ready":
        floor.kill()
        raise RuntimeError("the floor process did not start")
    return floor


def _stop(child: subprocess.Popen[str]) -> tuple[int | None, float]:
    """SIGTERM ``child``; its exit code (None if it had to be killed) and how long it took."""
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    try:
        code: int | None = child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        code = None
    return code, time.monotonic() - started


def measure(
    python: str,
    seconds: float,
    data_dir: str,
    *,
    quiet: bool,
    warmup: float = WARMUP,
    start: str = "first start",
) -> AppRun:
    """Run the app once as described in the module docstring and return what was measured."""
    command = [
        python,
        "-m",
        "bussdcc_system_health",
        "--port",
        "0",
        "--data-dir",
        data_dir,
        "--interval",
        "1",
    ]
    if quiet:
        command.append("--quiet")
    started = time.monotonic()
    app = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    floor: subprocess.Popen[str] | None = None
    client = EventCounter()
    try:
        assert app.stderr is not None
        stderr = LineReader(app.stderr)
        found = stderr.wait_for(_URL, STARTUP_TIMEOUT)
        if found is None:
            raise RuntimeError(
                "the app never printed its dashboard URL; stderr:\n" + "\n".join(stderr.lines)
            )
        url = found.group(1)
        startup = _first_response(url, started, app)
        assets = _load_page(url)
        client.sio.connect(url, transports=["websocket"], wait_timeout=30)
        floor = _start_floor(python)
        time.sleep(warmup)
        app_sampler, floor_sampler = Sampler(app.pid), Sampler(floor.pid)
        events_before, messages_before = client.events, client.messages
        app_sampler.start()
        floor_sampler.start()
        time.sleep(seconds)
        app_usage, floor_usage = app_sampler.finish(), floor_sampler.finish()
        events = client.events - events_before
        messages = client.messages - messages_before
    finally:
        if client.sio.connected:
            client.sio.disconnect()
        if floor is not None:
            floor.kill()
            floor.wait()
        if app.poll() is None:
            exit_code, stop_seconds = _stop(app)
        else:
            exit_code, stop_seconds = app.returncode, 0.0
    history = sum(p.stat().st_size for p in (Path(data_dir) / "history").rglob("*") if p.is_file())
    return AppRun(
        label=f"{start}, " + ("--quiet" if quiet else "console on (stdout to /dev/null)"),
        startup=startup,
        app=app_usage,
        floor=floor_usage,
        events=events,
        messages=messages,
        assets=assets,
        snapshots=client.snapshots,
        seconds=seconds,
        exit_code=exit_code,
        stop_seconds=stop_seconds,
        history_bytes=history,
        warmup=warmup,
    )


def _verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "FAIL"


def _ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}x" if floor > 0 else "n/a"


def report(run: AppRun) -> None:
    app, floor = run.app, run.floor
    print(
        f"\n== {run.label}: --interval 1, recording on, 1 Socket.IO client; "
        f"{run.seconds:g} s window after {run.warmup:g} s warm-up"
    )
    print(f"startup: {run.startup:.2f} s from starting the command to GET / answering 200")
    print(f"{'':20}{'app':>10}{'floor':>10}{'ratio':>10}   target")
    print(
        f"{'CPU (% of 1 core)':20}{app.cpu_percent:10.3f}{floor.cpu_percent:10.3f}"
        f"{_ratio(app.cpu_percent, floor.cpu_percent):>10}   <= {CPU_TARGET} % "
        f"{_verdict(app.cpu_percent, CPU_TARGET)}"
    )
    print(
        f"{'RSS (MB)':20}{app.rss_mb:10.1f}{floor.rss_mb:10.1f}"
        f"{_ratio(app.rss_mb, floor.rss_mb):>10}   <= {RSS_TARGET_MB:g} MB "
        f"{_verdict(app.rss_mb, RSS_TARGET_MB)}"
    )
    if floor.cpu_percent == 0:
        tick = CPU_TICK / run.seconds * 100
        print(f"  (CPU floor below one clock tick over the window: < {tick:.3f} %)")
    if app.uss_mb is not None and floor.uss_mb is not None:
        print(
            f"{'USS (MB)':20}{app.uss_mb:10.1f}{floor.uss_mb:10.1f}"
            f"{_ratio(app.uss_mb, floor.uss_mb):>10}   (memory only this process holds)"
        )
    print(
        f"client: page + {run.assets} scripts/stylesheets loaded, {run.snapshots} snapshot, "
        f"{run.events} events in {run.messages} messages in "
        f"the window ({run.events / run.seconds:.1f}/s); "
        f"history in the data dir: {run.history_bytes / 1024:.0f} KiB"
    )
    outcome = "exit 0" if run.exit_code == 0 else f"exit {run.exit_code} (expected 0)"
    if run.exit_code is None:
        outcome = f"did not exit within {STOP_TIMEOUT:g} s; killed"
    print(f"stop: SIGTERM -> {outcome} after {run.stop_seconds:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window (30)")
    parser.add_argument(
        "--console", action="store_true", help="also measure with the console sink on"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=WARMUP,
        help=f"seconds connected before measuring ({WARMUP:g}; 300 fills the chart histories)",
    )
    parser.add_argument(
        "--python",
        help="run the app with this interpreter instead of a fresh install "
        "('current' = the one running this script)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be positive and --warmup not negative")
    with tempfile.TemporaryDirectory(prefix="bench-venv-") as venv:
        if args.python is None:
            print("installing the app into a fresh virtual environment ...", flush=True)
            python = install_app(Path(venv))
        else:
            python = sys.executable if args.python == "current" else args.python
        print(
            f"{psutil.cpu_count()} CPUs, load average "
            + " ".join(f"{x:.2f}" for x in psutil.getloadavg())
            + f"; app python: {python}"
        )
        with tempfile.TemporaryDirectory(prefix="bench-app-") as data_dir:
            # The first start and a restart over its data -- how a device that runs for
            # months meets its later starts. Both are measured.
            report(measure(python, args.seconds, data_dir, quiet=True, warmup=args.warmup))
            restart = "restart (same data dir)"
            report(
                measure(
                    python, args.seconds, data_dir, quiet=True, warmup=args.warmup, start=restart
                )
            )
            if args.console:
                report(
                    measure(
                        python,
                        args.seconds,
                        data_dir,
                        quiet=False,
                        warmup=args.warmup,
                        start=restart,
                    )
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
