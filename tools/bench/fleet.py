"""Benchmark: one fleet hub under N simulated nodes, against Mosquitto's own cost as the floor.

Run: ``python tools/bench/fleet.py [--nodes 10,50,200] [--seconds S]`` (``hatch run
bench:fleet``). For each node count:

* a real Mosquitto on loopback (the tests' `Mosquitto`), the hub as its own process
  (``bussdcc-system-health hub``, recording its JSONL history as it does by default) and one
  browser-like Socket.IO client on the fleet page's namespace;
* N simulated nodes publishing at 1 Hz, spread evenly over each second: per tick the app's
  own seven telemetry messages (CPU with 4 cores, memory, 2 filesystems, load, one sensor,
  2 interfaces, throttling), encoded by the framework's codec as a node's `MqttSink` would,
  at QoS 1, after a retained ``online`` status per node;
* the simulated nodes and the client share this process; its own CPU is printed too, as a
  generator that saturates its core delays publishes and receipts (latency it adds);
* measured over ``--seconds`` (default 20) after a 5 s warm-up: the hub's CPU (% of one core)
  and resident memory, Mosquitto's CPU (the floor: the broker must touch every message too),
  the latency from a node's publish to the client receiving the pushed record (p50/p95),
  and messages lost (published in the window and never received by the client).

Targets: hub CPU <= 3 x Mosquitto's, p95 < 250 ms, nothing lost.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import socketio

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import encode_event
from bussdcc_framework.mqtt import MqttBroker
from bussdcc_framework.mqtt.connection import Connection
from bussdcc_framework.mqtt.testing import Mosquitto
from bussdcc_system_health.message import (
    CoreUsage,
    CpuUsageUpdated,
    DiskUsageUpdated,
    Filesystem,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)

WARMUP = 5.0
DRAIN = 3.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tick(i: int) -> list[Message]:
    """One node's seven telemetry messages, varying a little with ``i``."""
    busy = 10.0 + (i % 50)
    cores = tuple(CoreUsage(n, busy * 0.8, busy * 0.2, 0.5, 100 - busy, busy) for n in range(4))
    flags = ThrottleFlags(False, False, False, False)
    return [
        CpuUsageUpdated(busy * 0.8, busy * 0.2, 0.5, 100 - busy - 0.5, busy, cores),
        MemoryUsageUpdated(4 << 30, 3 << 30, 1 << 30, 25.0 + i % 5, 1 << 30, 0, 0.0),
        DiskUsageUpdated(
            (
                Filesystem("/", "/dev/root", "ext4", 32 << 30, 12 << 30, 20 << 30, 37.5),
                Filesystem(
                    "/boot/firmware", "/dev/mmcblk0p1", "vfat", 512 << 20, 64 << 20, 448 << 20, 12.5
                ),
            )
        ),
        LoadAverageUpdated(0.4, 0.3, 0.2, 4, 0.1, 0.075, 0.05),
        TemperatureUpdated(True, (TemperatureSensor("cpu_thermal", "", 45.0 + i % 7),)),
        NetworkUsageUpdated(
            1.0,
            2000.0,
            1000.0,
            (
                InterfaceThroughput("eth0", 2000.0, 1000.0, 10_000 + i, 5_000 + i),
                InterfaceThroughput("wlan0", 0.0, 0.0, 0, 0),
            ),
        ),
        ThrottlingUpdated(
            True, 0, flags, flags, "/sys/devices/platform/soc/soc:firmware/get_throttled"
        ),
    ]


