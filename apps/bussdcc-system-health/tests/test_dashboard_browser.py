"""The dashboard in headless Chromium: live updates, gap resync, the stale state, recovery.

Chromium comes from the system (``/usr/bin/chromium``); ``playwright install`` is not used.
Without it these tests skip -- except under CI (``CI=true``), where a skip would hide a
missing feature, so they fail instead.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bussdcc_framework.testing import headless_chromium, wait_in_page

pytestmark = pytest.mark.browser

WAIT_MS = 20_000  # reconnect backoff tops out at 5 s; leave room on a busy machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium() as launched:
        yield launched


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
        wait_in_page(self.page, expression, arg, timeout=WAIT_MS / 1000)

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
    # Fill heights come from stylesheet classes (the CSP refuses style attributes): the
    # busiest core's fill is as tall as its cell.
    busiest = page.page.evaluate(
        """() => { const fill = document.querySelector('#cpu-cores .core:last-child .core-fill');
                   return fill.getBoundingClientRect().height
                        / fill.parentElement.getBoundingClientRect().height; }"""
    )
    assert abs(busiest - 1.0) < 0.02

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
    # ... and has the range selector of the history charts, drawing the devices' rates.
    assert page.page.evaluate("window.dashboard.chart('disk-io-chart').live") is True
    assert page.errors == []


# --- history: range selector, zoom, marks -------------------------------------------------


@pytest.fixture
def history_dashboard(tmp_path: Any, telemetry: Any) -> Iterator[Any]:
    """A dashboard whose /api/history holds 8 days of rollups ending now, with a health
    change 30 minutes ago and an under-voltage 40 minutes ago."""
    from pathlib import Path

    from bussdcc_system_health.history import RollupBuilder, RollupReader, RollupStore
    from bussdcc_system_health.message import (
        CoreUsage,
        HealthChanged,
        ThrottleFlags,
        ThrottlingUpdated,
    )
    from bussdcc_system_health.testing import start_dashboard

    path = Path(tmp_path) / "rollups.sqlite3"
    store = RollupStore.create(path)
    builder = RollupBuilder(store)
    now = time.time()
    t = now - 8 * 86400
    cores = (CoreUsage(0, 20.0, 5.0, 0.0, 75.0, 25.0), CoreUsage(1, 60.0, 5.0, 0.0, 35.0, 65.0))
    cpu = dataclasses.replace(telemetry.cpu(user=30.0, system=5.0, iowait=1.0), cores=cores)
    while t < now:
        step = 600 if t < now - 86400 else 10
        builder.ingest(t, cpu)
        builder.ingest(t, telemetry.memory(percent=50.0))
        builder.ingest(t, telemetry.temperature(51.0))
        t += step
    builder.ingest(now - 1800, HealthChanged(previous="ok", status="warning", reasons=("cpu",)))
    flags = ThrottleFlags(True, False, False, False)
    builder.ingest(now - 2400, ThrottlingUpdated(True, 0x10001, flags, flags, "test"))
    assert builder.close()
    store.close()
    app = start_dashboard(0, RollupReader(path))
    yield app
    app.runtime.shutdown("test over")


def _history_calls(page: Page) -> list[str]:
    calls: list[str] = []
    page.page.on("request", lambda r: calls.append(r.url) if "/api/history?" in r.url else None)
    return calls


@pytest.mark.parametrize("width", [1280, 390])
def test_a_range_draws_the_history_and_its_marks(
    browser: Any, history_dashboard: Any, telemetry: Any, width: int
) -> None:
    from urllib.parse import parse_qs, urlparse

    page = Page(browser)
    page.page.set_viewport_size({"width": width, "height": 900})
    calls = _history_calls(page)
    telemetry.emit_all(history_dashboard.runtime)
    page.page.goto(history_dashboard.url)
    page.wait_live()
    assert page.page.evaluate("window.dashboard.chart('cpu-chart').live") is True

    page.page.locator('[data-chart-tools="cpu-chart"] [data-range="3600"]').click()
    page.wait("window.dashboard.chart('cpu-chart').times.length > 100")
    cpu = page.page.evaluate("window.dashboard.chart('cpu-chart')")
    query = parse_qs(urlparse(cpu["query"]).query)
    assert query["series"] == ["cpu.user", "cpu.system", "cpu.iowait"]
    assert query["points"] == ["300"]
    from datetime import datetime

    span = datetime.fromisoformat(query["end"][0]) - datetime.fromisoformat(query["start"][0])
    assert span.total_seconds() == 3600
    assert any("series=cpu.user" in url for url in calls)
    assert set(cpu["data"]["cpu.user"]) - {None} == {30.0}
    assert cpu["live"] is False
    names = sorted(mark["name"] for mark in cpu["marks"])
    assert names == ["system.health.changed", "system.throttling.changed"]
    assert "2 marks" in cpu["status"]

    # Seven days of temperature come from a coarser tier, one point per 40 minutes.
    page.page.locator('[data-chart-tools="temperature-chart"] [data-range="604800"]').click()
    page.wait(
        "window.dashboard.chart('temperature-chart').range === '604800' && "
        "window.dashboard.chart('temperature-chart').times.length > 50"
    )
    temperature = page.page.evaluate("window.dashboard.chart('temperature-chart')")
    assert list(temperature["data"]) == ["temperature.cpu_thermal"]
    assert set(temperature["data"]["temperature.cpu_thermal"]) - {None} == {51.0}
    assert 50 < len(temperature["times"]) <= 300

    # Back to live: the pushed samples again, no further history query for the CPU.
    page.page.locator('[data-chart-tools="cpu-chart"] [data-range="live"]').click()
    assert page.page.evaluate("window.dashboard.chart('cpu-chart').live") is True
    assert page.errors == []
    page.page.close()


def test_dragging_across_a_chart_zooms_into_that_stretch(
    browser: Any, history_dashboard: Any
) -> None:
    page = Page(browser)
    page.page.goto(history_dashboard.url)
    page.wait_live()
    page.page.locator('[data-chart-tools="memory-chart"] [data-range="86400"]').click()
    page.wait(
        "window.dashboard.chart('memory-chart').range === '86400' && "
        "window.dashboard.chart('memory-chart').times.length > 100"
    )
    before = page.page.evaluate("window.dashboard.chart('memory-chart')")
    canvas = page.page.locator("canvas[data-chart='memory-chart']")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)
    page.page.mouse.up()
    page.wait("window.dashboard.chart('memory-chart').zoom !== null")
    page.wait("!window.dashboard.chart('memory-chart').status.startsWith('loading')")
    after = page.page.evaluate("window.dashboard.chart('memory-chart')")
    start, end = after["zoom"]
    assert before["times"][0] < start < end <= before["times"][-1] + 600_000
    assert end - start < 0.5 * (before["times"][-1] - before["times"][0])
    # The points lie in the zoomed stretch (the first bucket may start up to a step earlier)
    # and come at a finer step than the whole day's.
    assert after["times"][0] >= start - after["step"] * 1000
    assert after["times"][-1] < end
    assert after["step"] < before["step"]
    assert page.page.locator("[data-chart-tools='memory-chart'] [data-zoom-reset]").is_visible()
    page.page.locator("[data-chart-tools='memory-chart'] [data-zoom-reset]").click()
    page.wait("window.dashboard.chart('memory-chart').zoom === null")
    assert page.errors == []
    page.page.close()


def test_per_core_cpu_draws_each_core_from_history(browser: Any, history_dashboard: Any) -> None:
    page = Page(browser)
    page.page.goto(history_dashboard.url)
    page.wait_live()
    page.page.locator("[data-chart-tools='cpu-chart'] [data-per-core]").check()
    page.wait(
        "window.dashboard.chart('cpu-chart').perCore && "
        "window.dashboard.chart('cpu-chart').times.length > 0"
    )
    cpu = page.page.evaluate("window.dashboard.chart('cpu-chart')")
    assert list(cpu["data"]) == ["cpu.core.0.busy", "cpu.core.1.busy"]
    assert set(cpu["data"]["cpu.core.1.busy"]) - {None} == {65.0}
    assert "series=cpu.core.0.busy" in cpu["query"]
    assert page.errors == []
    page.page.close()


def test_the_dashboard_runs_under_its_content_security_policy(
    page: Page, dashboard: Any, telemetry: Any
) -> None:
    rt = dashboard.runtime
    telemetry.emit_all(rt, cpu_user=10.0)
    response = page.page.goto(dashboard.url)
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    page.wait_live()
    rt.emit(telemetry.memory(percent=60.0))
    page.wait_text("#mem-percent", "60.0 %")
    # Bar widths come from stylesheet classes (inline styles would be refused): the memory
    # bar is drawn at 60 % of its track.
    ratio = page.page.evaluate(
        """() => { const bar = document.querySelector('#mem-bar .progress-bar');
                   return bar.getBoundingClientRect().width
                        / bar.parentElement.getBoundingClientRect().width; }"""
    )
    assert abs(ratio - 0.6) < 0.02
    # Any inline script, style or remote load would show here as a CSP console error.
    assert page.errors == []


def test_the_token_url_logs_a_browser_in_with_an_http_only_cookie(
    page: Page, telemetry: Any
) -> None:
    from bussdcc import Runtime
    from bussdcc_system_health.interfaces import SystemWebInterface
    from bussdcc_system_health.processes import HealthProcess, SystemProcess

    token = "browser-token-0123456789abcdef"
    rt = Runtime()
    rt.register_process(SystemProcess())
    rt.register_process(HealthProcess())
    web = SystemWebInterface(port=0, token=token)
    rt.register_interface(web)
    rt.boot()
    try:
        telemetry.emit_all(rt, cpu_user=10.0)
        page.page.goto(f"{web.url}?token={token}")
        assert page.page.url == web.url  # the token left the address bar
        page.wait_live()  # the Socket.IO handshake carried the cookie
        rt.emit(telemetry.cpu(user=33.0))
        page.wait_text("#cpu-user", "33.0 %")
        assert page.page.evaluate("document.cookie") == ""  # HttpOnly: no script sees it
        assert page.errors == []
        # Without the cookie, nothing is served.
        fresh = page.page.context.browser.new_page()
        try:
            response = fresh.goto(web.url)
            assert response is not None and response.status == 401
        finally:
            fresh.close()
    finally:
        rt.shutdown()
