"""bussdcc_framework.testing: the recorders and the runner an application's tests use."""

from __future__ import annotations

import gzip
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bussdcc
from bussdcc import ContextProtocol, Event, ManualClock, Message, Process, Service
from bussdcc_framework import ReplayRuntime, Runtime
from bussdcc_framework.interface.web import WebInterface
from bussdcc_framework.testing import EventRecorder, ReplayTrace, SocketIORecorder, running

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(slots=True, frozen=True)
class Ping(Message):
    name = "test.testing.ping"
    n: int


@dataclass(slots=True, frozen=True)
class Pong(Message):
    name = "test.testing.pong"
    n: int


class Answer(Process):
    """Derives a Pong from every Ping: what a replay must tell from the recorded Pongs."""

    subscriptions = (Ping,)

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        ctx.emit(Pong(n=evt.payload.n))


class Ticker(Service):
    name = "ticker"
    interval = 1.0

    def tick(self, ctx: ContextProtocol) -> None:
        ctx.emit(Ping(n=int(ctx.clock.monotonic())))


# --- EventRecorder ----------------------------------------------------------------------------


def test_event_recorder_as_a_sink_records_the_whole_lifecycle() -> None:
    rt = Runtime()
    recorder = EventRecorder()
    rt.add_sink(recorder)
    with running(rt):
        rt.emit(Ping(n=1))
    names = recorder.names()
    assert names[0] == "runtime.booting"
    assert names[-1] == "runtime.shutdown"
    assert [p.n for p in recorder.payloads(Ping)] == [1]


def test_event_recorder_keeps_only_the_given_types_once_attached_to_a_kernel_runtime() -> None:
    rt = bussdcc.Runtime()
    recorder = EventRecorder(Pong).attach(rt)
    rt.register_process(Answer())
    with running(rt):
        rt.emit(Ping(n=7))
    assert [evt.payload for evt in recorder.events] == [Pong(n=7)]
    recorder.clear()
    assert recorder.events == []


def test_wait_for_payload_returns_once_another_thread_delivered_enough() -> None:
    recorder = EventRecorder()
    rt = bussdcc.Runtime()
    recorder.attach(rt)
    with running(rt):
        sender = threading.Thread(target=lambda: [rt.emit(Ping(n=i)) for i in range(3)])
        sender.start()
        pings = recorder.wait_for_payload(Ping, count=3)
        sender.join()
    assert [p.n for p in pings] == [0, 1, 2]


def test_a_wait_that_times_out_names_what_never_happened() -> None:
    recorder = EventRecorder(timeout=0.01)
    with pytest.raises(AssertionError, match=r"waiting for 1 Pong event\(s\)"):
        recorder.wait_for_payload(Pong)
    with pytest.raises(AssertionError, match="waiting for the moon; it is night"):
        recorder.wait_for(lambda: False, "the moon", detail=lambda: "it is night")


@pytest.mark.parametrize(
    ("kwargs", "types", "error"),
    [
        ({}, (int,), TypeError),
        ({"timeout": 0}, (), ValueError),
        ({"timeout": "1"}, (), TypeError),
    ],
)
def test_event_recorder_refuses_bad_arguments(
    kwargs: dict[str, Any], types: tuple[Any, ...], error: type[Exception]
) -> None:
    with pytest.raises(error, match=r"^(types|timeout) must be"):
        EventRecorder(*types, **kwargs)


# --- running ----------------------------------------------------------------------------------


def test_running_waits_for_the_services_first_tick_and_then_time_is_the_tests() -> None:
    clock = ManualClock()
    rt = bussdcc.Runtime(clock=clock)
    rt.register_service(Ticker())
    recorder = EventRecorder(Ping).attach(rt)
    with running(rt, sleepers=1) as same:
        assert same is rt
        assert [p.n for p in recorder.payloads(Ping)] == [0]
        clock.advance(2.0)
        assert [p.n for p in recorder.payloads(Ping)] == [0, 1, 2]
    assert rt.phase == "stopped"


