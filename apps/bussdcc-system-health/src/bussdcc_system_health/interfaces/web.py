"""`SystemWebInterface`: the dashboard page, `/api/state` and `/api/health`."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template

from bussdcc.context import ContextProtocol
from bussdcc.message import Message
from bussdcc_framework.interface.web import WebInterface
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.service import IDENTITY_STATE

from ..message import (
    CollectorFailed,
    CpuUsageUpdated,
    DiskIoUpdated,
    DiskUsageUpdated,
    FanSpeedUpdated,
    HealthChanged,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    StorageWearUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..processes import CPU_HISTORY, DISK_IO_HISTORY, HEALTH_STATE, NETWORK_HISTORY, STATE_PATHS
from ..telemetry.history import DEFAULT_HISTORY_LIMIT
from ..version import __version__

__all__ = ["DASHBOARD_PORT", "SystemWebInterface", "health_record"]

DASHBOARD_PORT = 8086

MISSING = "\u2013"
"""What a value not reported yet renders as (an en dash, as the page's script shows it)."""

PUSHED: tuple[type[Message], ...] = (
    *STATE_PATHS,
    HealthChanged,
    CollectorFailed,
    SystemIdentityEvent,
)
"""The events the dashboard receives live."""

WATCHED: tuple[str, ...] = (*STATE_PATHS.values(), HEALTH_STATE, IDENTITY_STATE)
"""State the processes derive from those events, sent along with them (histories excepted:
the page appends each sample itself, rather than receiving the whole list every second)."""

_UNKNOWN_HEALTH: dict[str, Any] = {"status": "unknown", "reasons": [], "notes": [], "since": None}


def _at(state: Any, path: str) -> Any:
    """The value at a dot path in a state snapshot, or None where the path is absent."""
    node = state
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def health_record(state: dict[str, Any]) -> dict[str, Any]:
    """``system.health`` from a state snapshot, or status ``"unknown"`` before the first
    assessment (no telemetry yet)."""
    health = _at(state, HEALTH_STATE)
    return {**_UNKNOWN_HEALTH, **health} if isinstance(health, dict) else dict(_UNKNOWN_HEALTH)


CARDS = (
    "health",
    "identity",
    "cpu",
    "network",
    "memory",
    "load",
    "disks",
    "diskio",
    "temperature",
    "throttling",
)
"""The dashboard's cards in page order (``templates/cards/<name>.html``)."""

CARD_RECORDS = {
    "cpu": STATE_PATHS[CpuUsageUpdated],
    "mem": STATE_PATHS[MemoryUsageUpdated],
    "disk": STATE_PATHS[DiskUsageUpdated],
    "load": STATE_PATHS[LoadAverageUpdated],
    "temp": STATE_PATHS[TemperatureUpdated],
    "net": STATE_PATHS[NetworkUsageUpdated],
    "thr": STATE_PATHS[ThrottlingUpdated],
    "dio": STATE_PATHS[DiskIoUpdated],
    "wear": STATE_PATHS[StorageWearUpdated],
    "fans": STATE_PATHS[FanSpeedUpdated],
    "ident": IDENTITY_STATE,
}
"""The state records the cards render, by the template variable that holds each."""

HEALTH_CLASS = {"ok": "success", "warning": "warning", "critical": "danger"}
"""Bootstrap's contextual colour for each health status."""


def _fmt_bytes(value: Any, suffix: str = "") -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return MISSING
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}{suffix}" if unit == "B" else f"{size:.1f} {unit}{suffix}"
        size /= 1024
    raise AssertionError("unreachable")


def _fmt_rate(value: Any) -> str:
    return _fmt_bytes(value, "/s")


