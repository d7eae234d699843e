"""The supervisor under random schedules: SPEC section 2's service guarantees in every state.

A Hypothesis state machine drives a runtime on a `ManualClock` with four services -- one that
restarts, one that stops after its first error, one that can hang, one that is critical --
through random crashes, hangs and releases, enable/disable/start/stop by name, clock advances
and a shutdown at any point. After every step (once every service thread has settled: it
sleeps on the clock, is hung, or has ended) the invariants are checked against the events
and the statuses:

* ticks fall on the fixed grid of their run (start + k * interval): every slot while the
  service keeps up, never two in one interval (no burst after an overrun), the first slot
  after a hang is released;
* a restart waits its backoff (between half and all of ``min(cap, interval * 2**(n-1))``)
  and then starts; more than ``max_restarts`` within ``restart_window`` -> ``service.failure``
  and the service stays down until started again by name;
* ``restart = False`` stops after the first error; a critical failure shuts the runtime down;
* shutdown completes, abandoning (only) a hung service after its ``stop_timeout``;
* each status agrees with what happened (running, restarts, ticks, last tick, last error).

Time moves only through the clock; real time is spent only on thread hand-offs and on the
short ``stop_timeout`` of the service that hangs.
"""

from __future__ import annotations

import math
import random
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from bussdcc import ContextProtocol, Event, ManualClock, Message, Runtime, Service
from bussdcc.message import (
    RuntimeShutdown,
    ServiceError,
    ServiceFailure,
    ServiceRestart,
    ServiceStarted,
    ServiceStopped,
)

BOUND = 30.0
"""Real seconds any hand-off may take before the test calls it a hang (a bound, not a goal)."""

HANG = 1e9
"""A hung tick sleeps this long on the clock: forever, as far as the test is concerned."""

EPS = 1e-9