def test_running_shuts_down_when_the_block_raises() -> None:
    rt = bussdcc.Runtime()
    with pytest.raises(RuntimeError, match="inside"), running(rt):
        raise RuntimeError("inside")
    assert rt.phase == "stopped"


def test_running_refuses_sleepers_without_a_manual_clock() -> None:
    with pytest.raises(TypeError, match="ManualClock"), running(bussdcc.Runtime(), sleepers=1):
        pass
    with pytest.raises(ValueError, match="sleepers"), running(bussdcc.Runtime(), sleepers=-1):
        pass


def test_running_reports_services_that_never_reach_the_clock() -> None:
    rt = bussdcc.Runtime(clock=ManualClock())
    with (
        pytest.raises(AssertionError, match="2 thread"),
        running(rt, sleepers=2, timeout=0.05),
    ):
        pass
    assert rt.phase == "stopped"


# --- ReplayTrace ------------------------------------------------------------------------------


def test_replay_trace_tells_re_emitted_events_from_derived_ones() -> None:
    # The recording holds the Pongs the live Answer emitted; the replay derives them again,
    # with the same content and the same time.
    recorded = [
        Event(time=T0 + timedelta(seconds=i // 2), seq=i, payload=payload)
        for i, payload in enumerate([Ping(n=1), Pong(n=1), Ping(n=2), Pong(n=2)])
    ]
    rt = ReplayRuntime(speed=0)
    rt.add_process(Answer())
    trace = ReplayTrace.attach(rt)
    rt.add_source(recorded)
    rt.run()

    assert [evt.payload for evt in trace.replayed()] == [e.payload for e in recorded]
    derived = trace.derived(Pong)
    assert [evt.payload for evt in derived] == [Pong(n=1), Pong(n=2)]
    assert {evt.seq for evt in derived}.isdisjoint(evt.seq for evt in trace.replayed())
    assert len(trace.events) == len(trace.replayed()) + len(trace.derived())
    assert "runtime.booting" in [evt.payload.name for evt in trace.derived()]


# --- SocketIORecorder -------------------------------------------------------------------------


def test_socketio_recorder_gets_the_snapshot_then_the_pushed_events() -> None:
    rt = Runtime()
    rt.state.set("app.value", 42)
    web = WebInterface(port=0)
    rt.add_interface(web)
    with SocketIORecorder(timeout=10) as client:
        with running(rt):
            client.connect(web.url, transports=["websocket"])
            assert client.connected
            assert client.snapshots[0]["state"]["app"]["value"] == 42
            emitted = [rt.emit(Ping(n=i)) for i in range(5)]
            client.wait_for(lambda: len(client.named(Ping.name)) == 5, "five pings")
            ordered = [r for r in client.ordered() if r["name"] == Ping.name]
            assert [r["seq"] for r in ordered] == [evt.seq for evt in emitted]
            assert sum(client.batches) == len(client.events)
            assert not client.disconnected.is_set()
        # Shutting the runtime down lets the client go (the recorder has not disconnected).
        assert client.disconnected.wait(10)
        assert not client.connected


def test_socketio_recorder_without_python_socketio_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "socketio", None)
    with pytest.raises(ModuleNotFoundError, match=r"bussdcc-framework\[testing\]"):
        SocketIORecorder()


def test_segment_lines_reads_plain_and_compressed_segments_in_order(tmp_path: Path) -> None:
    from bussdcc_framework.io.jsonl.compress import compress_segment
    from bussdcc_framework.testing import segment_lines

    first = tmp_path / "2026-01-01" / "00-00-00.jsonl"
    second = tmp_path / "2026-01-01" / "00-10-00.jsonl"
    first.parent.mkdir()
    first.write_bytes(b'{"seq":1}\n{"seq":2}\n')
    second.write_bytes(b'{"seq":3}\n{"torn')
    # An earlier release's gzip segment of the first window, then this release's zstd one.
    first.with_name(first.name + ".gz").write_bytes(gzip.compress(b'{"seq":0}\n'))
    compress_segment(first)
    assert segment_lines(tmp_path) == [
        b'{"seq":0}',
        b'{"seq":1}',
        b'{"seq":2}',
        b'{"seq":3}',
        b'{"torn',
    ]
