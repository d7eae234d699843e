"""The dashboard in headless Chromium: live updates, gap resync, the stale state, recovery.

Chromium comes from the system (``/usr/bin/chromium``); ``playwright install`` is not used.
Without it these tests skip -- except under CI (``CI=true``), where a skip would hide a
missing feature, so they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

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
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )

    def wait(self, expression: str, arg: Any = None) -> None:
        self.page.wait_for_function(expression, arg=arg, timeout=WAIT_MS)

    def text(self, selector: str) -> str:
        result: str = self.page.locator(selector).inner_text()
        return result

    def wait_text(self, selector: str, expected: str) -> None:
        self.wait(
            "([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
            [selector, expected],
        )

    def wait_live(self) -> None:
        self.wait("window.dashboard && window.dashboard.connection === 'live'")


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    made = Page(browser)
    yield made
    made.page.close()


def test_live_values_change_as_events_are_emitted(
    page: Page, dashboard: Any, telemetry: Any
) -> None:
    rt = dashboard.runtime
    telemetry.publish_identity(rt, "pi-lab-07")
    telemetry.emit_all(rt, cpu_user=10.0)
    page.page.goto(dashboard.url)
    assert page.text("#cpu-user") == "10.0 %"  # rendered by the server, before any push
    page.wait_live()

    rt.emit(telemetry.cpu(user=42.5))
    page.wait_text("#cpu-user", "42.5 %")
    rt.emit(telemetry.network(rx=5 * 1024 * 1024, tx=0.0, name="wlan0"))
    page.wait_text("#net-rx", "5.0 MiB/s")
    assert "wlan0" in page.text("#net-interfaces")
    rt.emit(telemetry.memory(percent=99.0))  # HealthProcess turns this critical
    page.wait_text("#health-status", "critical")
    assert "memory" in page.text("#health-reasons").lower()
    rt.emit(telemetry.temperature(None))
    page.wait("document.querySelector('#temps').textContent.includes('unavailable')")

    # The charts plot the server's history: two CPU samples, two network samples, fed raw
    # numbers and labels by the server (a snapshot first, then each new sample).
    charts = page.page.evaluate("window.dashboard.charts()")
    cpu = rt.state.get("system.history.cpu")
    assert charts["cpu-chart"]["user"] == list(cpu["user"]) == [10.0, 42.5]
    assert charts["cpu-chart"]["iowait"] == list(cpu["iowait"])
    assert charts["cpu-chart"]["labels"] == [t[11:19] for t in cpu["t"]]
    network = rt.state.get("system.history.network")
    assert charts["network-chart"]["rx"] == list(network["rx"])
    assert len(charts["network-chart"]["labels"]) == 2
    assert page.text("#nav-host") == "pi-lab-07"
    assert page.page.evaluate("window.dashboard.stats.resyncs") == 0
    assert page.errors == []


LIVE_VIEWS = """() => Object.fromEntries([...document.querySelectorAll('[data-live-view]')]
    .map((el) => [el.dataset.liveView, el.innerText.trim()]))"""


def test_live_updates_end_where_a_freshly_rendered_page_starts(
    browser: Any, page: Page, dashboard: Any, telemetry: Any
) -> None:
    rt = dashboard.runtime
    page.page.goto(dashboard.url)  # before any telemetry: every card is a placeholder
    page.wait_live()

    telemetry.publish_identity(rt, "pi-lab-07")
    telemetry.emit_all(rt, cpu_user=12.5, memory_percent=88.0)
    rt.emit(telemetry.disks(percent=92.0))
    rt.emit(telemetry.network(rx=3 * 1024 * 1024, tx=512.0, name="wlan0"))
    rt.emit(telemetry.temperature(72.5))
    rt.emit(telemetry.throttling(under_voltage_now=True))
    rt.emit(telemetry.disk_io(read=2048.0, write=3 * 1024 * 1024, busy=42.0))
    rt.emit(telemetry.wear(0x02, life_a=0x0B))
    rt.emit(telemetry.fans(2950))
    rt.emit(telemetry.load(processes=231))
    last = rt.emit(telemetry.cpu(user=33.0, cores=8))
    page.wait("(seq) => window.dashboard.seq === seq", last.seq)
    updated = page.page.evaluate(LIVE_VIEWS)

    fresh = Page(browser)
    try:
        fresh.page.goto(dashboard.url)
        rendered = fresh.page.evaluate(LIVE_VIEWS)  # the server's first paint, no live data
        same_markup = page.page.evaluate(
            "() => [...document.querySelectorAll('#cards [data-live-view]')].map(e => e.innerHTML)"
        ) == fresh.page.evaluate(
            "() => [...document.querySelectorAll('#cards [data-live-view]')].map(e => e.innerHTML)"
        )
    finally:
        fresh.page.close()

    assert set(updated) >= {
        "health", "cpu", "cpu-cores", "memory", "disks", "diskio", "diskio-totals", "network",
        "temperature", "load", "identity",
    }  # fmt: skip
    assert updated == rendered
    assert same_markup  # classes (bar colours, health colours) included
    assert "33.0 %" in updated["cpu"] and "92.0 %" in updated["disks"]
    assert "8 cores" in updated["cpu-cores"] and "3.0 MiB/s" in updated["diskio-totals"]
    assert "mmcblk0p2" in updated["diskio"] and "42.0 %" in updated["diskio"]
    assert "exceeded (A)" in updated["disks"] and "2950 RPM" in updated["temperature"]
    assert "231 processes" in updated["load"] and "Uptime" in updated["identity"]
    assert "critical" in updated["health"]
    assert page.errors == []


def test_a_gap_in_the_event_stream_triggers_a_resync(
    page: Page, dashboard: Any, telemetry: Any
) -> None:
    rt, web = dashboard.runtime, dashboard.web
    page.page.goto(dashboard.url)
    page.wait_live()

    # Lose one event on the way to the browser, as a full send queue would.
    real_emit = web.socketio.emit
    lost: list[int] = []

    def lossy_emit(event: str, records: Any, **kwargs: Any) -> Any:
        if event == "events" and not lost:
            for record in records:
                if record["name"] == "system.cpu.usage.updated":
                    lost.append(record["seq"])
            records = [r for r in records if r["seq"] not in lost]
            if not records:
                return None
        return real_emit(event, records, **kwargs)

    web.socketio.emit = lossy_emit
    rt.emit(telemetry.cpu(user=61.0))  # lost
    rt.emit(telemetry.load(load1=2.5))  # arrives, names the lost event as its predecessor

    page.wait("window.dashboard.stats.resyncs >= 1 && window.dashboard.connection === 'live'")
    page.wait_text("#cpu-user", "61.0 %")  # recovered from the fresh snapshot
    page.wait_text("#load1", "2.50")
    assert lost
    assert page.errors == []


def test_disconnect_shows_stale_state_and_a_restart_recovers_without_reload(
    page: Page, start_dashboard: Any, telemetry: Any
) -> None:
    first = start_dashboard(0)
    port = first.web.port
    telemetry.emit_all(first.runtime, cpu_user=12.0)
    page.page.goto(first.url)
    page.wait_live()
    assert page.page.locator("#stale-banner").is_hidden()
    page.page.evaluate("window.__sameDocument = true")

    first.runtime.shutdown("restart")
    page.wait("window.dashboard.connection === 'disconnected'")
    assert page.page.locator("#stale-banner").is_visible()
    assert "disconnected" in page.text("#conn-badge") or "reconnecting" in page.text("#conn-badge")
    assert page.text("#cpu-user") == "12.0 %"  # the last values stay, marked stale

    second = start_dashboard(port)  # the same port, a fresh runtime with new values
    telemetry.emit_all(second.runtime, cpu_user=77.0)
    page.wait_live()
    page.wait_text("#cpu-user", "77.0 %")
    assert page.page.locator("#stale-banner").is_hidden()
    assert page.page.evaluate("window.__sameDocument") is True  # no reload happened
    # Updates keep flowing after the recovery.
    second.runtime.emit(telemetry.cpu(user=5.0))
    page.wait_text("#cpu-user", "5.0 %")
    # Browsers log failed reconnect attempts as console errors; nothing else may appear.
    unexpected = [
        e for e in page.errors if "socket.io" not in e and "ERR_CONNECTION_REFUSED" not in e
    ]
    assert unexpected == []
    assert not [e for e in page.errors if e.startswith("pageerror")]


def test_disk_io_per_core_cpu_wear_and_fans_stay_live_at_phone_width(
    page: Page, dashboard: Any, telemetry: Any
) -> None:
    rt = dashboard.runtime
    page.page.set_viewport_size({"width": 390, "height": 900})
    rt.emit(telemetry.cpu(cores=4))
    rt.emit(telemetry.disk_io(write=1024 * 1024))
    rt.emit(telemetry.disks())
    rt.emit(telemetry.temperature())
    page.page.goto(dashboard.url)
    assert page.text("#dio-write") == "1.0 MiB/s"  # rendered by the server
    page.wait_live()

    rt.emit(telemetry.cpu(cores=64))
    page.wait("document.querySelectorAll('#cpu-cores .core').length === 64")
    strip = page.page.locator("#cpu-cores").bounding_box()
    cells = page.page.locator("#cpu-cores .core")
    first, last = cells.nth(0).bounding_box(), cells.nth(63).bounding_box()
    assert strip is not None and first is not None and last is not None
    assert strip["x"] + strip["width"] <= 390, "the strip fits the phone's width"
    assert first["width"] >= 12, "each core's bar stays wide enough to read"
    assert round((last["y"] - first["y"]) / first["height"]) >= 3, "16 to a row: 4 rows"
    busiest = page.page.evaluate(
        "document.querySelector('#cpu-cores .core:last-child .core-fill').style.height"
    )
    assert busiest == "100%"

    rt.emit(telemetry.disk_io(read=3 * 1024 * 1024, write=0.0, busy=87.5))
    page.wait_text("#dio-read", "3.0 MiB/s")
    assert "87.5 %" in page.text("#dio-devices") and "mmcblk0p2" in page.text("#dio-devices")
    rt.emit(telemetry.wear(0x03))
    page.wait("document.querySelector('#wear')?.textContent.includes('urgent')")
    page.wait_text("#health-status", "critical")
    rt.emit(telemetry.fans(1800))
    page.wait("document.querySelector('#fans')?.textContent.includes('1800 RPM')")
    rt.emit(telemetry.load())
    page.wait_text("#load-processes", "180")

    # The disk I/O chart plots the server's history, fed raw numbers and the axis unit.
    chart = page.page.evaluate("window.dashboard.charts()['disk-io-chart']")
    history = rt.state.get("system.history.disk_io")
    assert chart["write"] == list(history["write"]) == [1024 * 1024, 0.0]
    assert chart["read"] == list(history["read"])
    assert chart["labels"] == [t[11:19] for t in history["t"]]
    assert page.errors == []
