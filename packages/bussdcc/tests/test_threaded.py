"""`ThreadedRuntime`: a runtime that boots and lives in its own background thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bussdcc import (
    BootError,
    ContextProtocol,
    Device,
    Event,
    ManualClock,
    Message,
    Process,
    ThreadedRuntime,
)
from bussdcc.message import RuntimeBooted

WAIT = 30.0


class Recorder(Process):
    def __init__(self) -> None:
        self.threads: set[str] = set()
        self.names: list[str] = []

    def start(self, ctx: ContextProtocol) -> None:
        self.threads.add(threading.current_thread().name)

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        self.names.append(evt.name)


class Broken(Device):
    required = True

    def connect(self) -> None:
        raise OSError("no such port")


def test_start_boots_in_a_background_thread_and_returns_once_booted() -> None:
    rt = ThreadedRuntime(clock=ManualClock())
    recorder = rt.register_process(Recorder())

    rt.start()
    try:
        assert rt.is_running
        assert recorder.threads == {"bussdcc-runtime"}
        assert "runtime.booted" in recorder.names
    finally:
        rt.stop("test over", timeout=WAIT)

    assert rt.phase == "stopped"
    assert rt.shutdown_reason == "test over"
    assert not any(t.name == "bussdcc-runtime" and t.is_alive() for t in threading.enumerate())


def test_start_is_idempotent() -> None:
    rt = ThreadedRuntime(clock=ManualClock())
    booted: list[Event[Any]] = []
    rt.events.subscribe(Message, lambda evt: booted.append(evt))

    rt.start()
    rt.start()
    rt.stop(timeout=WAIT)

    assert [e.name for e in booted].count("runtime.booted") == 1


def test_run_blocks_until_another_thread_stops_it() -> None:
    rt = ThreadedRuntime(clock=ManualClock())
    booted = threading.Event()
    rt.events.subscribe(RuntimeBooted, lambda evt: booted.set())

    def stop_once_booted() -> None:
        assert booted.wait(WAIT)
        rt.stop("stopped from elsewhere", timeout=WAIT)

    stopper = threading.Thread(target=stop_once_booted)
    stopper.start()
    rt.run()
    stopper.join(WAIT)

    assert rt.phase == "stopped"
    assert rt.shutdown_reason == "stopped from elsewhere"


def test_a_boot_failure_is_raised_from_start() -> None:
    rt = ThreadedRuntime(clock=ManualClock())
    rt.attach_device(Broken(id="serial"))

    with pytest.raises(BootError, match="serial"):
        rt.start()

    assert rt.phase == "stopped"
