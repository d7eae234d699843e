"""Benchmark: JSONL record and replay throughput, each as a ratio to a bare-msgspec floor.

Run: ``python tools/bench/jsonl.py [--events N] [--repeat R]``. Record is events/s through
`JsonlSink.handle` (default per-event flush) against encoding the same records with a bare
``msgspec.json.Encoder`` and writing each line with a flush; replay is events/s through
`JsonlSource` against reading the same lines and decoding each with a bare msgspec decoder into
the same dataclass. The best of ``--repeat`` runs is kept for each, so a noisy neighbour does
not decide the ratio. Targets: record >= 0.50 of its floor, replay >= 0.40.
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

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource

RECORD_TARGET = 0.50
REPLAY_TARGET = 0.40


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


def report(label: str, count: int, measured: float, floor: float, target: float) -> bool:
    ratio = floor / measured
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    print(
        f"{label:7} {count / measured:12,.0f} events/s   floor {count / floor:12,.0f} events/s"
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
    ok = report("record", args.events, record, record_floor, RECORD_TARGET)
    ok = report("replay", args.events, replay, replay_floor, REPLAY_TARGET) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
