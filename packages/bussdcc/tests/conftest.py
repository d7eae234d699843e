"""Shared fixtures for the kernel tests: a manual clock, a runtime on it, and an event log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bussdcc import Event, ManualClock, Message, Runtime

# Generous: the machine running the suite may be busy; these bound hangs, not speed.
WAIT = 30.0


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock()


@pytest.fixture
def runtime(clock: ManualClock) -> Iterator[Runtime]:
    """A runtime on the manual clock, shut down (and proven stopped) after the test."""
    rt = Runtime(clock=clock)
    yield rt
    rt.shutdown("test finished")
    assert rt.wait(WAIT), "runtime did not shut down"


@pytest.fixture
def events(runtime: Runtime) -> list[Event[Any]]:
    """Every event of ``runtime``'s bus, in delivery order (subscribed before anything else)."""
    seen: list[Event[Any]] = []
    runtime.events.subscribe(Message, seen.append)
    return seen


GRACE = 5.0
"""Seconds, shared by all of a test's kernel threads, to finish after the test."""


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every kernel thread a test starts (services, deferred shutdowns, signal hand-offs)
    must have finished shortly after the test: nothing the runtime starts outlives it.

    Filtered by name: every thread the kernel starts is named ``bussdcc-...``; the tests'
    own helper threads (a thread standing in for a caller) are the tests' business.
    """
    before = set(threading.enumerate())
    yield
    leftovers = [
        t for t in threading.enumerate() if t not in before and t.name.startswith("bussdcc-")
    ]
    deadline = time.monotonic() + GRACE
    for thread in leftovers:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in leftovers if t.is_alive()]
    assert not alive, f"kernel threads still running after the test: {alive}"
