"""Benchmark: one fleet hub under N simulated nodes, against Mosquitto's own cost as the floor.

Run: ``python tools/bench/fleet.py [--nodes 10,50,200] [--seconds S] [--repeat R]``
(``hatch run bench:fleet``). For each node count:

* a real Mosquitto on loopback (the tests' `Mosquitto`, with ``max_queued_messages`` raised
  as a hub's broker needs: `BROKER_SETTINGS`), the hub as its own process (``bussdcc-system-
  health hub``, recording its JSONL history as it does by default);
* N simulated nodes in processes of their own (`NODES_PER_PROCESS` each), publishing at 1 Hz,
  spread evenly over each second: per tick the app's own seven telemetry messages (CPU with 4
  cores, memory, 2 filesystems, load, one sensor, 2 interfaces, throttling), encoded by the
  framework's codec as a node's `MqttSink` would, at QoS 1, after a retained ``online``;
* one browser-like Socket.IO client of the fleet page, in a process of its own, noting when
  each ``"fleet"`` row update arrives with the row's ``seq`` (the node's latest event the hub
  applied) and ``events`` (how many of the node's events the hub received);
* measured over ``--seconds`` (default 20) after a 5 s warm-up, by psutil on each process:
  the hub's CPU (% of one core) and resident memory, Mosquitto's CPU (the floor: the broker
  touches every message too), the load processes' CPU (printed: a starved generator delays
  publishes); the latency from a node's publish to the first row update covering it
  (p50/p95); and messages lost, per node: the larger of the events the hub never received
  (published minus the row's final ``events``) and the events published in the window that
  no row update ever covered. Broker-side drops are reported from Mosquitto's log.

``--profile DIR`` runs the hub with every thread under cProfile (CPU time per thread);
``--hub-args`` passes more options to the hub (``--no-record``).

Targets: hub CPU <= 3 x Mosquitto's, p95 < 250 ms, nothing lost.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psutil
import socketio

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.codec import encode_event
from bussdcc_framework.mqtt import MqttBroker, MqttPublisher
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
BROKER_SETTINGS = {"max_queued_messages": "100000"}
"""Mosquitto queues at most 1000 messages for a client that falls behind (or is away, for a
persistent session) by default: 0.7 s of a 200-node fleet. A hub's broker needs more, or a
hub restart (or a moment when a busy machine starves the hub) loses messages at the broker."""
HUB_PYTHONPATH: str | None = None
"""``--hub-pythonpath``: the hub runs from another source tree (to compare versions)."""
NODES_PER_PROCESS = 100
"""Simulated nodes per generator process (each a core's worth of headroom at 1 Hz)."""


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


# -- the load: simulated nodes and one browser-like client, each a process of its own --------


def _wait_for_stop() -> threading.Event:
    """An event set when the driver closes our stdin (the stop signal of both roles)."""
    stop = threading.Event()

    def watch() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    return stop


def run_nodes(broker_url: str, first: int, count: int, total: int, epoch: float, out: str) -> int:
    """Role ``nodes``: nodes ``first .. first+count-1`` of ``total``, each publishing its
    seven messages once a second at ``epoch + tick + index/total`` (so all generator processes
    together spread the fleet evenly over each second). On stop, writes ``node seq sent``
    lines (wall-clock publish times) to ``out`` and clears the nodes' retained statuses."""
    stop = _wait_for_stop()
    names = [f"sim-{n:03d}" for n in range(first, first + count)]
    client = MqttPublisher(MqttBroker.from_url(broker_url), name="bench-nodes", window=4000)
    client.start()
    if not client.wait_connected(10):
        print("the simulated nodes could not connect", file=sys.stderr)
        return 1
    for name in names:
        client.publish_retained(f"bussdcc/{name}/status", b"online")
    topics = {name: f"bussdcc/{name}/" for name in names}
    seqs = dict.fromkeys(names, 0)
    published: list[tuple[str, int, float]] = []
    tick = 0
    while not stop.is_set():
        for offset, name in enumerate(names):
            delay = epoch + tick + (first + offset) / total - time.time()
            if delay > 0 and stop.wait(delay):
                break
            seq = seqs[name]
            for message in _tick(tick + first + offset):
                seq += 1
                sent = time.time()
                record = encode_event(Event(datetime.fromtimestamp(sent, UTC), message, seq))
                client.publish(topics[name] + message.name, record)
                published.append((name, seq, sent))
            seqs[name] = seq
        tick += 1
    with open(out, "w") as file:
        file.writelines(f"{n} {q} {t!r}\n" for n, q, t in published)
    last = [client.publish_retained(f"bussdcc/{name}/status", b"") for name in names]
    for delivery in last:
        delivery.wait(2)
    client.stop(2)
    return 0


def run_client(url: str, out: str) -> int:
    """Role ``client``: one browser-like Socket.IO client of the fleet page, noting when each
    ``"fleet"`` update of a row arrived with the row's ``seq`` (the node's latest event the
    hub had applied) and ``events`` (how many of the node's events the hub had received).
    Prints ``ready`` once connected; on stop writes ``node seq events received`` lines."""
    stop = _wait_for_stop()
    sio = socketio.Client(reconnection=False)
    received: list[tuple[str, int, int, float]] = []
    snapshots = [0]

    def on_fleet(update: dict[str, Any]) -> None:
        now = time.time()
        for row in update["rows"]:
            received.append((row["node"], row["seq"], row["events"], now))

    def on_events(records: list[dict[str, Any]]) -> None:
        # A hub before 0.23's row updates pushed every remote event to the fleet page (kept
        # so the same bench measures both): each record is one event, counted as -1.
        now = time.time()
        for record in records:
            if record.get("name") == "mqtt.remote":
                data = record["data"]
                received.append((data["node"], data["event"]["seq"], -1, now))

    sio.on("fleet", on_fleet)
    sio.on("events", on_events)
    sio.on("snapshot", lambda data: snapshots.__setitem__(0, snapshots[0] + 1))
    sio.connect(url, transports=["websocket"], wait_timeout=10)
    print("ready", flush=True)
    stop.wait()
    sio.disconnect()
    with open(out, "w") as file:
        file.write(f"# snapshots {snapshots[0]}\n")
        file.writelines(f"{n} {q} {e} {t!r}\n" for n, q, e, t in received)
    return 0


def run_profiled_hub(out: str, hub_argv: list[str]) -> int:
    """Role ``hub``: the hub with every thread under cProfile, timing each thread's CPU (cProfile
    alone sees only the
    main thread, and the hub's work happens on its MQTT, sender and HTTP threads); the
    merged statistics go to ``out`` when it exits."""
    import atexit
    import cProfile
    import pstats
    import runpy

    profiles: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)  # CPU, not waits for the GIL
        profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]

    def dump() -> None:
        stats = pstats.Stats(profiles[0]) if profiles else None
        for profile in profiles[1:]:
            stats.add(profile)  # type: ignore[union-attr]
        if stats is not None:
            stats.dump_stats(out)

    atexit.register(dump)
    sys.argv = ["bussdcc-system-health", *hub_argv]
    runpy.run_module("bussdcc_system_health", run_name="__main__", alter_sys=True)
    return 0


