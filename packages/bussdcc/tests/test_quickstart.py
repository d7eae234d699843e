"""The quick start of the kernel README (seed 001) runs as written, plus a shutdown."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import bussdcc
from bussdcc import Runtime, message

# Verbatim from the README; only the final shutdown is ours (and happens in the test).
QUICK_START = """
from bussdcc import Runtime, Device, Process, Service, message

class MySensor(Device):
    kind = "sensor"

    def connect(self):
        print("Sensor online")

    def disconnect(self):
        print("Sensor offline")


class Logger(Process):
    name = "logger"

    def handle_event(self, ctx, evt):
        print(evt.payload.name, evt.payload.to_dict())


class Heartbeat(Service):
    name = "heartbeat"
    interval = 2.0

    def tick(self, ctx):
        ctx.emit(message.SystemSignal(signal=0, action="heartbeat"))


rt = Runtime()
rt.attach_device(MySensor(id="sensor-1"))
rt.register_process(Logger())
rt.register_service(Heartbeat())

rt.boot()
"""

WAIT = 30.0


def test_the_readme_quick_start_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "quickstart"}
    heartbeat = threading.Event()
    real_runtime_init = Runtime.__init__

    # Watch for the first heartbeat without touching the quick start's own code.
    def init_and_watch(self: Runtime, **kwargs: Any) -> None:
        real_runtime_init(self, **kwargs)
        self.events.subscribe(message.SystemSignal, lambda evt: heartbeat.set())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Runtime, "__init__", init_and_watch)
        exec(compile(QUICK_START, "quickstart.py", "exec"), namespace)
    rt: Runtime = namespace["rt"]
    try:
        assert heartbeat.wait(WAIT), "the heartbeat service never ticked"
    finally:
        rt.shutdown()
    assert rt.wait(WAIT)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Sensor online"
    assert lines[1] == "process.started {'process': 'logger'}"  # logger starts after devices
    assert lines[2] == f"runtime.booted {{'version': '{bussdcc.__version__}'}}"
    assert lines[3] == "service.started {'service': 'heartbeat'}"
    assert lines[4] == "system.signal {'signal': 0, 'action': 'heartbeat'}"
    assert lines[-3:] == [
        "runtime.shutting_down {'reason': None}",
        "service.stopped {'service': 'heartbeat', 'reason': None}",
        "Sensor offline",
    ]
