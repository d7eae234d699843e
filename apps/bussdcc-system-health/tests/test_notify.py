"""Health notifications: the hysteresis, the text, Apprise delivery end to end on loopback."""

from __future__ import annotations

import json
import queue
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bussdcc import Event, ManualClock
from bussdcc_framework import Runtime
from bussdcc_system_health.message import MemoryUsageUpdated, NotificationFailed, NotificationSent
from bussdcc_system_health.notify import (
    AppriseSender,
    HealthAlarm,
    HealthNotifier,
    Notification,
    NotifyUnavailable,
    render,
)
from bussdcc_system_health.processes import HealthProcess

# -- the hysteresis: exact values ------------------------------------------------------------


def test_a_warning_that_lasts_after_seconds_is_announced_once() -> None:
    alarm = HealthAlarm(after=60.0)
    assert alarm.observe("ok", [], 0.0) is None
    assert alarm.observe("warning", ["memory 90 %"], 10.0) is None
    assert alarm.observe("warning", ["memory 90 %"], 69.9) is None
    due = alarm.observe("warning", ["memory 91 %"], 70.0)
    assert due == Notification("alert", "warning", ("memory 91 %",), 60.0)
    assert alarm.observe("warning", ["memory 91 %"], 500.0) is None


def test_a_blip_shorter_than_after_announces_nothing() -> None:
    alarm = HealthAlarm(after=60.0)
    assert alarm.observe("critical", ["cpu"], 0.0) is None
    assert alarm.observe("ok", [], 59.0) is None
    # A new bad streak starts the count again.
    assert alarm.observe("warning", ["cpu"], 60.0) is None
    assert alarm.observe("warning", ["cpu"], 119.0) is None
    assert alarm.observe("warning", ["cpu"], 120.0) is not None


def test_moving_between_warning_and_critical_does_not_interrupt_a_bad_streak() -> None:
    alarm = HealthAlarm(after=60.0)
    alarm.observe("warning", ["a"], 0.0)
    alarm.observe("critical", ["b"], 30.0)
    due = alarm.observe("critical", ["b"], 60.0)
    assert due == Notification("alert", "critical", ("b",), 60.0)


def test_an_escalation_to_critical_that_lasts_is_announced_again_a_fall_to_warning_is_not() -> None:
    alarm = HealthAlarm(after=10.0)
    alarm.observe("warning", ["w"], 0.0)
    assert alarm.observe("warning", ["w"], 10.0) is not None
    assert alarm.observe("critical", ["c"], 20.0) is None
    assert alarm.observe("critical", ["c"], 30.0) == Notification("alert", "critical", ("c",), 10.0)
    assert alarm.observe("warning", ["w"], 100.0) is None
    assert alarm.announced == "critical"


def test_recovery_is_announced_when_ok_lasts_after_seconds_and_only_after_an_alert() -> None:
    alarm = HealthAlarm(after=60.0)
    alarm.observe("warning", ["w"], 0.0)
    assert alarm.observe("warning", ["w"], 60.0) is not None
    assert alarm.observe("ok", [], 100.0) is None
    assert alarm.observe("warning", ["w"], 130.0) is None  # flapping: still raised, no alert
    assert alarm.observe("ok", [], 140.0) is None
    assert alarm.observe("ok", [], 199.0) is None
    assert alarm.observe("ok", [], 200.0) == Notification("recovery", "ok", (), 60.0)
    assert alarm.observe("ok", [], 1000.0) is None


def test_after_zero_announces_at_once() -> None:
    alarm = HealthAlarm(after=0)
    assert alarm.observe("critical", ["c"], 5.0) == Notification("alert", "critical", ("c",), 0.0)
    assert alarm.observe("ok", [], 6.0) == Notification("recovery", "ok", (), 0.0)


@pytest.mark.parametrize("after", [-1.0, float("inf"), float("nan")])
def test_alarm_rejects_a_bad_after(after: float) -> None:
    with pytest.raises(ValueError, match="after"):
        HealthAlarm(after)


def test_alarm_rejects_a_non_number_and_an_unknown_status() -> None:
    with pytest.raises(TypeError, match="after"):
        HealthAlarm("60")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        HealthAlarm().observe("unknown", [], 0.0)  # type: ignore[arg-type]


