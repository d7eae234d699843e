"""Shared fixtures for the framework tests: no test may leave a thread running behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

GRACE = 5.0
"""Seconds, shared by all of a test's new threads, to finish after the test: a busy machine
may still be running their last lines; a thread that outlives this was left behind."""

# Threads exempt from the check, by the target name Python puts in a thread's default name.
# Each is a third-party thread the runtime cannot end on shutdown, named precisely so that
# anything else -- every thread the kernel or the framework starts -- is checked:
THIRD_PARTY = (
    # engine.io's per-connection ping timer: time.sleep(ping_interval) (25 s) in threading
    # mode, which nothing can cancel; it exits at its next wake-up without doing anything.
    # Connection churn and this timer are issue 11, item 9 (the web interface's work).
    "(_send_ping)",
    # engine.io's server service task, seen outliving a test in the lowest environment
    # (Flask-SocketIO 5.3): it sleeps between its sweeps and exits at its next wake-up.
    "(_service_task)",
    # engine.io *client* loops of the tests' own SocketIORecorder clients (not the runtime's):
    # they end once the server closes the connection, on the client's schedule.
    "(_write_loop)",
    "(_read_loop_websocket)",
    "(_read_loop_polling)",
)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread alive (a runtime that did not shut everything down)."""
    before = set(threading.enumerate())
    yield
    new = [t for t in threading.enumerate() if t not in before]
    deadline = time.monotonic() + GRACE
    for thread in new:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in new if t.is_alive() and not t.name.endswith(THIRD_PARTY)]
    assert not alive, f"threads still running after the test: {alive}"
