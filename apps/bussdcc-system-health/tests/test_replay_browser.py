"""The dashboard's replay bar in Chromium, at desktop width and at 390 px."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bussdcc import Event
from bussdcc.message import Message
from bussdcc_framework.runtime import ReplayRuntime
from bussdcc_system_health.assembly import AppOptions, build_replay_runtime
from bussdcc_system_health.interfaces import SystemWebInterface
from bussdcc_system_health.replay_control import ReplayControl

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


START = datetime(2026, 1, 1, tzinfo=UTC)


def _wait(page: Any, expression: str) -> None:
    # Polled from here: page.wait_for_function evaluates the string inside the page, which
    # the dashboard's Content-Security-Policy forbids (no unsafe-eval).
    deadline = time.monotonic() + WAIT_MS / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


def recorded(telemetry: Any, seconds: int = 600) -> list[Event[Message]]:
    events: list[Event[Message]] = []
    for i in range(seconds):
        for message in (telemetry.cpu(user=10 + i % 50), telemetry.memory(percent=30 + i % 20)):
            events.append(Event(START + timedelta(seconds=i), message, len(events) + 1))
    return events


@pytest.fixture
def replaying(telemetry: Any, tmp_path: Any) -> Iterator[tuple[ReplayControl, str]]:
    source = recorded(telemetry)
    webs: list[SystemWebInterface] = []

    def build(speed: float) -> ReplayRuntime:
        port = webs[0].port if webs else 0
        rt, web = build_replay_runtime(
            AppOptions(port=port, data_dir=tmp_path, quiet=True), speed, source
        )
        web.replay = control
        webs.append(web)
        return rt

    control = ReplayControl(build, source, speed=1.0, span=(source[0].time, source[-1].time))
    control.pause()
    runner = threading.Thread(target=control.run, daemon=True)
    runner.start()
    while not (webs and webs[-1].running):
        threading.Event().wait(0.01)
    yield control, webs[0].url
    control.stop()
    runner.join(30)


def progress(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "api/replay", timeout=10) as answer:
        result: dict[str, Any] = json.load(answer)
    return result


@pytest.mark.parametrize("width", [1280, 390])
def test_replay_bar_pauses_resumes_changes_speed_and_seeks(
    browser: Any,
    replaying: tuple[ReplayControl, str],
    width: int,
) -> None:
    control, url = replaying
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    toggle = page.locator("#replay-toggle")
    _wait(page, "document.getElementById('replay-toggle').textContent === 'Resume'")
    # The bar fits the width: nothing scrolls sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    toggle.click()
    _wait(page, "document.getElementById('replay-toggle').textContent === 'Pause'")
    assert progress(url)["paused"] is False
    toggle.click()
    _wait(page, "document.getElementById('replay-toggle').textContent === 'Resume'")
    assert progress(url)["paused"] is True

    with page.expect_response(lambda r: r.url.endswith("/api/replay/speed")):
        page.select_option("#replay-speed", "60")
    assert control.speed == 60
    assert progress(url)["speed"] == 60

    # Seek to the middle with the slider: paused, the replay holds there.
    page.locator("#replay-seek").evaluate(
        "el => { el.value = '500'; el.dispatchEvent(new Event('change')); }"
    )
    _wait(
        page,
        "document.getElementById('replay-percent').textContent.startsWith('49.')"
        " || document.getElementById('replay-percent').textContent.startsWith('50.')",
    )
    figures = progress(url)
    assert figures["paused"] is True
    assert 0.49 <= figures["fraction"] <= 0.5
    assert figures["events"] > 0
    assert errors == []
    page.close()