def test_the_title_names_the_host_and_the_body_gives_the_reasons() -> None:
    alert = Notification("alert", "critical", ("memory 97 % (critical at 95 %)", "disk / 96 %"), 61)
    assert render(alert, "pi-kitchen") == (
        "pi-kitchen: health critical",
        "pi-kitchen has been critical for 61 s:\n- memory 97 % (critical at 95 %)\n- disk / 96 %",
    )
    recovery = Notification("recovery", "ok", (), 60.0)
    assert render(recovery, "pi-kitchen") == (
        "pi-kitchen: health ok again",
        "pi-kitchen has been healthy for 60 s.",
    )


# -- Apprise ---------------------------------------------------------------------------------


def test_an_unknown_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match=r"nosuchservice://") as caught:
        AppriseSender(["nosuchservice://user:secret@host"])
    assert "secret" not in str(caught.value)


def test_sender_needs_a_list_of_urls() -> None:
    with pytest.raises(TypeError, match="urls"):
        AppriseSender("json://127.0.0.1/x")
    with pytest.raises(ValueError, match="urls"):
        AppriseSender([])


def test_a_missing_apprise_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise now raises ImportError
    with pytest.raises(NotifyUnavailable, match=r"bussdcc-system-health\[notify\]"):
        AppriseSender(["json://127.0.0.1/x"])


class Receiver:
    """An HTTP server on 127.0.0.1 (port 0) that records the JSON bodies posted to it."""

    def __init__(self) -> None:
        self.posts: queue.Queue[dict[str, Any]] = queue.Queue()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                posts.put(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self) -> dict[str, Any]:
        return self.posts.get(timeout=15)  # only keeps a broken test from hanging

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def memory(percent: float) -> MemoryUsageUpdated:
    return MemoryUsageUpdated(100, 100 - int(percent), int(percent), percent, 0, 0, 0.0)


def test_notifications_end_to_end_through_apprise_json_to_a_loopback_receiver(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    sender = AppriseSender(
        [f"json://127.0.0.1:{receiver.port}/hook", f"json://127.0.0.1:{closed_port()}/dead"]
    )
    live, dead = sender.targets
    clock = ManualClock()
    rt = Runtime(clock=clock)
    rt.add_process(HealthProcess())
    notifier = HealthNotifier(sender, after=60.0, host="pi-test")
    rt.add_service(notifier)
    outcomes: queue.Queue[Any] = queue.Queue()

    def keep(evt: Event[Any]) -> None:
        outcomes.put(evt.payload)

    rt.events.subscribe((NotificationSent, NotificationFailed), keep)
    rt.boot()
    try:
        assert clock.wait_for_sleepers(1)
        rt.emit(memory(40.0))
        clock.advance(10.0)

        # A blip: warning for 30 s, then ok again. Nothing is sent.
        rt.emit(memory(90.0))
        clock.advance(30.0)
        rt.emit(memory(40.0))
        clock.advance(100.0)
        assert notifier.alarm.announced == "ok"

        # A warning that lasts: the first tick to see it is at 141, the alert at 201.
        rt.emit(memory(90.0))
        clock.advance(60.0)
        assert receiver.posts.empty()
        clock.advance(1.0)
        alert = receiver.next()
        assert alert["title"] == "pi-test: health warning"
        assert alert["type"] == "warning"
        assert alert["message"].startswith("pi-test has been warning for 60 s:\n- memory")
        first, second = outcomes.get(timeout=15), outcomes.get(timeout=15)
        assert first == NotificationSent(kind="alert", status="warning", target=live)
        assert isinstance(second, NotificationFailed)
        assert (second.kind, second.status, second.target) == ("alert", "warning", dead)
        assert second.error  # Apprise's own words on why
        assert rt.is_running

        # Recovery: ok for 60 s.
        rt.emit(memory(40.0))
        clock.advance(61.0)
        recovery = receiver.next()
        assert recovery["title"] == "pi-test: health ok again"
        assert recovery["type"] == "success"
        assert outcomes.get(timeout=15) == NotificationSent(
            kind="recovery", status="ok", target=live
        )
        assert isinstance(outcomes.get(timeout=15), NotificationFailed)
        # The app kept running and the notifier kept ticking through the failures.
        assert rt.is_running
        assert rt.services.status("notify").state == "running"
    finally:
        rt.shutdown()
    assert receiver.posts.empty()
