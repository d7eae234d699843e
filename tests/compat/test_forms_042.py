"""The 0.42/0.46 forms that used to lose data silently, and the 0.46 web interface."""

from __future__ import annotations

import io
import json
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bussdcc import Device, Event, Message, Runtime
from bussdcc.message import DeviceOffline, EventSubscriberError, ProcessError, ServiceError
from bussdcc_framework.interface.web import WebInterface
from bussdcc_framework.io.console import ConsoleSink
from bussdcc_framework.runtime import Runtime as FrameworkRuntime

T0 = datetime(2026, 11, 27, tzinfo=UTC)


def test_set_offline_with_an_exception_still_emits_device_offline() -> None:
    rt = Runtime()
    seen: list[DeviceOffline] = []
    rt.events.subscribe(DeviceOffline, lambda evt: seen.append(evt.payload))
    device = rt.attach_device(Device("gps"))
    rt.boot()
    with pytest.warns(DeprecationWarning, match=r"set_offline\(exception\)"):
        device.set_offline(OSError("serial port vanished"))
    rt.shutdown()
    assert [(m.device, m.error) for m in seen] == [("gps", "OSError: serial port vanished")]


def test_positional_0_42_errors_put_each_value_in_its_field() -> None:
    evt = Event(T0, DeviceOffline(device="d", kind="k"))
    with pytest.warns(DeprecationWarning, match="the 0.42 form"):
        process = ProcessError("p", "E: x", evt, "tb")  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="the 0.42 form"):
        service = ServiceError("s", "E: y", None, "tb2")  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="the 0.42 form"):
        subscriber = EventSubscriberError(evt, "h", "E: z", None)  # type: ignore[arg-type]
    assert (process.traceback, process.event) == ("tb", "device.offline")
    assert (service.traceback, service.event) == ("tb2", "")
    assert (subscriber.handler, subscriber.event, subscriber.traceback) == (
        "h",
        "device.offline",
        "",
    )
    # Today's forms are untouched and warn about nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ProcessError("p", "E", "tb", "x.y").event == "x.y"


@dataclass(slots=True, frozen=True)
class Secret(Message):
    name = "test.compat.secret"
    token: str
    when: Any


class Redacting(ConsoleSink):
    def transform(self, evt: Event[Any]) -> Any:
        return {"token": "***", "when": evt.payload.when}

    def json_fallback(self, obj: Any) -> Any:
        return repr(obj) if isinstance(obj, complex) else super().json_fallback(obj)


def test_a_console_sink_overriding_transform_and_json_fallback_is_honoured() -> None:
    out = io.StringIO()
    with pytest.warns(DeprecationWarning, match="transform"):
        sink = Redacting(out)
    sink.handle(Event(T0, Secret(token="s3cret", when=1j), 7))
    record = json.loads(out.getvalue())
    assert record["data"] == {"token": "***", "when": "1j"}
    assert (record["name"], record["seq"]) == ("test.compat.secret", 7)
    assert "s3cret" not in out.getvalue()


class Pages(WebInterface):
    def register_routes(self, app: Any, ctx: Any) -> None:
        @app.route("/hello")  # type: ignore[untyped-decorator]
        def hello() -> str:
            return f"hello from {ctx.runtime.phase}"


def test_a_0_46_web_interface_with_routes_serves_them() -> None:
    with pytest.warns(DeprecationWarning, match="0.46 arguments"):
        web = Pages(__name__, host="127.0.0.1", port=0, template_folder="templates")  # type: ignore[misc, call-arg]
    assert web.import_name == __name__ and web.host == "127.0.0.1"
    rt = FrameworkRuntime()
    rt.add_interface(web)
    rt.boot()
    try:
        with urllib.request.urlopen(f"{web.url}hello", timeout=10) as response:
            assert response.read() == b"hello from running"
        assert web.app is not None and web.app.template_folder == "templates"
    finally:
        rt.shutdown()