class Scripted(Service):
    """A service whose next ticks are told to crash or to hang; it records every tick."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.crashes_left = 0
        self.hang_next = False
        self.hanging = False
        self.release = threading.Event()
        self.returned = threading.Event()
        self.runs: list[list[tuple[float, bool]]] = []  # per run: (tick time, it hung)
        self.origins: list[float] = []
        self.completed = 0
        self.last_completed: Any = None
        self.hang_released_at: dict[tuple[int, int], float] = {}

    def start(self, ctx: ContextProtocol) -> None:
        self.runs.append([])
        self.origins.append(self.clock.monotonic())

    def tick(self, ctx: ContextProtocol) -> None:
        run = self.runs[-1]
        hang = self.hang_next
        run.append((self.clock.monotonic(), hang))
        if self.crashes_left:
            self.crashes_left -= 1
            raise RuntimeError(f"{self.name} crashed")
        if hang:
            self.hang_next = False
            self.hanging = True
            self.returned.clear()
            # Blocked on something other than the stop request: a real hang. Sleeping on
            # the clock keeps the test's clock steps from waiting for this thread.
            self.clock.sleep(HANG, cancel=self.release)
            self.hang_released_at[(len(self.runs) - 1, len(run) - 1)] = self.clock.monotonic()
            self.hanging = False
            self.release.clear()
            self.returned.set()
        self.completed += 1
        self.last_completed = self.clock.now_utc()


class Steady(Scripted):
    name = "steady"
    interval = 1.0
    max_restarts = 2
    restart_window = 10.0
    backoff_cap = 4.0
    stop_timeout = BOUND


class Fragile(Scripted):
    name = "fragile"
    interval = 2.0
    restart = False
    stop_timeout = BOUND


class Stuck(Scripted):
    name = "stuck"
    interval = 1.0
    max_restarts = 3
    restart_window = 5.0
    backoff_cap = 2.0
    stop_timeout = 0.2  # real seconds: how long shutdown waits for it once it hangs


class Vital(Scripted):
    name = "vital"
    interval = 1.5
    critical = True
    max_restarts = 1
    restart_window = 6.0
    backoff_cap = 3.0
    stop_timeout = BOUND


NAMES = ("steady", "fragile", "stuck", "vital")
CRASHABLE = st.sampled_from(NAMES)


class SupervisorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Each clock step waits for the woken service to sleep again, however loaded the
        # machine: a step that gave up early would let time move under a running tick.
        self.clock = ManualClock(step_timeout=BOUND)
        self.rt = Runtime(clock=self.clock)
        # Seeded jitter: the same case gives the same backoffs, so every run of it is alike.
        self.rt.services._rng = random.Random(0)
        self.services: dict[str, Scripted] = {}
        for cls in (Steady, Fragile, Stuck, Vital):
            self.services[cls.name] = self.rt.register_service(cls(self.clock))
        self.log: list[tuple[float, Message]] = []
        # Per service: the log length at each start/stop/enable/disable the test made, so
        # "stays down" and "starts after exactly its backoff" discount what the test caused.
        self.controls: dict[str, list[int]] = {}
        self.rt.events.subscribe(Message, self._record)
        self.rt.boot()
        self.down = False
        self.settle()

    def _record(self, evt: Event[Any]) -> None:
        self.log.append((self.clock.monotonic(), evt.payload))

    # -- settling ------------------------------------------------------------------------

    def settle(self) -> None:
        """Wait until every service thread sleeps on the clock (ticking, backing off or
        hung) or has ended, and no shutdown or stop hand-off is under way."""
        give_up = time.monotonic() + BOUND
        while True:
            alive = sum(1 for s in self.rt.services.statuses() if s.running)
            helpers = [
                t
                for t in threading.enumerate()
                if t.name == "bussdcc-shutdown" or t.name.startswith("bussdcc-stop-")
            ]
            quiet = not helpers and self.clock.sleepers == alive
            if quiet and self.rt.phase in ("stopped", "running"):
                return
            assert time.monotonic() < give_up, "services did not settle"
            time.sleep(0.001)

    def events_of(self, kind: type[Message], name: str) -> list[tuple[int, float, Any]]:
        return [
            (i, t, m)
            for i, (t, m) in enumerate(self.log)
            if isinstance(m, kind) and getattr(m, "service", None) == name
        ]

    # -- rules ---------------------------------------------------------------------------

    @rule(steps=st.integers(min_value=1, max_value=16))
    def advance(self, steps: int) -> None:
        self.clock.advance(steps * 0.25)
        self.settle()
        self._notice_shutdown()

    @precondition(lambda self: not self.down)
    @rule(name=CRASHABLE, times=st.integers(min_value=1, max_value=4))
    def crash(self, name: str, times: int) -> None:
        """The next ``times`` ticks of ``name`` raise."""
        self.services[name].crashes_left = times

    @precondition(lambda self: not self.down)
    @rule()
    def hang(self) -> None:
        self.services["stuck"].hang_next = True

    @rule()
    def release(self) -> None:
        # No precondition on `hanging`: whether a hang began can depend on thread timing
        # (a critical shutdown racing a tick), and Hypothesis needs the same rules enabled
        # on every run of a case.
        stuck = self.services["stuck"]
        if not stuck.hanging:
            return
        stuck.release.set()
        assert stuck.returned.wait(BOUND), "the hung tick did not return"
        self.settle()
        self._notice_shutdown()

    @precondition(lambda self: not self.down)
    @rule(name=CRASHABLE)
    def enable(self, name: str) -> None:
        self.controls.setdefault(name, []).append(len(self.log))
        self.rt.services.enable(name)
        self.settle()

    @precondition(lambda self: not self.down)
    @rule(name=CRASHABLE)
    def disable(self, name: str) -> None:
        self.controls.setdefault(name, []).append(len(self.log))
        self.rt.services.disable(name)
        self.settle()
        self._check_halted(name)

    @precondition(lambda self: not self.down)
    @rule(name=CRASHABLE)
    def start(self, name: str) -> None:
        if not self.rt.services.status(name).enabled:
            with pytest.raises(RuntimeError, match="disabled"):
                self.rt.services.start(name)
            return
        self.controls.setdefault(name, []).append(len(self.log))
        self.rt.services.start(name)
        self.settle()

    @precondition(lambda self: not self.down)
    @rule(name=CRASHABLE)
    def stop(self, name: str) -> None:
        self.controls.setdefault(name, []).append(len(self.log))
        self.rt.services.stop(name)
        self.settle()
        self._check_halted(name)

    @precondition(lambda self: not self.down)
    @rule()
    def shutdown(self) -> None:
        self.rt.shutdown("test")
        assert self.rt.wait(BOUND)
        self.settle()
        self._notice_shutdown()

    # -- checks after a step ---------------------------------------------------------------

    def _check_halted(self, name: str) -> None:
        status = self.rt.services.status(name)
        service = self.services[name]
        if service.hanging:
            # A tick that never returns cannot be stopped: abandoned after stop_timeout.
            assert status.state == "abandoned" and status.running
            assert status.last_error is not None and "abandoned" in status.last_error
        elif name != "stuck":
            # (stuck's 0.2 s stop_timeout is real time; the others cannot miss theirs.)
            assert not status.running
            assert status.state in ("stopped", "failed", "registered")

    def _notice_shutdown(self) -> None:
        if self.rt.phase != "stopped" or self.down:
            return
        self.down = True
        # Shutdown completed: the last event says so, and nothing but a hung tick is left.
        assert isinstance(self.log[-1][1], RuntimeShutdown)
        for status in self.rt.services.statuses():
            if self.services[status.name].hanging:
                assert status.state == "abandoned"
            else:
                assert not status.running, status
        reason = self.rt.shutdown_reason or ""
        failures = self.events_of(ServiceFailure, "vital")
        if reason.startswith("critical"):
            assert failures, "only vital's failure may shut the runtime down"
            assert reason.startswith("critical service 'vital' failed")
        else:
            assert reason == "test"

    @invariant()
    def ticks_follow_the_fixed_grid_without_bursts(self) -> None:
        for service in self.services.values():
            interval = float(service.interval)
            for r, (origin, run) in enumerate(zip(service.origins, service.runs, strict=True)):
                for k, (tick, _) in enumerate(run):
                    slots = (tick - origin) / interval
                    assert abs(slots - round(slots)) < 1e-6, (service.name, tick, origin)
                    if k == 0:
                        assert tick == origin  # the first tick is at once
                        continue
                    previous, hung = run[k - 1]
                    gap = tick - previous
                    if hung:
                        released = service.hang_released_at[(r, k - 1)]
                        # The first slot after the release (or at it), never a burst.
                        assert gap >= interval - EPS
                        assert released - EPS <= tick < released + interval + EPS
                        due = previous + interval
                        expected = (
                            due if due >= released else _next_slot(origin, interval, released)
                        )
                        assert tick == expected, (service.name, previous, released, tick)
                    else:
                        assert abs(gap - interval) < EPS, (service.name, previous, tick)

    @invariant()
    def restarts_wait_their_backoff_and_are_bounded(self) -> None:
        for name, service in self.services.items():
            restarts = self.events_of(ServiceRestart, name)
            for i, when, msg in restarts:
                base = min(
                    float(service.backoff_cap), float(service.interval) * 2 ** (msg.attempt - 1)
                )
                assert base / 2 - EPS <= msg.delay <= base + EPS
                assert 1 <= msg.attempt <= service.max_restarts
                # the next thing this service does is start again after exactly that delay
                # (or be stopped first)
                later = [
                    (t, m)
                    for t, m in self.log[i + 1 :]
                    if getattr(m, "service", None) == name
                    and isinstance(m, ServiceStarted | ServiceStopped | ServiceRestart)
                ]
                if (
                    later
                    and isinstance(later[0][1], ServiceStarted)
                    and not self._controlled(name, i)
                ):
                    assert math.isclose(later[0][0], when + msg.delay, abs_tol=1e-6)

    def _controlled(self, name: str, index: int) -> bool:
        """Whether the test started, stopped, enabled or disabled ``name`` after log index."""
        return any(i > index for i in self.controls.get(name, []))

    @invariant()
    def too_many_restarts_fail_the_service_and_it_stays_down(self) -> None:
        for name, service in self.services.items():
            for i, when, _msg in self.events_of(ServiceFailure, name):
                assert service.restart
                window = [
                    t
                    for _, t, _ in self.events_of(ServiceRestart, name)
                    if when - t <= service.restart_window and t <= when
                ]
                assert len(window) >= service.max_restarts
                if not self._controlled(name, i):
                    starts = [j for j, _, _ in self.events_of(ServiceStarted, name) if j > i]
                    assert not starts, f"{name} started again after failing"
                    assert self.rt.services.status(name).state in ("failed", "stopped")

    @invariant()
    def without_restart_a_service_stops_after_its_first_error(self) -> None:
        errors = [i for i, _, m in self.events_of(ServiceError, "fragile") if m.traceback]
        for i in errors:
            assert not [m for j, _, m in self.events_of(ServiceRestart, "fragile") if j > i]
            if not self._controlled("fragile", i):
                later = [j for j, _, _ in self.events_of(ServiceStarted, "fragile") if j > i]
                assert not later
                assert not self.rt.services.status("fragile").running

    @invariant()
    def statuses_agree_with_what_happened(self) -> None:
        for name, service in self.services.items():
            status = self.rt.services.status(name)
            assert status.name == name
            assert status.restarts == len(self.events_of(ServiceRestart, name))
            assert status.ticks == service.completed
            if service.completed:
                assert status.last_tick == service.last_completed
            errors = self.events_of(ServiceError, name)
            if errors:
                assert status.last_error == errors[-1][2].error
            else:
                assert status.last_error is None

    def teardown(self) -> None:
        stuck = self.services["stuck"]
        stuck.release.set()
        if not self.down:
            self.rt.shutdown("teardown")
        assert self.rt.wait(BOUND)
        for thread in threading.enumerate():
            if thread.name.startswith("bussdcc-"):
                thread.join(BOUND)


def _next_slot(origin: float, interval: float, now: float) -> float:
    """The first grid point at or after ``now`` that the supervisor schedules after an
    overrun (it skips every slot already in the past)."""
    slot = math.floor((now - origin) / interval) + 1
    return origin + slot * interval


SupervisorMachine.TestCase.settings = settings(
    max_examples=75,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSupervisor = SupervisorMachine.TestCase
