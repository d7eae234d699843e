"""Soak benchmark: the app under a fast interval with stuck clients, for minutes.

Run with ``python tools/bench/soak.py [--seconds 600] [--stuck 5] [--interval 0.01]``. It
starts ``python -m bussdcc_system_health --port 0 --data-dir <tmp> --interval 0.01 --quiet``
(recording on, with the Python running this script), then connects one normal Socket.IO
client (WebSocket) and ``--stuck`` stuck clients (`bussdcc_framework.testing.StuckClient`:
they join, then never read, answering pings blindly; when the server drops one it connects
again at once, so the pressure lasts the whole run).

Every ``--sample`` seconds it reads the app's resident memory (RSS) and thread count. The
normal client's push latency is the time from an event's timestamp (the app's clock) to its
arrival (same machine, same clock), per event record. At the end it prints RSS at the start
of the window (after ``--warmup`` seconds), at the end and the growth, the maximum thread
count, the clients dropped, and the normal client's p50/p95/p99 latency, with verdicts
against the budget (RSS growth <= 5 MB, p95 < 100 ms). The floor for memory is the app's own
RSS at the start of the window; latency has no floor but is reported with the batch window
(50 ms) it includes by design. Exit code 0 whatever the verdicts: the figures are for humans.
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
from datetime import datetime
from typing import Any

import psutil
import socketio

from bussdcc_framework.testing import StuckClient

RSS_BUDGET_MB = 5.0
P95_BUDGET_MS = 100.0
_URL = re.compile(r"dashboard at (http://\S+?/)")


class NormalClient:
    """A Socket.IO client that records each pushed record's latency."""

    def __init__(self) -> None:
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2)
        self.latencies: list[float] = []
        self.snapshots = 0
        self.disconnects = 0
        self.measuring = False
        self._lock = threading.Lock()
        self.sio.on("events", self._on_events)
        self.sio.on("snapshot", self._on_snapshot)
        self.sio.on("disconnect", self._on_disconnect)

    def _on_snapshot(self, data: Any) -> None:
        self.snapshots += 1

    def _on_disconnect(self, *args: Any) -> None:
        self.disconnects += 1

    def _on_events(self, records: list[dict[str, Any]]) -> None:
        now = time.time()
        if not self.measuring:
            return
        with self._lock:
            for record in records:
                stamp = datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00"))
                self.latencies.append(now - stamp.timestamp())


def _stuck_loop(url: str, stop: threading.Event, dropped: list[int]) -> None:
    while not stop.is_set():
        client = StuckClient(url, timeout=10)
        try:
            if client.connect() != 101:
                stop.wait(1)
                continue
            while not stop.is_set() and client.pong():
                stop.wait(5)
            if not stop.is_set():
                dropped.append(1)
        except OSError:
            stop.wait(0.5)
        finally:
            client.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=600.0, help="measuring window (600)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before it (20)")
    parser.add_argument("--stuck", type=int, default=5, help="stuck clients (5)")
    parser.add_argument("--interval", type=float, default=0.01, help="the app's --interval")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.stuck < 0:
        parser.error("--seconds must be positive, --warmup and --stuck not negative")

    with tempfile.TemporaryDirectory(prefix="bench-soak-") as data_dir:
        command = [
            sys.executable,
            "-m",
            "bussdcc_system_health",
            "--port",
            "0",
            "--data-dir",
            data_dir,
            "--interval",
            str(args.interval),
            "--quiet",
        ]
        child = subprocess.Popen(
            command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert child.stderr is not None
        url = None
        stderr_lines: list[str] = []
        for line in child.stderr:
            stderr_lines.append(line)
            found = _URL.search(line)
            if found:
                url = found.group(1)
                break
        if url is None:
            print("the app did not start:\n" + "".join(stderr_lines), file=sys.stderr)
            return 1
        threading.Thread(
            target=lambda: stderr_lines.extend(child.stderr or ()), daemon=True
        ).start()
        app = psutil.Process(child.pid)
        print(
            f"{psutil.cpu_count()} CPUs, load average "
            + " ".join(f"{x:.2f}" for x in psutil.getloadavg())
            + f"; app at {url}, --interval {args.interval:g}, {args.stuck} stuck clients"
        )

        normal = NormalClient()
        normal.sio.connect(url, transports=["websocket"], wait_timeout=30)
        stop = threading.Event()
        reconnects: list[int] = []
        stuck = [
            threading.Thread(target=_stuck_loop, args=(url, stop, reconnects), daemon=True)
            for _ in range(args.stuck)
        ]
        for thread in stuck:
            thread.start()

        time.sleep(args.warmup)
        normal.measuring = True
        start_rss = app.memory_info().rss
        samples: list[tuple[float, int, int]] = []
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < args.seconds:
            samples.append((elapsed, app.memory_info().rss, app.num_threads()))
            time.sleep(min(args.sample, max(0.0, args.seconds - elapsed)))
        end_rss = app.memory_info().rss
        samples.append((time.monotonic() - started, end_rss, app.num_threads()))
        normal.measuring = False

        stop.set()
        disconnects = normal.disconnects
        normal.sio.disconnect()
        child.send_signal(signal.SIGTERM)
        code = child.wait(30)
        for thread in stuck:
            thread.join(10)

    growth = (end_rss - start_rss) / 1e6
    peak = max(rss for _, rss, _ in samples) / 1e6
    p50, p95, p99 = (_percentile(normal.latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    print(
        f"window: {args.seconds:g} s after {args.warmup:g} s warm-up; "
        f"samples every {args.sample:g} s"
    )
    print(
        f"RSS: {start_rss / 1e6:.1f} MB at start, {end_rss / 1e6:.1f} MB at end, peak {peak:.1f} MB"
    )
    verdict = "ok" if growth <= RSS_BUDGET_MB else "FAIL"
    print(f"RSS growth: {growth:+.2f} MB (budget <= {RSS_BUDGET_MB:g} MB) {verdict}")
    # A plateau (caches filling, then flat) reads differently from a steady climb (a leak).
    step = max(1, round(60 / args.sample))
    trend = " ".join(f"{rss / 1e6:.1f}" for _, rss, _ in samples[::step])
    print(f"RSS each minute (MB): {trend}")
    print(f"threads: max {max(t for _, _, t in samples)}, at end {samples[-1][2]}")
    print(
        f"stuck clients dropped by the server and reconnected: {len(reconnects)}; normal client "
        f"disconnects: {disconnects}, snapshots: {normal.snapshots}"
    )
    verdict = "ok" if p95 < P95_BUDGET_MS else "FAIL"
    print(
        f"normal client push latency over {len(normal.latencies)} records: p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms (budget < {P95_BUDGET_MS:g} ms) {verdict}, p99 {p99:.1f} ms "
        "(includes the 50 ms batch window)"
    )
    print(f"stop: SIGTERM -> exit {code}")
    tracebacks = sum("Traceback" in line for line in stderr_lines)
    print(f"app stderr: {len(stderr_lines)} lines, {tracebacks} tracebacks")
    kinds: dict[str, int] = {}
    for line in stderr_lines[1:]:
        key = re.sub(r"[0-9a-f]{6,}|\d+", "N", line.strip())[:120]
        kinds[key] = kinds.get(key, 0) + 1
    for key, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {count:6d} x {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
