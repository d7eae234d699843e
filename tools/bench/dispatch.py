"""Dispatch benchmark: events per second through ``ctx.emit`` against a direct-call floor.

Run with ``python tools/bench/dispatch.py`` (no arguments). For 1 and for 10 processes it
measures events/s through a booted `Runtime`'s ``ctx.emit`` and, in the same run, a floor: a
plain loop that builds the same message, wraps it the way the bus does (an `Event` is a
tuple underneath, built without re-validating, stamped with POSIX seconds) and calls the same
``handle_event`` methods directly. Each figure is the best of several
interleaved repeats. Dispatch should reach at least 40% of its floor; the verdict is printed
but never fails the exit code, because the figures are for humans on a possibly busy machine.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bussdcc import ContextProtocol, Event, Message, Process, Runtime

TARGET = 0.40
"""Dispatch must reach this fraction of the floor."""


@dataclass(slots=True, frozen=True)
class Tick(Message):
    name = "bench.tick"
    value: int


class Counter(Process):
    """Minimal real work per event: count it and add up its field."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.total = 0

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        payload = evt.payload
        if type(payload) is Tick:
            self.count += 1
            self.total += payload.value


def _dispatch_run(processes: int, events: int) -> tuple[float, list[Counter]]:
    rt = Runtime()
    counters = [Counter(f"counter-{i}") for i in range(processes)]
    for counter in counters:
        rt.register_process(counter)
    rt.boot()
    try:
        emit = rt.ctx.emit
        started = time.perf_counter()
        for i in range(events):
            emit(Tick(i))
        elapsed = time.perf_counter() - started
    finally:
        rt.shutdown("benchmark done")
    return elapsed, counters


def _floor_run(processes: int, events: int) -> tuple[float, list[Counter]]:
    rt = Runtime()  # only for a real ctx to hand to the handlers; never booted
    ctx = rt.ctx
    counters = [Counter(f"counter-{i}") for i in range(processes)]
    handlers = [c.handle_event for c in counters]
    # What the bus does per emit, through public names only: tuple.__new__ on Event.
    new = tuple.__new__
    started = time.perf_counter()
    for i in range(events):
        evt = new(Event, (1.0, Tick(i), i))
        for handle in handlers:
            handle(ctx, evt)
    elapsed = time.perf_counter() - started
    return elapsed, counters


def _timed(run: Callable[[int, int], tuple[float, list[Counter]]], processes: int, n: int) -> float:
    gc.collect()
    elapsed, counters = run(processes, n)
    expected = n * (n - 1) // 2
    for counter in counters:
        # A benchmark that silently drops events would look fast: check the work was done.
        if counter.count != n or counter.total != expected:
            raise SystemExit(f"{counter.name} saw {counter.count}/{n} events: dispatch is broken")
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200_000, help="events per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many")
    args = parser.parse_args(argv)

    print(f"bussdcc dispatch benchmark: {args.events} events, best of {args.repeats}")
    for processes in (1, 10):
        n = max(1, args.events // processes) if processes > 1 else args.events
        best_dispatch = best_floor = 0.0
        for _ in range(args.repeats):  # interleaved, so a noisy moment hurts both alike
            best_floor = max(best_floor, _timed(_floor_run, processes, n))
            best_dispatch = max(best_dispatch, _timed(_dispatch_run, processes, n))
        ratio = best_dispatch / best_floor
        verdict = "PASS" if ratio >= TARGET else "FAIL"
        label = "process" if processes == 1 else "processes"
        print(
            f"{processes:>2} {label:<9}  dispatch {best_dispatch:>12,.0f} ev/s   "
            f"floor {best_floor:>12,.0f} ev/s   {ratio:6.1%} of floor   "
            f"{verdict} (target {TARGET:.0%})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
