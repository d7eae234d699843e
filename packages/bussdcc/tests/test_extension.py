"""`RuntimeExtension`: the public lifecycle seam -- hook order, failure policy, replay hook."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bussdcc import (
    BootError,
    ContextProtocol,
    Event,
    ManualClock,
    Message,
    Process,
    ReplayRuntime,
    Runtime,
    RuntimeExtension,
    Service,
)
from bussdcc.message import RuntimeExtensionError


@dataclass(slots=True, frozen=True)
class Note(Message):
    name = "test.extension.note"
    text: str


class Trace(RuntimeExtension):
    """Records each hook call (and what the runtime had emitted by then) into a shared list."""

    def __init__(self, label: str, log: list[str], fail: str | None = None) -> None:
        self.name = label
        self.log = log
        self.fail = fail

    def _hook(self, hook: str, runtime: Runtime) -> None:
        self.log.append(f"{self.name}.{hook} phase={runtime.phase}")
        if hook == self.fail:
            raise OSError(errno.EADDRINUSE, f"{self.name} cannot {hook}")

    def before_boot(self, runtime: Runtime) -> None:
        self._hook("before_boot", runtime)

    def before_services(self, runtime: Runtime) -> None:
        self._hook("before_services", runtime)

    def booted(self, runtime: Runtime) -> None:
        self._hook("booted", runtime)

    def shutting_down(self, runtime: Runtime, reason: str | None) -> None:
        self._hook("shutting_down", runtime)

    def after_shutdown(self, runtime: Runtime, reason: str | None) -> None:
        self._hook("after_shutdown", runtime)


class Idle(Service):
    interval = 3600.0

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def start(self, ctx: ContextProtocol) -> None:
        self.log.append("service start")


def rig(*fail: tuple[str, str]) -> tuple[Runtime, ManualClock, list[str]]:
    log: list[str] = []
    clock = ManualClock()
    rt = Runtime(clock=clock)
    failing = dict(fail)
    for label in ("a", "b"):
        rt.extend(Trace(label, log, failing.get(label)))
    # Lifecycle messages go into the same log, to show where the hooks fall.
    rt.events.subscribe(
        Message, lambda evt: log.append(evt.name) if evt.name.startswith("runtime.") else None
    )
    return rt, clock, log


def test_boot_hooks_run_in_registration_order_and_shutdown_hooks_in_reverse() -> None:
    rt, _clock, log = rig()
    rt.boot()
    assert log == [
        "a.before_boot phase=booting",
        "b.before_boot phase=booting",
        "runtime.booting",
        "runtime.booted",
        "a.before_services phase=booting",
        "b.before_services phase=booting",
        "a.booted phase=running",
        "b.booted phase=running",
    ]
    log.clear()
    rt.shutdown("done")
    assert log == [
        "b.shutting_down phase=stopping",
        "a.shutting_down phase=stopping",
        "runtime.shutting_down",
        "runtime.shutdown",
        "b.after_shutdown phase=stopping",
        "a.after_shutdown phase=stopping",
    ]


def test_before_services_runs_before_any_service_starts() -> None:
    log: list[str] = []
    rt = Runtime(clock=ManualClock())
    rt.extend(Trace("a", log))
    service = Idle(log)
    service.required = True  # boot waits for its start, so the log order is settled
    rt.register_service(service)
    rt.boot()
    assert log.index("a.before_services phase=booting") < log.index("service start")
    assert log.index("service start") < log.index("a.booted phase=running")
    rt.shutdown("done")


@pytest.mark.parametrize("hook", ["before_boot", "before_services", "booted"])
def test_a_failing_boot_hook_aborts_boot_like_a_required_component(hook: str) -> None:
    rt, _clock, log = rig(("b", hook))
    errors: list[RuntimeExtensionError] = []
    rt.events.subscribe(RuntimeExtensionError, lambda evt: errors.append(evt.payload))

    with pytest.raises(BootError, match=f"extension 'b'.*b cannot {hook}") as raised:
        rt.boot()

    assert raised.value.component == "extension 'b'"
    assert isinstance(raised.value.cause, OSError)
    assert raised.value.cause.errno == errno.EADDRINUSE
    assert raised.value.__cause__ is raised.value.cause
    assert [(e.extension, e.hook) for e in errors] == [("b", hook)]
    assert rt.phase == "stopped"
    # Rolled back: every extension's shutdown hooks ran, then the runtime was down.
    assert log[-2:] == ["b.after_shutdown phase=stopping", "a.after_shutdown phase=stopping"]
    assert "runtime.shutdown" in log


def test_a_failing_shutdown_hook_is_reported_and_shutdown_completes() -> None:
    rt, _clock, log = rig(("b", "shutting_down"), ("a", "after_shutdown"))
    errors: list[RuntimeExtensionError] = []
    rt.events.subscribe(RuntimeExtensionError, lambda evt: errors.append(evt.payload))
    rt.boot()
    rt.shutdown("done")
    assert rt.phase == "stopped" and rt.wait(0)
    assert [(e.extension, e.hook) for e in errors] == [
        ("b", "shutting_down"),
        ("a", "after_shutdown"),
    ]
    assert errors[0].error == f"OSError: [Errno {errno.EADDRINUSE}] b cannot shutting_down"
    assert "a.shutting_down phase=stopping" in log  # the others still ran
    assert "runtime.shutdown" in log


def test_extend_checks_its_argument_and_the_phase() -> None:
    rt = Runtime(clock=ManualClock())
    with pytest.raises(TypeError, match="extension must be a RuntimeExtension, got object"):
        rt.extend(object())  # type: ignore[type-var]
    ext = rt.extend(RuntimeExtension())
    assert rt.extensions == (ext,)
    with pytest.raises(ValueError, match="already registered"):
        rt.extend(ext)
    rt.boot()
    with pytest.raises(RuntimeError, match="before boot"):
        rt.extend(RuntimeExtension())
    rt.shutdown("done")


def test_an_extension_may_emit_from_its_hooks() -> None:
    class Announcer(RuntimeExtension):
        def booted(self, runtime: Runtime) -> None:
            runtime.emit(Note("up"))

        def shutting_down(self, runtime: Runtime, reason: str | None) -> None:
            runtime.emit(Note(f"going: {reason}"))

    seen: list[str] = []
    rt = Runtime(clock=ManualClock())
    rt.extend(Announcer())
    rt.events.subscribe(Note, lambda evt: seen.append(evt.payload.text))
    with rt:
        pass
    assert seen == ["up", "going: context exited"]


def recorded(count: int) -> list[Event[Note]]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [Event(t0 + timedelta(seconds=i), Note(str(i)), 100 + i) for i in range(count)]


class Echo(Process):
    """Derives one event from every replayed note."""

    subscriptions = (Note,)

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        if not evt.payload.text.startswith("echo"):
            ctx.emit(Note(f"echo {evt.payload.text}"))


def test_replayed_sees_each_original_event_after_everything_it_caused() -> None:
    calls: list[tuple[str, int, int, int]] = []

    class Tracer(RuntimeExtension):
        def replayed(self, runtime: Runtime, original: Event[Any], emitted: Event[Any]) -> None:
            calls.append(
                (original.payload.text, original.seq, emitted.seq, runtime.events.last_seq)
            )

    rt = ReplayRuntime(speed=0)
    rt.extend(Tracer())
    rt.register_process(Echo())
    source = recorded(3)
    assert rt.replay(source) == 3
    # Originals only (not the echoes), with their recorded seq; each call comes after the
    # echo it caused was delivered (the bus's last seq is one past the emitted event).
    assert [(text, seq) for text, seq, _, _ in calls] == [("0", 100), ("1", 101), ("2", 102)]
    assert all(last == emitted + 1 for _, _, emitted, last in calls)


def test_a_failing_replayed_hook_is_reported_and_replay_goes_on() -> None:
    class Broken(RuntimeExtension):
        def replayed(self, runtime: Runtime, original: Event[Any], emitted: Event[Any]) -> None:
            raise RuntimeError("tracer broke")

    rt = ReplayRuntime(speed=0)
    rt.extend(Broken())
    errors: list[RuntimeExtensionError] = []
    rt.events.subscribe(RuntimeExtensionError, lambda evt: errors.append(evt.payload))
    assert rt.replay(recorded(2)) == 2
    assert [(e.extension, e.hook) for e in errors] == [("Broken", "replayed")] * 2
