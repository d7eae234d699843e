"""The sd_notify protocol, the watchdog's judgement of services, and the notifier in a runtime."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bussdcc import ContextProtocol, Event, ManualClock, Message, Service
from bussdcc.supervisor import ServiceState, ServiceStatus
from bussdcc_framework import Runtime
from bussdcc_framework.message import SystemdNotifyFailed, WatchdogResumed, WatchdogWithheld
from bussdcc_framework.systemd import (
    SystemdNotifier,
    TickProgress,
    judge_services,
    notify_address,
    sd_notify,
    watchdog_period,
)


@dataclass
class FakeNotifySocket:
    """A Unix datagram socket standing in for systemd's notify socket."""

    path: str
    sock: socket.socket

    def received(self) -> list[str]:
        """Every datagram waiting now (the senders have returned, so nothing is in flight)."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return out
        finally:
            self.sock.setblocking(True)

    def next(self) -> str:
        """The next datagram; the timeout only keeps a broken test from hanging."""
        self.sock.settimeout(10)
        return self.sock.recv(4096).decode()


@pytest.fixture
def notify_socket() -> Iterator[FakeNotifySocket]:
    # A short directory: AF_UNIX paths are limited to 108 bytes.
    folder = tempfile.mkdtemp(prefix="sdn", dir="/tmp")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield FakeNotifySocket(path, sock)
    finally:
        sock.close()
        shutil.rmtree(folder)


# -- the protocol ----------------------------------------------------------------------------


def test_notify_address_takes_absolute_paths_and_abstract_names() -> None:
    assert notify_address("/run/systemd/notify") == "/run/systemd/notify"
    assert notify_address("@bussdcc/notify") == b"\0bussdcc/notify"


@pytest.mark.parametrize("value", ["relative/notify", "@", "vsock:2:1234", ""])
def test_notify_address_rejects_other_forms_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="NOTIFY_SOCKET"):
        notify_address(value)


def test_notify_address_rejects_a_non_string() -> None:
    with pytest.raises(TypeError, match="value"):
        notify_address(b"/run/notify")  # type: ignore[arg-type]


def test_sd_notify_sends_one_datagram_to_a_path(notify_socket: FakeNotifySocket) -> None:
    sd_notify(notify_address(notify_socket.path), "READY=1\nSTATUS=running")
    assert notify_socket.received() == ["READY=1\nSTATUS=running"]


def test_sd_notify_reaches_an_abstract_socket() -> None:
    name = f"bussdcc-test-{os.getpid()}-{threading.get_ident()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(b"\0" + name.encode())
        sd_notify(notify_address("@" + name), "WATCHDOG=1")
        assert server.recv(64) == b"WATCHDOG=1"


def test_sd_notify_raises_os_error_when_nobody_listens(tmp_path: Any) -> None:
    with pytest.raises(OSError):
        sd_notify(str(tmp_path / "absent"), "READY=1")


def test_watchdog_period_is_half_of_watchdog_usec() -> None:
    assert watchdog_period({"WATCHDOG_USEC": "30000000"}, 42) == 15.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42) == 15.0
    assert watchdog_period({}, 42) is None


def test_watchdog_period_ignores_a_watchdog_meant_for_another_process() -> None:
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 42) is None


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({"WATCHDOG_USEC": "soon"}, "WATCHDOG_USEC"),
        ({"WATCHDOG_USEC": "0"}, "WATCHDOG_USEC"),
        ({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "-1"}, "WATCHDOG_PID"),
    ],
)
def test_watchdog_period_rejects_malformed_values(environ: dict[str, str], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        watchdog_period(environ, 42)


# -- the judgement: a pure function of statuses and time -------------------------------------


def status(
    name: str, ticks: int, state: ServiceState = "running", *, enabled: bool = True
) -> ServiceStatus:
    return ServiceStatus(
        name=name,
        state=state,
        enabled=enabled,
        running=state in ("starting", "running", "backoff"),
        restarts=0,
        ticks=ticks,
        last_error=None,
        last_tick=None,
    )


def test_a_service_first_seen_starts_its_count_now() -> None:
    verdict = judge_services([status("cpu", 5)], {"cpu": 1.0}, 100.0, {}, grace=3.0)
    assert verdict.healthy
    assert verdict.progress == {"cpu": TickProgress(5, 100.0)}


def test_a_service_whose_ticks_move_is_never_hung() -> None:
    progress = {"cpu": TickProgress(5, 0.0)}
    verdict = judge_services([status("cpu", 6)], {"cpu": 1.0}, 500.0, progress, grace=3.0)
    assert verdict.hung == ()
    assert verdict.progress == {"cpu": TickProgress(6, 500.0)}


def test_a_stuck_service_is_hung_after_max_of_twice_its_interval_and_the_grace() -> None:
    progress = {"cpu": TickProgress(5, 100.0)}
    statuses = [status("cpu", 5)]
    # interval 1 s, grace 3 s: the limit is 3 s, exceeded strictly.
    assert judge_services(statuses, {"cpu": 1.0}, 103.0, progress, grace=3.0).healthy
    assert judge_services(statuses, {"cpu": 1.0}, 103.5, progress, grace=3.0).hung == ("cpu",)
    # interval 30 s: the limit is 60 s whatever the grace.
    assert judge_services(statuses, {"cpu": 30.0}, 160.0, progress, grace=3.0).healthy
    assert judge_services(statuses, {"cpu": 30.0}, 160.5, progress, grace=3.0).hung == ("cpu",)
    # The progress record does not move while the count does not.
    verdict = judge_services(statuses, {"cpu": 1.0}, 200.0, progress, grace=3.0)
    assert verdict.progress == progress


def test_a_service_in_backoff_or_still_starting_is_judged_by_its_ticks_too() -> None:
    progress = {"net": TickProgress(0, 0.0), "disk": TickProgress(9, 0.0)}
    statuses = [status("net", 0, "starting"), status("disk", 9, "backoff")]
    intervals = {"net": 1.0, "disk": 1.0}
    assert judge_services(statuses, intervals, 10.0, progress, grace=10.0).healthy
    assert judge_services(statuses, intervals, 10.5, progress, grace=10.0).hung == ("net", "disk")


def test_a_failed_or_abandoned_service_is_hung_at_once() -> None:
    statuses = [status("a", 3, "failed"), status("b", 3, "abandoned"), status("c", 3)]
    verdict = judge_services(statuses, {}, 0.0, {}, grace=10.0)
    assert verdict.hung == ("a", "b")


def test_disabled_and_deliberately_stopped_services_are_not_watched() -> None:
    statuses = [status("off", 0, "stopped", enabled=False), status("done", 4, "stopped")]
    progress = {"off": TickProgress(0, 0.0), "done": TickProgress(4, 0.0)}
    verdict = judge_services(statuses, {}, 1_000.0, progress, grace=1.0)
    assert verdict.healthy
    assert "off" not in verdict.progress


def test_an_unknown_interval_counts_as_one_second() -> None:
    progress = {"x": TickProgress(1, 0.0)}
    assert judge_services([status("x", 1)], {}, 2.5, progress, grace=0.0).hung == ("x",)


def test_judge_services_rejects_a_negative_grace() -> None:
    with pytest.raises(ValueError, match="grace"):
        judge_services([], {}, 0.0, {}, grace=-1.0)


def test_the_notifier_checks_its_grace() -> None:
    with pytest.raises(ValueError, match="grace"):
        SystemdNotifier({}, grace=-0.5)
    with pytest.raises(TypeError, match="grace"):
        SystemdNotifier({}, grace="10")  # type: ignore[arg-type]


# -- the notifier in a runtime ---------------------------------------------------------------


class Collector(Service):
    """Ticks every second until told to hang; then blocks inside its tick until released."""

    name = "Collector"
    interval = 1.0
    stop_timeout = 10.0

    def __init__(self) -> None:
        self.hang = threading.Event()
        self.release = threading.Event()

    def tick(self, ctx: ContextProtocol) -> None:
        if self.hang.is_set():
            self.release.wait()


def recorded(rt: Runtime, *types: type[Message]) -> list[Message]:
    seen: list[Message] = []

    def keep(evt: Event[Any]) -> None:
        seen.append(evt.payload)

    rt.events.subscribe(types, keep)
    return seen


def test_ready_watchdog_while_ticking_withheld_when_a_service_hangs_then_stopping(
    notify_socket: FakeNotifySocket,
) -> None:
    # The clock waits step_timeout real seconds for a woken thread to sleep again: it gives
    # up on the hung tick after that, once (the hung thread no longer sleeps on the clock).
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC), step_timeout=2.0)
    rt = Runtime(clock=clock)
    environ = {"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "2000000"}  # ping every 1 s
    rt.add_process(SystemdNotifier(environ, grace=3.0))
    collector = Collector()
    collector.enabled = False  # started half a second in, so no tick shares a deadline
    rt.add_service(collector)
    events = recorded(rt, WatchdogWithheld, WatchdogResumed, SystemdNotifyFailed)
    rt.boot()
    try:
        assert notify_socket.next() == "READY=1\nSTATUS=running"
        assert clock.wait_for_sleepers(1)  # the watchdog thread, after its first check at 0
        assert notify_socket.received() == ["WATCHDOG=1"]
        clock.advance(0.5)
        rt.services.enable("Collector")  # ticks at 0.5, 1.5, 2.5, ...
        assert clock.wait_for_sleepers(2)
        for _ in range(3):
            clock.advance(1.0)  # checks at 1, 2, 3 each see a new tick
        assert notify_socket.received() == ["WATCHDOG=1"] * 3

        collector.hang.set()  # the tick at 4.5 never returns; the last count moved at 3.5
        sent: list[str] = []
        for _ in range(5):
            clock.advance(1.0)  # to 8.5
            sent += notify_socket.received()
        # Checks at 4, 5, 6 and 7 (stuck for 0, 1, 2, 3 s; the limit is max(2 * 1, 3) = 3 s)
        # ping; the check at 8 (stuck 4 s) says why and stops pinging.
        assert sent == ["WATCHDOG=1"] * 4 + ["STATUS=not ticking: Collector"]
        assert events == [WatchdogWithheld(services=("Collector",))]
        clock.advance(1.0)
        clock.advance(1.0)
        assert notify_socket.received() == []  # systemd restarts the process after WatchdogSec

        collector.release.set()  # the tick returns at 10.5; the next slot is 11.5
        assert clock.wait_for_sleepers(2)
        clock.advance(1.0)
        assert notify_socket.received() == ["WATCHDOG=1\nSTATUS=running"]
        assert events[-1] == WatchdogResumed()
    finally:
        collector.release.set()
        rt.shutdown("test over")
    assert notify_socket.received() == ["STOPPING=1\nSTATUS=stopping"]
    assert len(events) == 2


def test_the_runtime_adds_the_notifier_when_notify_socket_is_set(
    notify_socket: FakeNotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.path)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    rt = Runtime(clock=ManualClock())
    assert "systemd" in [p.component_name for p in rt.processes]
    rt.boot()
    assert notify_socket.next() == "READY=1\nSTATUS=running"
    rt.shutdown()
    assert notify_socket.received() == ["STOPPING=1\nSTATUS=stopping"]


def test_without_notify_socket_the_runtime_has_no_notifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    rt = Runtime(clock=ManualClock())
    assert "systemd" not in [p.component_name for p in rt.processes]


def test_a_notify_socket_that_is_gone_is_reported_once_and_the_runtime_runs_on(
    tmp_path: Any,
) -> None:
    rt = Runtime(clock=ManualClock())
    notifier = rt.add_process(SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}))
    assert isinstance(notifier, SystemdNotifier)
    events = recorded(rt, SystemdNotifyFailed)
    rt.boot()
    assert rt.is_running
    assert notifier.notify(rt.ctx, "STATUS=still here") is False
    rt.shutdown()
    # The failed READY and the failed STATUS are one streak: reported once.
    assert len(events) == 1
    failure = events[0]
    assert isinstance(failure, SystemdNotifyFailed)
    assert failure.state == "READY=1\nSTATUS=running"
    assert "FileNotFoundError" in failure.error


def test_a_malformed_notify_socket_is_a_process_error_not_a_crash() -> None:
    from bussdcc.message import ProcessError

    rt = Runtime(clock=ManualClock())
    rt.add_process(SystemdNotifier({"NOTIFY_SOCKET": "relative/path"}))
    errors = recorded(rt, ProcessError)
    rt.boot()
    assert rt.is_running
    rt.shutdown()
    assert len(errors) == 1
    assert isinstance(errors[0], ProcessError)
    assert "NOTIFY_SOCKET" in errors[0].error
