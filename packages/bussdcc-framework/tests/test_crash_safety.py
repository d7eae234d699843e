"""A recorder killed with SIGKILL mid-stream loses at most the line in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource

PAD = 256 * 1024  # big lines: a write takes long enough that the kill often lands inside one
T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)

RECORDER = textwrap.dedent(
    """
    import sys
    from dataclasses import dataclass
    from datetime import datetime, UTC
    from bussdcc.event import Event
    from bussdcc.message import Message
    from bussdcc_framework.io.jsonl import JsonlSink

    @dataclass(slots=True, frozen=True)
    class Blob(Message):
        name = "test.crash.blob"
        n: int
        pad: str

    sink = JsonlSink(sys.argv[1], interval=86400)
    pad = "x" * int(sys.argv[2])
    when = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    n = 0
    while True:
        sink.handle(Event(when, Blob(n, pad), n))
        n += 1
    """
)


@dataclass(slots=True, frozen=True)
class Blob(Message):
    name = "test.crash.blob"
    n: int
    pad: str


def wait_for_lines(path: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        if path.exists() and path.stat().st_size >= count * PAD:
            return
        time.sleep(0.01)
    raise AssertionError(f"recorder wrote fewer than {count} lines in 120 s")


def test_sigkill_mid_stream_loses_at_most_the_line_in_flight(tmp_path: Path) -> None:
    root = tmp_path / "history"
    segment = root / "2026-03-09" / "00-00-00.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(root), str(PAD)], stderr=subprocess.PIPE
    )
    try:
        wait_for_lines(segment, 20, child)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    raw = segment.read_bytes()
    complete = raw.count(b"\n")
    torn = not raw.endswith(b"\n")
    source = JsonlSource(root)
    events = list(source)
    # Every complete line reads back, in order, with nothing missing before the kill.
    assert complete >= 20
    assert [e.seq for e in events] == list(range(complete))
    assert all(e.payload == Blob(e.seq, "x" * PAD) for e in events)
    if torn:  # the kill landed inside a write: exactly that line is reported
        assert source.skipped == 1
        (problem,) = source.problems
        assert (problem.path, problem.line_no) == (segment, complete + 1)
        assert problem.reason.startswith("torn last line")
    else:  # it landed between lines: nothing is lost at all
        assert source.skipped == 0

    # A recorder restarted on the same history appends after the torn fragment, never onto it.
    sink = JsonlSink(root, interval=86400)
    sink.handle(Event(T0, Blob(complete, "after"), complete))
    sink.stop()
    again = JsonlSource(root)
    assert [e.seq for e in again] == list(range(complete + 1))
    assert again.skipped == (1 if torn else 0)