class Nodes:
    """N simulated nodes on one MQTT connection, each publishing a tick per second."""

    def __init__(self, broker: MqttBroker, count: int) -> None:
        self.count = count
        self.names = [f"sim-{n:03d}" for n in range(count)]
        self.published: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.connection = Connection(
            broker,
            label="bench-nodes",
            on_connect=self._on_connect,
            on_disconnect=lambda error: None,
            max_inflight=2000,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.recording = False

    def _on_connect(self, error: str | None) -> None:
        if error is None:
            self.connected.set()

    def start(self) -> None:
        self.connection.start()
        if not self.connected.wait(10):
            raise RuntimeError("the simulated nodes could not connect")
        for name in self.names:
            self.connection.publish(f"bussdcc/{name}/status", b"online", retain=True)
        self._thread.start()

    def _run(self) -> None:
        seqs = dict.fromkeys(self.names, 0)
        start = time.monotonic()
        tick = 0
        while not self._stop.is_set():
            for index, name in enumerate(self.names):
                due = start + tick + index / self.count
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                for message in _tick(tick + index):
                    seqs[name] += 1
                    sent = time.time()
                    evt = Event(datetime.fromtimestamp(sent, UTC), message, seqs[name])
                    if self.recording:
                        with self.lock:
                            self.published[(name, seqs[name])] = sent
                    self.connection.publish(f"bussdcc/{name}/{message.name}", encode_event(evt))
            tick += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for name in self.names:
            self.connection.publish(f"bussdcc/{name}/status", b"", retain=True)
        time.sleep(0.5)
        self.connection.stop(2)


class Browser:
    """A browser-like client of the fleet page: receives every pushed record."""

    def __init__(self, url: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.received: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()
        self.snapshots = 0
        self.sio.on("snapshot", self._snapshot)
        self.sio.on("events", self._events)
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)

    def _snapshot(self, data: Any) -> None:
        self.snapshots += 1

    def _events(self, records: list[dict[str, Any]]) -> None:
        now = time.time()
        with self.lock:
            for record in records:
                if record.get("name") == "mqtt.remote":
                    data = record["data"]
                    self.received[(data["node"], data["event"]["seq"])] = now

    def close(self) -> None:
        self.sio.disconnect()


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class Result:
    nodes: int
    messages_per_s: float
    hub_cpu: float
    hub_rss_mb: float
    broker_cpu: float
    p50_ms: float
    p95_ms: float
    lost: int
    published: int
    generator_cpu: float


def measure(count: int, seconds: float) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp, Mosquitto() as broker:
        port = _free_port()
        log_path = Path(tmp) / "hub.log"
        log = log_path.open("w")
        hub = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bussdcc_system_health",
                "hub",
                "--mqtt",
                broker.url,
                "--port",
                str(port),
                "--quiet",
                "--data-dir",
                str(Path(tmp) / "hub"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or hub.poll() is not None:
                        raise RuntimeError("the hub did not start") from None
                    time.sleep(0.1)
            mosquitto = next(
                p for p in psutil.Process().children() if p.name().startswith("mosquitto")
            )
            hub_process = psutil.Process(hub.pid)
            browser = Browser(f"http://127.0.0.1:{port}")
            nodes = Nodes(MqttBroker.from_url(broker.url), count)
            nodes.start()
            time.sleep(WARMUP)
            hub_cpu0, broker_cpu0 = _cpu_seconds(hub_process), _cpu_seconds(mosquitto)
            own_cpu0 = _cpu_seconds(psutil.Process())
            started = time.monotonic()
            nodes.recording = True
            time.sleep(seconds)
            nodes.recording = False
            elapsed = time.monotonic() - started
            hub_cpu = (_cpu_seconds(hub_process) - hub_cpu0) / elapsed * 100
            broker_cpu = (_cpu_seconds(mosquitto) - broker_cpu0) / elapsed * 100
            own_cpu = (_cpu_seconds(psutil.Process()) - own_cpu0) / elapsed * 100
            rss = hub_process.memory_info().rss / 2**20
            time.sleep(DRAIN)
            nodes.stop()
            browser.close()
        finally:
            hub.terminate()
            try:
                hub.wait(15)
            except subprocess.TimeoutExpired:
                hub.kill()
            log.close()
            problems = log_path.read_text().strip()
            if problems:
                print(f"hub stderr:\n{problems[-3000:]}", file=sys.stderr)
    with nodes.lock, browser.lock:
        published = dict(nodes.published)
        received = dict(browser.received)
    latencies = sorted(
        (received[key] - sent) * 1000 for key, sent in published.items() if key in received
    )
    lost = sum(1 for key in published if key not in received)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    return Result(
        count,
        len(published) / elapsed,
        hub_cpu,
        rss,
        broker_cpu,
        p50,
        p95,
        lost,
        len(published),
        own_cpu,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="50", help="node counts, comma-separated (50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (20)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.nodes.split(",")]
    print(f"fleet bench: {os.cpu_count()} CPUs, {args.seconds:g} s per run, 7 messages/node/s")
    print(
        f"{'nodes':>5} {'msg/s':>7} {'hub CPU%':>8} {'broker%':>8} {'ratio':>6} "
        f"{'hub RSS':>8} {'p50 ms':>7} {'p95 ms':>7} {'lost':>6}  verdict"
    )
    failed = False
    for count in counts:
        r = measure(count, args.seconds)
        ratio = r.hub_cpu / r.broker_cpu if r.broker_cpu > 0 else float("inf")
        ok = ratio <= 3 and r.p95_ms < 250 and r.lost == 0
        failed |= not ok
        print(
            f"{r.nodes:>5} {r.messages_per_s:>7.0f} {r.hub_cpu:>8.1f} {r.broker_cpu:>8.1f} "
            f"{ratio:>6.1f} {r.hub_rss_mb:>6.1f}MB {r.p50_ms:>7.1f} {r.p95_ms:>7.1f} "
            f"{r.lost:>6}  {'ok' if ok else 'MISSED'} (of {r.published} published; "
            f"nodes+client {r.generator_cpu:.0f}% CPU)",
            flush=True,
        )
    print("targets: hub CPU <= 3 x broker's, p95 < 250 ms, 0 lost")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
