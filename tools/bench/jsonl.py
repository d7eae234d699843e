"""Benchmark: JSONL record and replay throughput, each as a ratio to a floor in the same run.

Run: ``python tools/bench/jsonl.py [--events N] [--repeat R]``. Four figures:

* record: events/s through `JsonlSink.handle` (default per-event flush) against encoding the
  same records with a bare ``msgspec.json.Encoder`` and writing each line with a flush;
* replay: events/s through `JsonlSource` against reading the same lines and decoding each with
  a bare msgspec decoder into the same dataclass;
* record via runtime: events/s emitted into a booted framework `Runtime` that records them
  with a `JsonlSink`, against the sink alone (the "record" figure above);
* replay via runtime: events/s replayed by a framework `ReplayRuntime` (speed 0) from a
  `JsonlSource`, against the source alone (the "replay" figure above).

The through-runtime ratios show what the runtime costs on top of the I/O it drives. The best
of ``--repeat`` runs is kept for each, so a noisy neighbour does not decide the ratio.
Targets: record >= 0.50 of its floor, replay >= 0.40, both through-runtime ratios >= 0.50.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from bussdcc import Event, Message
from bussdcc_framework import ReplayRuntime, Runtime
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource

RECORD_TARGET = 0.50
REPLAY_TARGET = 0.40
RUNTIME_RECORD_TARGET = 0.50
"""Recording through the runtime, as a fraction of the sink alone."""
RUNTIME_REPLAY_TARGET = 0.50
"""Replay through the runtime, as a fraction of the source alone."""


@dataclass(slots=True, frozen=True)
class CpuSample(Message):
    name = "bench.cpu.usage.updated"
    user: float
    system: float
    iowait: float
    idle: float


class FloorRecord(msgspec.Struct):
    """The same record shape the sink writes, built directly."""

    time: datetime
    seq: int
    name: str
    type: str
    severity: str
    data: CpuSample


def make_events(count: int) -> list[Event[CpuSample]]:
    # Hour-aligned start with 10 ms spacing: 50,000 events span < 10 minutes, one segment.
    base = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    return [
        Event(
            base + timedelta(milliseconds=10 * i),
            CpuSample(12.5 + i % 7, 3.25, 0.5, 83.75 - i % 7),
            i,
        )
        for i in range(count)
    ]


def best_of(repeat: int, run: Callable[[], float]) -> float:
    """The shortest of ``repeat`` timings (seconds) of ``run``, with the GC out of the way."""
    timings = []
    for _ in range(repeat):
        gc.collect()
        timings.append(run())
    return min(timings)


def bench_record(events: list[Event[CpuSample]], workdir: Path, repeat: int) -> tuple[float, float]:
    counter = iter(range(1_000_000))

    def sink_run() -> float:
        sink = JsonlSink(workdir / f"sink{next(counter)}")
        handle = sink.handle
        started = time.perf_counter()
        for evt in events:
            handle(evt)
        sink.stop()
        return time.perf_counter() - started

    qualified = f"{CpuSample.__module__}:{CpuSample.__qualname__}"

    def floor_run() -> float:
        encode = msgspec.json.Encoder().encode
        path = workdir / f"floor{next(counter)}.jsonl"
        started = time.perf_counter()
        with open(path, "ab") as file:
            for evt in events:
                line = encode(
                    FloorRecord(evt.time, evt.seq, evt.name, qualified, "info", evt.payload)
                )
                file.write(line + b"\n")
                file.flush()
        return time.perf_counter() - started

    return best_of(repeat, sink_run), best_of(repeat, floor_run)


def bench_replay(root: Path, count: int, repeat: int) -> tuple[float, float]:
    files = sorted(root.rglob("*.jsonl"))

    def source_run() -> float:
        started = time.perf_counter()
        n = sum(1 for _ in JsonlSource(root))
        elapsed = time.perf_counter() - started
        assert n == count, f"replayed {n} of {count} events"
        return elapsed

    def floor_run() -> float:
        decode = msgspec.json.Decoder(FloorRecord).decode
        started = time.perf_counter()
        n = 0
        for path in files:
            with open(path, "rb") as file:
                for line in file:
                    decode(line)
                    n += 1
        elapsed = time.perf_counter() - started
        assert n == count
        return elapsed

    return best_of(repeat, source_run), best_of(repeat, floor_run)


def bench_runtime_record(events: list[Event[CpuSample]], workdir: Path, repeat: int) -> float:
    """Seconds to emit ``events``' payloads into a booted `Runtime` recording into a sink."""
    payloads = [evt.payload for evt in events]
    counter = iter(range(1_000_000))

    def run() -> float:
        sink = JsonlSink(workdir / f"runtime{next(counter)}")
        rt = Runtime()
        rt.add_sink(sink)
        rt.boot()
        emit = rt.emit
        started = time.perf_counter()
        for payload in payloads:
            emit(payload)
        elapsed = time.perf_counter() - started
        rt.shutdown("benchmark done")
        return elapsed

    return best_of(repeat, run)


def bench_runtime_replay(root: Path, count: int, repeat: int) -> float:
    """Seconds for a `ReplayRuntime` (speed 0) to replay the recording under ``root``."""

    def run() -> float:
        rt = ReplayRuntime(speed=0)
        rt.add_source(JsonlSource(root))
        started = time.perf_counter()
        rt.run()
        elapsed = time.perf_counter() - started
        assert rt.replayed == count, f"replayed {rt.replayed} of {count} events"
        return elapsed

    return best_of(repeat, run)


def report(label: str, count: int, measured: float, floor: float, target: float) -> bool:
    ratio = floor / measured
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    print(
        f"{label:19} {count / measured:12,.0f} events/s   "
        f"floor {count / floor:12,.0f} events/s"
        f"   ratio {ratio:5.2f} (target >= {target:.2f}) {verdict}"
    )
    return ratio >= target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args: Any = parser.parse_args(argv)
    events = make_events(args.events)
    with tempfile.TemporaryDirectory(prefix="bench-jsonl-") as tmp:
        workdir = Path(tmp)
        record, record_floor = bench_record(events, workdir, args.repeat)
        replay, replay_floor = bench_replay(workdir / "sink0", args.events, args.repeat)
        via_record = bench_runtime_record(events, workdir, args.repeat)
        via_replay = bench_runtime_replay(workdir / "sink0", args.events, args.repeat)
    ok = report("record", args.events, record, record_floor, RECORD_TARGET)
    ok = report("replay", args.events, replay, replay_floor, REPLAY_TARGET) and ok
    # The floors of these two are the sink alone and the source alone, measured above.
    runtime_record = ("record via runtime", via_record, record, RUNTIME_RECORD_TARGET)
    runtime_replay = ("replay via runtime", via_replay, replay, RUNTIME_REPLAY_TARGET)
    for label, measured, floor, target in (runtime_record, runtime_replay):
        ok = report(label, args.events, measured, floor, target) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