def _fmt_pct(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return MISSING
    return f"{value:.1f} %"


def _fmt_num(value: Any, digits: int = 2) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return MISSING
    return f"{value:.{digits}f}"


def _fmt_wear(estimate: Any) -> str:
    """An eMMC life-time estimate as the range of rated life used (``10-20 %``)."""
    if not isinstance(estimate, dict):
        return MISSING
    if estimate.get("exceeded"):
        return "exceeded"
    low, high = estimate.get("used_min"), estimate.get("used_max")
    return MISSING if low is None or high is None else f"{low}-{high} %"


def _fmt_uptime(boot_time: Any, now: Any) -> str:
    """The time from ``boot_time`` to ``now`` (ISO-8601 strings) as ``3 d 4 h 12 min``.

    ``now`` is the time of the latest telemetry rather than the wall clock, so a replayed
    history shows the uptime it had then.
    """
    try:
        seconds = int(
            (datetime.fromisoformat(now) - datetime.fromisoformat(boot_time)).total_seconds()
        )
    except (TypeError, ValueError):
        return MISSING
    if seconds < 0:
        return MISSING
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return f"{days} d {hours} h {minutes} min" if days else f"{hours} h {minutes} min"


BOOTSTRAP_CSS = "css/bootstrap.min.css"
"""Bootstrap's stylesheet, relative to `bootstrap_static_folder`."""


def bootstrap_static_folder() -> Path:
    """Where Bootstrap-Flask keeps its copy of Bootstrap 5 (``flask_bootstrap/static/bootstrap5``).

    The dashboard serves Bootstrap from that package directory rather than through the
    ``Bootstrap5`` extension: the extension imports WTForms for its form macros, which the
    dashboard does not use and which would stay resident (about 0.7 MB, a sixth of what the
    app adds to its libraries). ``find_spec`` locates the package without executing it.

    Raises:
        RuntimeError: if Bootstrap-Flask is not installed or no longer ships that file.
    """
    spec = importlib.util.find_spec("flask_bootstrap")
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        folder = Path(location) / "static" / "bootstrap5"
        if (folder / BOOTSTRAP_CSS).is_file():
            return folder
    raise RuntimeError(
        f"Bootstrap 5 not found: Bootstrap-Flask should provide static/bootstrap5/{BOOTSTRAP_CSS}"
    )


class SystemWebInterface(WebInterface):
    """The system-health dashboard on port 8086 (Bootstrap served from the package, no CDN).

    * ``/``: the dashboard, rendered from the current state snapshot, then kept live over
      Socket.IO (telemetry, health and identity events, with the derived state they change).
    * ``/api/state``: the whole state snapshot as JSON; the ``seq`` of the last pushed event
      it includes is in the ``X-Bussdcc-Seq`` header.
    * ``/api/health``: ``{"status", "reasons", "notes", "since"}``; status is ``unknown``
      until the first telemetry. Always HTTP 200 while the app runs, critical included: the
      status is in the body, and a 503 would make proxies report the dashboard itself down.
    """

    import_name = "bussdcc_system_health"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DASHBOARD_PORT,
        *,
        name: str = "web",
        push: Iterable[type[Message] | str] = PUSHED,
        watch: Iterable[str] = WATCHED,
        **kwargs: Any,
    ) -> None:
        super().__init__(host, port, name=name, push=push, watch=watch, **kwargs)

    def create_app(self) -> Flask:
        app = super().create_app()
        # Bootstrap from the installed package, never a CDN: a Pi may have no internet.
        app.register_blueprint(
            Blueprint(
                "bootstrap",
                __name__,
                static_folder=bootstrap_static_folder(),
                static_url_path="/bootstrap/static",
            )
        )
        app.jinja_env.globals.update(
            bootstrap_css=BOOTSTRAP_CSS, cards=CARDS, health_class=HEALTH_CLASS
        )
        app.jinja_env.filters.update(
            bytes=_fmt_bytes,
            rate=_fmt_rate,
            pct=_fmt_pct,
            num=_fmt_num,
            wear=_fmt_wear,
            uptime=_fmt_uptime,
        )
        return app

    def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
        @app.route("/")
        def dashboard() -> str:
            snapshot = self.snapshot()
            state = snapshot["state"]
            records = {name: _at(state, path) for name, path in CARD_RECORDS.items()}
            return render_template(
                "dashboard.html",
                snapshot=snapshot,
                health=health_record(state),
                **records,
                now=(records["cpu"] or {}).get("time") or snapshot["time"],
                history_limit=DEFAULT_HISTORY_LIMIT,
                history_paths={
                    "cpu": CPU_HISTORY,
                    "network": NETWORK_HISTORY,
                    "disk_io": DISK_IO_HISTORY,
                },
                version=__version__,
            )

        @app.route("/api/state")
        def api_state() -> Response:
            snapshot = self.snapshot()
            response = jsonify(snapshot["state"])
            response.headers["X-Bussdcc-Seq"] = str(snapshot["seq"])
            response.headers["Cache-Control"] = "no-store"
            return response

        @app.route("/api/health")
        def api_health() -> Response:
            response = jsonify(health_record(self.snapshot()["state"]))
            response.headers["Cache-Control"] = "no-store"
            return response
