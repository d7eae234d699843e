"""The framework runtimes: sinks around the lifecycle, failure isolation, counts, replay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bussdcc import ContextProtocol, Event, ManualClock, Message, Process, Service
from bussdcc_framework import ReplayRuntime, Runtime
from bussdcc_framework.message import SinkError
from bussdcc_framework.runtime import COUNTS_PATH, COUNTS_REFRESH


@dataclass(slots=True, frozen=True)
class Reading(Message):
    name = "test.framework.reading"
    value: int


class ListSink:
    """An in-memory sink recording what it is given and when it was started/stopped."""

    def __init__(self) -> None:
        self.events: list[Event[Any]] = []
        self.started = False
        self.stopped = False

    def start(self, ctx: ContextProtocol) -> None:
        self.started = True

    def handle(self, evt: Event[Any]) -> None:
        self.events.append(evt)

    def stop(self) -> None:
        self.stopped = True

    @property
    def names(self) -> list[str]:
        return [e.payload.name for e in self.events]


class BrokenSink(ListSink):
    """Fails on every event while ``broken`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    def handle(self, evt: Event[Any]) -> None:
        if self.broken:
            raise OSError(28, "No space left on device")
        super().handle(evt)


class Doubler(Process):
    name = "doubler"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if isinstance(evt.payload, Reading):
            self.seen.append(evt.payload.value)
            ctx.state.set("test.latest", evt.payload.value * 2)


def test_sinks_record_the_whole_lifecycle() -> None:
    sink = ListSink()
    rt = Runtime()
    rt.add_sink(sink)
    rt.add_process(Doubler())
    rt.boot()
    rt.emit(Reading(value=1))
    rt.shutdown("done")
    assert sink.started and sink.stopped
    assert sink.names[0] == "runtime.booting"
    assert sink.names[-1] == "runtime.shutdown"
    assert "framework.booted" in sink.names
    assert sink.names.index("framework.shutting_down") < sink.names.index("runtime.shutting_down")
    assert "test.framework.reading" in sink.names
    seqs = [e.seq for e in sink.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_failing_sink_is_isolated_and_reported_once_per_streak() -> None:
    broken, healthy = BrokenSink(), ListSink()
    doubler = Doubler()
    rt = Runtime()
    rt.add_sink(broken)
    rt.add_sink(healthy)
    rt.add_process(doubler)
    with rt:
        for i in range(5):
            rt.emit(Reading(value=i))
        broken.broken = False  # the disk has room again
        rt.emit(Reading(value=99))
        broken.broken = True  # and fills up once more: a new streak
        rt.emit(Reading(value=100))
        assert rt.state.get("test.latest") == 200
    errors = [e.payload for e in healthy.events if isinstance(e.payload, SinkError)]
    assert len(errors) == 2, errors
    assert errors[0].sink == "BrokenSink"
    assert "No space left on device" in errors[0].error
    assert doubler.seen == [0, 1, 2, 3, 4, 99, 100]
    assert [e.payload.value for e in broken.events if isinstance(e.payload, Reading)] == [99]
    assert rt.sink_failures(broken) > 5
    assert healthy.names[-1] == "runtime.shutdown"


def test_event_counts_by_name_and_severity_are_exact_and_in_state_after_shutdown() -> None:
    with Runtime() as rt:
        for i in range(3):
            rt.emit(Reading(value=i))
        live = rt.event_counts
        assert live["by_name"]["test.framework.reading"] == 3
        assert live["by_name"]["runtime.booting"] == 1
        assert live["by_severity"]["info"] == live["total"]
    final = rt.state.get(COUNTS_PATH)
    assert final == rt.event_counts
    assert final["by_name"]["runtime.shutdown"] == 1
    assert final["by_name"]["test.framework.reading"] == 3


def test_counts_in_state_trail_by_at_most_one_refresh_interval() -> None:
    clock = ManualClock()
    rt = Runtime(clock=clock)
    rt.boot()
    booted = rt.state.get(COUNTS_PATH)
    assert booted == rt.event_counts  # copied at the end of boot
    for i in range(3):
        rt.emit(Reading(value=i))
    # Within the interval state is not rewritten per event (that copy is the cost we avoid).
    assert rt.state.get(COUNTS_PATH) == booted
    assert rt.event_counts["by_name"]["test.framework.reading"] == 3
    clock.advance(COUNTS_REFRESH)
    rt.emit(Reading(value=3))  # the first event after the interval brings state up to date
    assert rt.state.get(COUNTS_PATH)["by_name"]["test.framework.reading"] == 4
    assert rt.state.get(COUNTS_PATH) == rt.event_counts
    rt.shutdown("done")


def test_add_forms_register_each_kind_of_component() -> None:
    class Tick(Service):
        name = "tick"
        interval = 3600.0

    rt = Runtime()
    process, service = Doubler(), Tick()
    assert rt.add_process(process) is process
    assert rt.add_service(service) is service
    assert "doubler" in rt.processes and "tick" in rt.services
    with pytest.raises(TypeError, match="start\\(ctx\\), handle\\(evt\\) and stop\\(\\)"):
        rt.add_sink(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of events"):
        rt.add_source(42)  # type: ignore[arg-type]


def _recording(count: int) -> list[Event[Any]]:
    t0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    return [Event(t0 + timedelta(seconds=i), Reading(value=i), i + 1) for i in range(count)]


def test_replay_feeds_processes_and_sinks_see_exactly_the_recording() -> None:
    recording = _recording(20)
    sink, doubler = ListSink(), Doubler()
    rt = ReplayRuntime(speed=0)
    rt.add_sink(sink)
    rt.add_process(doubler)
    rt.add_source(recording)
    rt.run()
    assert doubler.seen == list(range(20))
    assert rt.state.get("test.latest") == 38
    assert sink.events == recording  # original times and seqs, nothing derived
    assert sink.started and sink.stopped


def test_replay_of_a_replay_is_identical() -> None:
    first, second = ListSink(), ListSink()
    rt1 = ReplayRuntime(speed=0)
    rt1.add_sink(first)
    rt1.add_source(_recording(10))
    rt1.run()
    rt2 = ReplayRuntime(speed=0)
    rt2.add_sink(second)
    rt2.add_source(list(first.events))
    rt2.run()
    assert second.events == first.events


def test_replay_merges_several_sources_by_time() -> None:
    recording = _recording(6)
    doubler = Doubler()
    rt = ReplayRuntime(speed=0)
    rt.add_process(doubler)
    rt.add_source(recording[0::2])
    rt.add_source(recording[1::2])
    rt.run()
    assert doubler.seen == list(range(6))


def test_live_sources_restore_history_before_services_without_rerecording() -> None:
    sink, doubler = ListSink(), Doubler()
    rt = Runtime()
    rt.add_sink(sink)
    rt.add_process(doubler)
    rt.add_source(_recording(3))
    with rt:
        assert doubler.seen == [0, 1, 2]
        rt.emit(Reading(value=7))
    assert [e.payload.value for e in sink.events if isinstance(e.payload, Reading)] == [7]


def test_run_shuts_down_cleanly_on_sigterm(tmp_path: Any) -> None:
    script = textwrap.dedent(
        """
        import sys
        from bussdcc_framework.runtime import Runtime
        from bussdcc_framework.io.console import ConsoleSink
        from bussdcc_framework.service import SystemIdentityService

        runtime = Runtime()
        runtime.add_sink(ConsoleSink())
        runtime.add_service(SystemIdentityService())
        runtime.boot()
        print("READY", flush=True)
        runtime.run()
        print("EXITED", runtime.shutdown_reason, flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("READY"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(30), "".join(lines) + (proc.stderr.read() if proc.stderr else "")
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    reader.join(10)
    out = "".join(lines)
    assert code == 0, out + (proc.stderr.read() if proc.stderr else "")
    assert "EXITED signal SIGTERM" in out
    assert '"name":"runtime.shutdown"' in out.replace(" ", "")
    assert '"name":"system.identity"' in out.replace(" ", "")