# -- the driver -----------------------------------------------------------------------------------


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _read_lines(path: Path) -> Iterator[list[str]]:
    with path.open() as file:
        for line in file:
            if not line.startswith("#"):
                yield line.split()


def _account(
    published: dict[str, list[tuple[int, float]]],
    updates: dict[str, list[tuple[int, int, float]]],
    t0: float,
    t1: float,
) -> tuple[list[float], int, int]:
    """Latencies (ms) of the events published in ``[t0, t1)``, how many were lost, and how
    many were published in the window.

    An event ``seq`` of a node reached the page with the first update of that node's row
    whose ``seq`` was at least as high (the row then showed it, or something newer). Lost,
    per node: the larger of the events the hub never received (published minus the row's
    final ``events``) and the events of the window no update ever covered."""
    latencies: list[float] = []
    lost = 0
    in_window = 0
    for node, sent in published.items():
        rows = sorted(updates.get(node, []), key=lambda u: u[2])
        covered: list[tuple[int, float]] = []  # (highest seq so far, when)
        highest = 0
        for seq, _events, at in rows:
            if seq > highest:
                highest = seq
                covered.append((seq, at))
        final_events = max((events for _seq, events, _at in rows), default=0)
        if rows and final_events < 0:  # per-event records: count the distinct ones
            final_events = len({seq for seq, _events, _at in rows})
        uncovered = 0
        for seq, at in sent:
            if not t0 <= at < t1:
                continue
            in_window += 1
            index = bisect.bisect_left(covered, (seq, -math.inf))
            if index == len(covered):
                uncovered += 1
            else:
                latencies.append((covered[index][1] - at) * 1000)
        lost += max(len(sent) - final_events, uncovered)
    return sorted(latencies), lost, in_window


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
    nodes_cpu: float
    client_cpu: float
    snapshots: int


