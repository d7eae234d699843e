"""The dashboard page: rendered from the state snapshot, served fully offline, kept live."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import socketio
from markupsafe import escape

import bussdcc_system_health
from bussdcc_framework.service import identity_record
from bussdcc_system_health.interfaces.web import BOOTSTRAP_CSS, bootstrap_static_folder

TIMEOUT = 10.0
STATIC = Path(bussdcc_system_health.__file__).parent / "static"


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def page(dashboard: Any) -> str:
    status, kind, body = fetch(dashboard.url)
    assert status == 200
    assert kind.startswith("text/html")
    return body.decode()


def test_first_load_renders_the_current_state_server_side(dashboard: Any, telemetry: Any) -> None:
    rt = dashboard.runtime
    telemetry.publish_identity(rt, "pi-lab-07")
    rt.emit(telemetry.cpu(user=42.5, system=7.25, iowait=1.5))
    rt.emit(telemetry.memory(percent=61.0))
    rt.emit(telemetry.disks(percent=73.5))
    rt.emit(telemetry.load(load1=1.75))
    rt.emit(telemetry.network(rx=3 * 1024 * 1024, tx=512.0, name="wlan0"))
    rt.emit(telemetry.temperature(57.3))
    rt.emit(telemetry.throttling(under_voltage_now=True))

    html = page(dashboard)

    assert re.search(r'id="cpu-user">42\.5 %<', html)
    assert re.search(r'id="cpu-system">7\.2 %<', html)  # 7.25 rounds half to even
    assert re.search(r'id="mem-percent">61\.0 %<', html)
    assert "73.5 %" in html and "/dev/mmcblk0p2" in html
    assert re.search(r'id="load1">1\.75<', html)
    assert "wlan0" in html and "3.0 MiB/s" in html
    assert "57.3 °C" in html
    assert "Under-voltage" in html and "text-bg-danger" in html
    assert "pi-lab-07" in html and "Raspberry Pi 4 Model B" in html
    health = rt.ctx.state.get("system.health")
    assert health["status"] in ("warning", "critical")  # under-voltage now
    assert re.search(rf'id="health-status"[^>]*>{health["status"]}<', html)
    assert health["reasons"]
    for reason in health["reasons"]:
        assert escape(reason) in html


def test_disk_io_wear_fans_processes_and_uptime_render_server_side(
    dashboard: Any, telemetry: Any
) -> None:
    rt = dashboard.runtime
    ident = telemetry.identity()
    booted = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    rt.ctx.state.set("system.identity", identity_record(replace(ident, boot_time=booted)))
    rt.emit(telemetry.cpu(cores=8))
    rt.ctx.state.set("system.cpu.usage.time", "2026-01-04T08:30:59+00:00")
    rt.emit(telemetry.disk_io(read=2048.0, write=3 * 1024 * 1024, busy=42.0))
    rt.emit(telemetry.disks())
    rt.emit(telemetry.wear(0x02, life_a=0x0B))
    rt.emit(telemetry.fans(2950))
    rt.emit(telemetry.load(processes=231))

    html = page(dashboard)

    assert re.search(r'id="dio-write">3\.0 MiB/s<', html)
    devices = html[html.index('id="dio-devices"') :]
    assert "mmcblk0p2" in devices and "42.0 %" in devices
    assert html.count('class="core"') == 8
    wear_html = html[html.index('id="wear"') : html.index("</div>", html.index('id="wear"'))]
    wear = " ".join(re.sub(r"<[^>]+>", " ", wear_html).split())
    assert "exceeded (A) · 0-10 % (B) · pre-EOL warning" in wear
    # Coloured as health judges it: life used past its critical 100 %, pre-EOL warning.
    assert '<span class="text-danger">exceeded</span>' in wear_html
    assert 'badge text-bg-warning">warning<' in wear_html
    assert "2950 RPM" in html
    assert re.search(r'id="load-processes">231<', html)
    assert re.search(r'data-identity="uptime">3 d 2 h 30 min<', html)


def test_unavailable_readings_are_shown_as_unavailable(dashboard: Any, telemetry: Any) -> None:
    dashboard.runtime.emit(telemetry.temperature(None))
    dashboard.runtime.emit(telemetry.throttling(None))

    html = page(dashboard)

    temps = html[html.index('id="temps"') : html.index('id="throttling"')]
    assert "unavailable" in temps and "no temperature sensors found" in temps
    throttling = html[html.index('id="throttling"') :]
    assert "unavailable" in throttling and "no Raspberry Pi firmware interface" in throttling


def test_empty_state_renders_placeholders(dashboard: Any) -> None:
    html = page(dashboard)
    assert re.search(r'id="health-status"[^>]*>unknown<', html)
    assert "Waiting for telemetry" in html
    assert "No filesystems reported yet." in html


def test_the_page_embeds_the_snapshot_it_was_rendered_from(dashboard: Any, telemetry: Any) -> None:
    telemetry.emit_all(dashboard.runtime)
    html = page(dashboard)
    assert f'"seq": {dashboard.runtime.events.last_seq}' in html or (
        f'"seq":{dashboard.runtime.events.last_seq}' in html
    )


def test_nothing_is_loaded_from_another_host(dashboard: Any) -> None:
    html = page(dashboard)

    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    for source in sources:
        assert source.startswith(("/", "data:")), source
    # Every referenced asset is served by the app itself.
    for source in sources:
        if source.startswith("/"):
            status, _, body = fetch(dashboard.url.rstrip("/") + source)
            assert status == 200 and body, source
    assert any("bootstrap" in s and s.endswith(".css") for s in sources)
    assert any(s.endswith("socket.io.min.js") for s in sources)
    assert any(s.endswith("live.js") for s in sources)
    assert any(s.endswith("chart.umd.min.js") for s in sources)


def test_bootstrap_5_is_served_from_the_bootstrap_flask_package(dashboard: Any) -> None:
    html = page(dashboard)
    (href,) = re.findall(r'href="(/bootstrap/[^"]+\.css)"', html)
    status, kind, body = fetch(dashboard.url.rstrip("/") + href)
    assert status == 200 and kind.startswith("text/css")
    assert body == (bootstrap_static_folder() / BOOTSTRAP_CSS).read_bytes()
    assert re.search(rb"Bootstrap\s+v5\.", body[:300])
    assert "flask_bootstrap" in bootstrap_static_folder().parts


def test_the_dashboard_does_not_load_bootstrap_flasks_form_helpers() -> None:
    # The Bootstrap5 extension would import WTForms, about 0.7 MB kept resident for macros
    # the dashboard never calls; the app must build and serve without it.
    code = (
        "import sys\n"
        "from bussdcc_system_health.interfaces import SystemWebInterface\n"
        "app = SystemWebInterface(port=0).create_app()\n"
        "client = app.test_client()\n"
        "assert client.get('/bootstrap/static/' + app.jinja_env.globals['bootstrap_css'])"
        ".status_code == 200\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(roots & {'wtforms', 'flask_bootstrap'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_vendored_libraries_ship_with_their_licences() -> None:
    text = (STATIC / "vendor" / "chart.js" / "LICENSE.md").read_text()
    assert "MIT License" in text


def test_the_socketio_client_comes_from_the_framework(dashboard: Any) -> None:
    html = page(dashboard)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    # The framework's live client and the Socket.IO client it runs on, before the page's own.
    assert scripts[:2] == ["/bussdcc/static/socket.io.min.js", "/bussdcc/static/live.js"]
    assert scripts[-1].endswith("dashboard/dashboard.js")
    assert not (STATIC / "vendor" / "socket.io").exists()


def test_no_inline_script_runs_on_the_page(dashboard: Any) -> None:
    html = page(dashboard)
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
        assert "src=" not in attributes or not body.strip()


def test_bars_and_readings_are_coloured_by_the_health_thresholds(
    dashboard: Any, telemetry: Any
) -> None:
    rt = dashboard.runtime
    rt.emit(telemetry.disks(percent=92.0))  # health: warning at 90, critical at 95
    rt.emit(telemetry.memory(percent=96.0))  # critical
    rt.emit(telemetry.temperature(72.0))  # warning at 70

    html = page(dashboard)

    health = rt.ctx.state.get("system.health")
    assert "disk / used 92.0% (warning at 90%)" in health["reasons"]
    disks = html[html.index('id="disks"') : html.index('id="temps"')]
    assert "progress-bar bg-warning" in disks and "bg-danger" not in disks
    memory = html[html.index('id="mem-percent"') : html.index('id="swap-percent"')]
    assert "progress-bar bg-danger" in memory
    temps = html[html.index('id="temps"') : html.index('id="throttling"')]
    assert "text-warning" in temps and "72.0 °C" in temps


def test_the_thresholds_are_the_ones_the_interface_is_given(telemetry: Any) -> None:
    from bussdcc.runtime import Runtime
    from bussdcc_system_health.interfaces import SystemWebInterface
    from bussdcc_system_health.processes import HealthProcess, SystemProcess
    from bussdcc_system_health.telemetry.health import HealthThresholds, Threshold

    strict = HealthThresholds(disk_percent=Threshold(20.0, 25.0))
    rt = Runtime()
    rt.register_process(SystemProcess())
    rt.register_process(HealthProcess(strict))
    web = SystemWebInterface(port=0, thresholds=strict)
    rt.register_interface(web)
    rt.boot()
    try:
        rt.emit(telemetry.disks(percent=30.0))
        html = page(web)
        disks = html[html.index('id="disks"') :]
        assert "progress-bar bg-danger" in disks[: disks.index("</div>\n  </div>")]
        assert rt.ctx.state.get("system.health")["status"] == "critical"
    finally:
        rt.shutdown("test over")


def test_live_events_carry_the_views_and_derived_state_they_changed(
    dashboard: Any, telemetry: Any
) -> None:
    records: list[dict[str, Any]] = []
    snapshot = threading.Event()
    cond = threading.Condition()
    client = socketio.Client(reconnection=False)
    client.on("snapshot", lambda data: snapshot.set())

    def on_events(batch: list[dict[str, Any]]) -> None:
        with cond:
            records.extend(batch)
            cond.notify_all()

    client.on("events", on_events)
    client.connect(dashboard.url, transports=["websocket"], wait_timeout=TIMEOUT)
    try:
        assert snapshot.wait(TIMEOUT)
        telemetry.emit_all(dashboard.runtime, memory_percent=99.0)
        with cond:
            assert cond.wait_for(
                lambda: any(
                    r["name"] == "system.health.changed" and r["data"]["status"] == "critical"
                    for r in records
                ),
                TIMEOUT,
            )
    finally:
        client.disconnect()

    by_name = {r["name"]: r for r in records}  # the last of each name
    assert by_name["system.cpu.usage.updated"]["data"]["user"] == 10.0
    for record in records:  # telemetry is in the events' data, not repeated as state
        assert set(record.get("state", {})) <= {"system.health", "system.identity"}
    # Health is derived by HealthProcess: the page learns it from the state patch.
    health_patches = [
        r["state"]["system.health"] for r in records if "system.health" in r.get("state", {})
    ]
    assert health_patches[-1]["status"] == "critical"
    assert by_name["system.health.changed"]["data"]["status"] == "critical"
    # The cards come rendered: the page swaps them in and formats nothing itself.
    cpu_views = by_name["system.cpu.usage.updated"]["views"]
    assert re.search(r'id="cpu-user">10\.0 %<', cpu_views["cpu"])
    assert cpu_views["cpu-chart"]["columns"]["user"] == [10.0]  # the newest sample only
    memory_views = by_name["system.memory.usage.updated"]["views"]
    assert re.search(r'id="mem-percent">99\.0 %<', memory_views["memory"])
    assert "critical" in memory_views["health"]


def test_a_card_is_rendered_again_only_when_what_it_shows_changed(telemetry: Any) -> None:
    from bussdcc_system_health.interfaces import SystemWebInterface
    from bussdcc_system_health.interfaces.cards import CardViews

    web = SystemWebInterface(port=0)
    views = CardViews(web.create_app().jinja_env)
    load = {**telemetry.load(load1=1.0).to_dict(), "time": "2026-01-01T00:00:00Z"}
    cpu = {**telemetry.cpu().to_dict(), "time": "2026-01-01T00:00:00Z"}
    values = {"system.load": load, "system.cpu.usage": cpu}

    first = views.render(values, False)
    later = {path: {**record, "time": "2026-01-01T00:00:01Z"} for path, record in values.items()}
    second = views.render(later, False)
    changed = {"system.load": {**load, "load1": 2.0}}
    third = views.render(changed, False)

    assert {"load", "cpu", "cpu-cores", "updated-at"} <= set(first)
    assert "load" not in second  # only its time changed, which the card does not show
    assert "updated-at" in second and "00:00:01" in second["updated-at"]  # the cpu card does
    assert "2.00" in third["load"]
    assert "load" in views.render(later, True)  # a snapshot renders all
    assert "load" not in views.render(later, False)
    views.forget()
    assert "load" in views.render(later, False)  # forgotten: rendered at its next change


def test_a_card_of_several_records_renders_with_the_latest_of_each(telemetry: Any) -> None:
    from bussdcc_system_health.interfaces import SystemWebInterface
    from bussdcc_system_health.interfaces.cards import CardViews

    web = SystemWebInterface(port=0)
    views = CardViews(web.create_app().jinja_env)
    disks = {**telemetry.disks(percent=73.5).to_dict(), "time": "2026-01-01T00:00:00Z"}
    wear = {**telemetry.wear(0x03).to_dict(), "time": "2026-01-01T00:00:00Z"}
    identity = identity_record(
        replace(telemetry.identity(), boot_time=datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    )

    def cpu(at: str) -> dict[str, Any]:
        return {"system.cpu.usage": {**telemetry.cpu().to_dict(), "time": at}}

    views.render({"system.disk.usage": disks, "system.identity": identity}, False)
    after_wear = views.render({"system.storage.wear": wear}, False)
    assert "73.5 %" in after_wear["disks"] and "urgent" in after_wear["disks"]

    # The host card's uptime runs to the CPU record's time, rendered again once a minute.
    assert "1 h 0 min" in views.render(cpu("2026-01-01T01:00:00+00:00"), False)["identity"]
    assert "identity" not in views.render(cpu("2026-01-01T01:00:59+00:00"), False)
    assert "1 h 1 min" in views.render(cpu("2026-01-01T01:01:00+00:00"), False)["identity"]
    assert "disks" not in views.render(cpu("2026-01-01T01:01:01+00:00"), False)


def test_uptime_and_wear_formats() -> None:
    from bussdcc_system_health.interfaces.cards import MISSING, fmt_uptime, fmt_wear

    boot = "2026-01-01T06:00:00Z"
    assert fmt_uptime(boot, "2026-01-04T08:30:59+00:00") == "3 d 2 h 30 min"
    assert fmt_uptime(boot, "2026-01-01T06:59:59+00:00") == "0 h 59 min"
    assert fmt_uptime(boot, "2026-01-01T05:59:59+00:00") == MISSING  # clock went back
    assert fmt_uptime(None, boot) == MISSING and fmt_uptime(boot, "soon") == MISSING
    assert fmt_wear({"raw": 2, "used_min": 10, "used_max": 20, "exceeded": False}) == "10-20 %"
    assert fmt_wear({"raw": 11, "used_min": 100, "used_max": None, "exceeded": True}) == (
        "exceeded"
    )
    assert fmt_wear({"raw": 0, "used_min": None, "used_max": None}) == MISSING
    assert fmt_wear(None) == MISSING
