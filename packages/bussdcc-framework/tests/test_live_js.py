"""live.js, the browser half of the live protocol, in headless Chromium against the framework
alone: a plain `WebInterface` subclass serves a test page that uses only what the framework
ships at ``/bussdcc/static/``.

Chromium comes from the system (``/usr/bin/chromium``); ``playwright install`` is not used.
Without it these tests skip -- except under CI (``CI=true``), where a skip would hide a
missing feature, so they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, Response, url_for
from markupsafe import escape

from bussdcc.context import ContextProtocol
from bussdcc.message import Message
from bussdcc.runtime import Runtime
from bussdcc_framework.interface import STATIC_URL, WebInterface

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_MS = 20_000  # reconnect backoff tops out at 5 s; leave room on a busy machine

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>live.js test</title><link rel="icon" href="data:,"></head>
<body>
<div id="counter" data-live-view="counter">{first}</div>
<div id="twice" data-live-view="counter">{first}</div>
<script id="initial" type="application/json">{snapshot}</script>
<script src="{socketio}"></script>
<script src="{live}"></script>
<script src="/page.js"></script>
</body></html>
"""

PAGE_JS = """
window.seen = { records: [], views: [], connections: [], snapshots: 0 };
window.live = bussdcc.live({ initial: bussdcc.readJSON("initial") })
  .on("record", (rec) => window.seen.records.push(rec.seq))
  .on("views", (views, isSnapshot) => window.seen.views.push([views, isSnapshot]))
  .on("snapshot", () => { window.seen.snapshots += 1; })
  .on("connection", (state) => window.seen.connections.push(state));
"""


@dataclass(slots=True, frozen=True)
class Count(Message):
    name = "test.live.count"
    n: int