def _role(role: str, *args: str, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, *args],
        stdin=subprocess.PIPE,
        stdout=stdout,
        text=True,
    )


@contextmanager
def _hub(
    broker: Mosquitto, tmp: Path, profile: str | None, extra: list[str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    log_path = tmp / "hub.log"
    with log_path.open("w") as log:
        launch = ["-m", "bussdcc_system_health"]
        if profile is not None:
            launch = [__file__, "--role", "hub", "--out", profile, "--"]
        hub = subprocess.Popen(
            [
                sys.executable,
                *launch,
                "hub",
                "--mqtt",
                broker.url,
                "--port",
                str(port),
                "--quiet",
                "--data-dir",
                str(tmp / "hub"),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=None if HUB_PYTHONPATH is None else {**os.environ, "PYTHONPATH": HUB_PYTHONPATH},
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
            yield hub, port
        finally:
            hub.terminate()
            try:
                hub.wait(15)
            except subprocess.TimeoutExpired:
                hub.kill()
    # Everything but the start-up banner ("... fleet hub at URL").
    problems = "\n".join(
        line
        for line in log_path.read_text().splitlines()
        if line.strip() and not line.startswith("bussdcc-system-health ")
    )
    if problems:
        print(f"hub stderr:\n{problems[-3000:]}", file=sys.stderr)


def _finish(process: subprocess.Popen[str], stdin: IO[str] | None) -> None:
    if stdin is not None:
        stdin.close()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise RuntimeError(f"a load process ({process.args!r}) did not stop") from None


def measure(
    count: int, seconds: float, profile: str | None = None, extra: list[str] | None = None
) -> Result:
    with (
        tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp_name,
        Mosquitto(settings=BROKER_SETTINGS) as broker,
        ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        hub, port = stack.enter_context(_hub(broker, tmp, profile, extra or []))
        mosquitto = next(p for p in psutil.Process().children() if p.name().startswith("mosquitto"))
        hub_process = psutil.Process(hub.pid)
        client = _role(
            "client",
            "--url",
            f"http://127.0.0.1:{port}",
            "--out",
            str(tmp / "client"),
            stdout=subprocess.PIPE,
        )
        assert client.stdout is not None
        if client.stdout.readline().strip() != "ready":
            raise RuntimeError("the client could not connect to the hub")
        epoch = time.time() + 1.0
        generators = []
        per = math.ceil(count / math.ceil(count / NODES_PER_PROCESS))
        for first in range(0, count, per):
            generators.append(
                _role(
                    "nodes",
                    "--broker",
                    broker.url,
                    "--first",
                    str(first),
                    "--count",
                    str(min(per, count - first)),
                    "--total",
                    str(count),
                    "--epoch",
                    repr(epoch),
                    "--out",
                    str(tmp / f"nodes-{first}"),
                )
            )
        load = [psutil.Process(g.pid) for g in generators]
        client_process = psutil.Process(client.pid)
        time.sleep(max(0.0, epoch + WARMUP - time.time()))
        cpu0 = [_cpu_seconds(p) for p in (hub_process, mosquitto, client_process, *load)]
        t0 = time.time()
        time.sleep(seconds)
        t1 = time.time()
        cpu1 = [_cpu_seconds(p) for p in (hub_process, mosquitto, client_process, *load)]
        rss = hub_process.memory_info().rss / 2**20
        elapsed = t1 - t0
        used = [(b - a) / elapsed * 100 for a, b in zip(cpu0, cpu1, strict=True)]
        time.sleep(DRAIN)
        for generator in generators:
            _finish(generator, generator.stdin)
        time.sleep(0.5)
        _finish(client, client.stdin)
        published: dict[str, list[tuple[int, float]]] = {}
        for first in range(0, count, per):
            for node, seq, sent in _read_lines(tmp / f"nodes-{first}"):
                published.setdefault(node, []).append((int(seq), float(sent)))
        updates: dict[str, list[tuple[int, int, float]]] = {}
        for node, seq, events, at in _read_lines(tmp / "client"):
            updates.setdefault(node, []).append((int(seq), int(events), float(at)))
        snapshots = int((tmp / "client").read_text().split("\n", 1)[0].split()[-1])
        # Mosquitto drops QoS 1 messages for a client beyond its queue (max_queued_messages,
        # 1000 by default) when that client falls behind: say so, it explains "lost".
        dropping = broker.log.count("being dropped")
        if dropping:
            notice = next(line for line in broker.log.splitlines() if "being dropped" in line)
            stamp = float(notice.split(":", 1)[0]) if notice[:1].isdigit() else float("nan")
            print(
                f"  broker: {dropping} notices of messages dropped for a slow client, "
                f"the first {stamp - epoch:+.1f} s after the nodes started"
            )
    latencies, lost, in_window = _account(published, updates, t0, t1)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[max(0, math.ceil(len(latencies) * 0.95) - 1)] if latencies else float("nan")
    return Result(
        count,
        in_window / elapsed,
        used[0],
        rss,
        used[1],
        p50,
        p95,
        lost,
        in_window,
        sum(used[3:]),
        used[2],
        snapshots,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="50", help="node counts, comma-separated (50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per node count (1)")
    parser.add_argument(
        "--profile", metavar="DIR", help="run the hub under cProfile, one .prof per run in DIR"
    )
    parser.add_argument(
        "--hub-args", default="", help="more arguments for the hub, e.g. '--no-record'"
    )
    parser.add_argument(
        "--hub-pythonpath",
        metavar="PATHS",
        help="run the hub with this PYTHONPATH (another tree's src folders, to compare)",
    )
    # The load processes' own roles (the driver starts them).
    parser.add_argument("--role", choices=("nodes", "client", "hub"), help=argparse.SUPPRESS)
    parser.add_argument("--broker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--epoch", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("hub_argv", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "hub":
        return run_profiled_hub(args.out, args.hub_argv[1:])
    if args.role == "nodes":
        return run_nodes(args.broker, args.first, args.count, args.total, args.epoch, args.out)
    if args.role == "client":
        return run_client(args.url, args.out)
    counts = [int(n) for n in args.nodes.split(",")]
    global HUB_PYTHONPATH
    HUB_PYTHONPATH = args.hub_pythonpath
    print(
        f"fleet bench: {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), "
        f"{args.seconds:g} s per run, 7 messages/node/s"
    )
    print(
        f"{'nodes':>5} {'msg/s':>7} {'hub CPU%':>8} {'broker%':>8} {'ratio':>6} "
        f"{'hub RSS':>8} {'p50 ms':>7} {'p95 ms':>7} {'lost':>6} {'nodes%':>6} {'client%':>7}"
        "  verdict"
    )
    failed = False
    for count in counts:
        for run in range(args.repeat):
            profile = None
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                profile = str(Path(args.profile) / f"hub-{count}-{run}.prof")
            r = measure(count, args.seconds, profile, args.hub_args.split())
            ratio = r.hub_cpu / r.broker_cpu if r.broker_cpu > 0 else float("inf")
            ok = ratio <= 3 and r.p95_ms < 250 and r.lost == 0
            failed |= not ok
            print(
                f"{r.nodes:>5} {r.messages_per_s:>7.0f} {r.hub_cpu:>8.1f} {r.broker_cpu:>8.1f} "
                f"{ratio:>6.1f} {r.hub_rss_mb:>6.1f}MB {r.p50_ms:>7.1f} {r.p95_ms:>7.1f} "
                f"{r.lost:>6} {r.nodes_cpu:>6.1f} {r.client_cpu:>7.1f}  "
                f"{'ok' if ok else 'MISSED'} (of {r.published} published"
                f"{'' if r.snapshots == 1 else f'; {r.snapshots} snapshots'})",
                flush=True,
            )
    print(
        "targets: hub CPU <= 3 x broker's, p95 < 250 ms, 0 lost "
        "(nodes%/client%: the load processes' own CPU)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
