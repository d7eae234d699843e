# mypy: ignore-errors
"""A bussdcc-framework 0.46 program: record with a redacting sink, read back, replay.

Run as ``python framework_046.py <tmp dir>``; prints what it observed as JSON. tests/compat
compares that with what it printed on bussdcc 0.42.0 + bussdcc-framework 0.46.0
(tests/compat/expected/framework_046.json).
"""

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bussdcc import Message, Process
from bussdcc.clock import ReplayClock
from bussdcc_framework import ReplayRuntime, Runtime, SignalRuntime
from bussdcc_framework.io import JsonlSink, JsonlSource
from bussdcc_framework.message import SinkHandlerError

RESULT: dict = {}


@dataclass(slots=True, frozen=True)
class Login(Message):
    user: str
    password: str


@dataclass(slots=True, frozen=True)
class Temperature(Message):
    celsius: float


class RedactingSink(JsonlSink):
    def transform(self, evt):
        if isinstance(evt.payload, Login):
            return dataclasses.replace(evt.payload, password="***")
        return evt.payload


class Tally(Process):
    name = "tally"

    def __init__(self):
        self.seen = []

    def handle_event(self, ctx, evt):
        if isinstance(evt.payload, (Login, Temperature)):
            self.seen.append(dataclasses.asdict(evt.payload))


def main(tmp):
    root = Path(tmp) / "history"
    rt = Runtime()
    rt.add_sink(RedactingSink(root=root, interval=600))
    rt.boot()
    rt.ctx.emit(Login(user="ada", password="hunter2"))
    rt.ctx.emit(Temperature(celsius=21.5))
    rt.shutdown("done")

    text = "".join(p.read_text() for p in sorted(root.rglob("*.jsonl")))
    RESULT["secret_on_disk"] = "hunter2" in text
    RESULT["redacted_on_disk"] = "***" in text

    source = JsonlSource(root=root)
    RESULT["read_back"] = [
        dataclasses.asdict(evt.payload)
        for evt in source
        if isinstance(evt.payload, (Login, Temperature))
    ]

    replay = ReplayRuntime(clock=ReplayClock(speed=0))
    tally = Tally()
    replay.processes.register(tally)
    replay.replay(JsonlSource(root=root))
    RESULT["replayed"] = tally.seen

    RESULT["signal_runtime"] = issubclass(SignalRuntime, Runtime)
    err = SinkHandlerError(sink="RedactingSink", error="OSError: disk full")
    RESULT["sink_error"] = [err.sink, err.error]
    return RESULT


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), sort_keys=True))