class CounterPage(WebInterface):
    """A plain WebInterface: one page, one server-rendered view of ``counter.value``."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port=port, push=(Count,), watch=("counter",), views=("counter.value",))

    def render_views(self, values: Mapping[str, Any], snapshot: bool) -> Mapping[str, Any]:
        value = values["counter.value"]
        return {"counter": f"<b>{escape(value)}</b>", "raw": {"value": value}}

    def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
        @app.route("/")
        def page() -> str:
            snapshot = self.snapshot()
            return PAGE.format(
                first=snapshot["views"]["counter"],
                snapshot=json.dumps(snapshot).replace("<", "\\u003c"),  # data, not markup
                socketio=url_for("bussdcc.static", filename="socket.io.min.js"),
                live=url_for("bussdcc.static", filename="live.js"),
            )

        @app.route("/page.js")
        def page_js() -> Response:
            return Response(PAGE_JS, mimetype="text/javascript")


def count(rt: Runtime, n: int) -> None:
    rt.ctx.state.set("counter.value", n)
    rt.emit(Count(n=n))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Page:
    """A page that records every script error and console error."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )

    def wait(self, expression: str, arg: Any = None) -> None:
        # Polled from here rather than with page.wait_for_function, which evaluates the
        # string inside the page: the Content-Security-Policy forbids that (no unsafe-eval).
        deadline = time.monotonic() + WAIT_MS / 1000
        while not self.page.evaluate(expression, arg):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            self.page.wait_for_timeout(50)

    def eval(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def wait_live(self) -> None:
        self.wait("window.live && window.live.connection === 'live'")


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    made = Page(browser)
    yield made
    made.page.close()


@pytest.fixture
def runtimes() -> Iterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for rt in made:
        rt.shutdown("test over")


def serve(runtimes: list[Runtime], port: int = 0) -> tuple[Runtime, CounterPage]:
    rt = Runtime()
    runtimes.append(rt)
    rt.ctx.state.set("counter.value", 0)
    web = CounterPage(port)
    rt.register_interface(web)
    rt.boot()
    return rt, web


def test_the_framework_serves_its_browser_files(runtimes: list[Runtime]) -> None:
    _, web = serve(runtimes)
    assert web.app is not None
    client = web.app.test_client()
    live = client.get(f"{STATIC_URL}/live.js")
    assert live.status_code == 200 and b"global.bussdcc" in live.data
    sio = client.get(f"{STATIC_URL}/socket.io.min.js")
    assert sio.status_code == 200 and b"Socket.IO v4." in sio.data[:200]


def test_snapshot_then_live_records_update_views_and_the_state_mirror(
    page: Page, runtimes: list[Runtime]
) -> None:
    rt, web = serve(runtimes)
    count(rt, 1)
    page.page.goto(web.url)
    assert page.page.inner_text("#counter") == "1"  # first paint: rendered by the server
    page.wait_live()

    for n in (2, 3, 4):
        count(rt, n)
    page.wait("document.querySelector('#counter').textContent === '4'")

    assert page.page.inner_text("#twice") == "4"  # every element bound to the view
    assert page.eval("window.live.get('counter.value')") == 4  # watched state mirrored
    assert page.eval("window.live.seq") == rt.events.last_seq
    seen = page.eval("window.seen")
    assert seen["records"][-3:] == sorted(seen["records"][-3:])
    assert seen["snapshots"] == 1
    assert seen["views"][0] == [{"counter": "<b>1</b>", "raw": {"value": 1}}, True]
    assert seen["views"][-1] == [{"counter": "<b>4</b>", "raw": {"value": 4}}, False]
    assert seen["connections"][:3] == ["connecting", "syncing", "live"]
    assert page.eval("document.body.dataset.liveConnection") == "live"
    assert page.eval("window.live.stats.resyncs") == 0
    assert page.errors == []


def test_a_gap_in_the_chain_makes_the_client_resync(page: Page, runtimes: list[Runtime]) -> None:
    rt, web = serve(runtimes)
    page.page.goto(web.url)
    page.wait_live()
    assert web.socketio is not None
    real_emit = web.socketio.emit
    lost: list[int] = []

    def lossy_emit(event: str, records: Any, **kwargs: Any) -> Any:
        if event == "events":
            lost.extend(r["seq"] for r in records if r["data"]["n"] == 41)
            records = [r for r in records if r["data"]["n"] != 41]
            if not records:
                return None
        return real_emit(event, records, **kwargs)

    web.socketio.emit = lossy_emit
    count(rt, 41)  # lost on the way
    count(rt, 42)  # names the lost event as its predecessor

    page.wait("window.live.stats.resyncs >= 1 && window.live.connection === 'live'")
    page.wait("document.querySelector('#counter').textContent === '42'")
    assert lost
    assert page.eval("window.live.stats.gaps") >= 1
    assert page.eval("window.seen.snapshots") >= 2
    assert page.errors == []


def test_a_lost_server_shows_disconnected_and_a_new_one_resyncs_without_reload(
    page: Page, runtimes: list[Runtime]
) -> None:
    rt, web = serve(runtimes)
    port = web.port
    count(rt, 5)
    page.page.goto(web.url)
    page.wait_live()
    page.eval("window.__sameDocument = true")

    rt.shutdown("restart")
    page.wait("window.live.connection === 'disconnected'")
    assert page.eval("document.body.dataset.liveConnection") == "disconnected"
    assert page.page.inner_text("#counter") == "5"  # the last value stays, marked stale

    second, _ = serve(runtimes, port)
    count(second, 77)
    page.wait_live()
    page.wait("document.querySelector('#counter').textContent === '77'")
    assert page.eval("window.__sameDocument") is True
    count(second, 78)
    page.wait("document.querySelector('#counter').textContent === '78'")
    # Browsers log failed reconnect attempts as console errors; nothing else may appear.
    unexpected = [
        e for e in page.errors if "socket.io" not in e and "ERR_CONNECTION_REFUSED" not in e
    ]
    assert unexpected == []
