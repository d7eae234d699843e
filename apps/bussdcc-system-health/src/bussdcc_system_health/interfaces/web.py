"""`SystemWebInterface`: the dashboard page, `/api/state` and `/api/health`."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template

from bussdcc.context import ContextProtocol
from bussdcc.message import Message
from bussdcc_framework.interface.web import WebInterface
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.service import IDENTITY_STATE

from ..defaults import DASHBOARD_PORT
from ..fleet.metrics import StateCollector, register_metrics_route
from ..history import RollupReader, register_history_routes
from ..message import CollectorFailed, HealthChanged
from ..processes import HEALTH_STATE, STATE_PATHS
from ..replay_control import ReplayControl, register_replay_routes
from ..telemetry.health import HealthThresholds
from ..telemetry.history import DEFAULT_HISTORY_LIMIT
from ..version import __version__
from .cards import (
    BYTE_UNITS,
    CARDS,
    CHART_RANGES,
    FILTERS,
    HEALTH_CLASS,
    HISTORY_CHARTS,
    VIEWED,
    CardViews,
    card_values,
    known_health,
)

__all__ = ["DASHBOARD_PORT", "SystemWebInterface", "health_record", "install_dashboard"]


PUSHED: tuple[type[Message], ...] = (
    *STATE_PATHS,
    HealthChanged,
    CollectorFailed,
    SystemIdentityEvent,
)
"""The events the dashboard receives live."""

WATCHED: tuple[str, ...] = (HEALTH_STATE, IDENTITY_STATE)
"""Derived state sent along with the events that change it, for clients of the protocol
that are not the page: health (which no event carries whole) and identity. The telemetry
records are the events' own data, and the page itself shows the server-rendered views of
`cards.VIEWED`, so repeating those records as state patches would only cost CPU and bytes."""


def health_record(state: Mapping[str, Any]) -> dict[str, Any]:
    """``system.health`` from a state snapshot, or status ``"unknown"`` before the first
    assessment (no telemetry yet)."""
    return known_health(_at(state, HEALTH_STATE))


def _at(state: Mapping[str, Any], path: str) -> Any:
    node: Any = state
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


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


def install_dashboard(app: Flask, thresholds: HealthThresholds) -> None:
    """Give ``app`` what the dashboard page and its cards need: Bootstrap served from the
    installed package (never a CDN: a Pi may have no internet), the template globals and the
    formatters. The single-host dashboard and the hub's node pages both use it."""
    app.register_blueprint(
        Blueprint(
            "bootstrap",
            __name__,
            static_folder=bootstrap_static_folder(),
            static_url_path="/bootstrap/static",
        )
    )
    app.jinja_env.globals.update(
        bootstrap_css=BOOTSTRAP_CSS,
        cards=CARDS,
        byte_units=" ".join(BYTE_UNITS),
        chart_ranges=CHART_RANGES,
        history_charts=HISTORY_CHARTS,
        health_class=HEALTH_CLASS,
        history_limit=DEFAULT_HISTORY_LIMIT,
        thresholds=thresholds,
    )
    app.jinja_env.filters.update(FILTERS)


class SystemWebInterface(WebInterface):
    """The system-health dashboard on port 8086 (Bootstrap served from the package, no CDN).

    * ``/``: the dashboard, rendered from the current state snapshot, then kept live over
      Socket.IO (telemetry, health and identity events, with the derived state they change).
    * ``/api/state``: the whole state snapshot as JSON; the ``seq`` of the last pushed event
      it includes is in the ``X-Bussdcc-Seq`` header.
    * ``/metrics``: the state in Prometheus' text format (see `fleet.metrics`).
    * ``/api/health``: ``{"status", "reasons", "notes", "since"}``; status is ``unknown``
      until the first telemetry. Always HTTP 200 while the app runs, critical included: the
      status is in the body, and a 503 would make proxies report the dashboard itself down.
    """

    import_name = "bussdcc_system_health"
    history: RollupReader | None = None
    """Answers ``/api/history`` and ``/api/history/series`` (set before boot when recording)."""
    replay: ReplayControl | None = None
    """The replay being shown (set before boot by the `replay` command): adds ``/api/replay``
    and the page's replay bar."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DASHBOARD_PORT,
        *,
        name: str = "web",
        push: Iterable[type[Message] | str] = PUSHED,
        watch: Iterable[str] = WATCHED,
        thresholds: HealthThresholds | None = None,
        **kwargs: Any,
    ) -> None:
        if thresholds is not None and not isinstance(thresholds, HealthThresholds):
            raise TypeError(f"thresholds must be HealthThresholds, got {thresholds!r}")
        kwargs.setdefault("views", VIEWED)
        super().__init__(host, port, name=name, push=push, watch=watch, **kwargs)
        self._views: CardViews | None = None
        """Renders the cards' views for the app being served (made in `create_app`)."""
        self.thresholds = thresholds or HealthThresholds()
        """The limits bars and readings are coloured by: give it the `HealthProcess`'s."""

    def create_app(self) -> Flask:
        app = super().create_app()
        install_dashboard(app, self.thresholds)
        self._views = CardViews(app.jinja_env)
        return app

    def snapshot(self, *, views: bool = True) -> dict[str, Any]:
        # A client is about to see every card as it is now: what earlier clients were last
        # shown no longer tells which records may skip rendering. Cleared before the state
        # is read, so no record newer than that state is skipped.
        if views and self._views is not None:
            self._views.forget()
        return super().snapshot(views=views)

    def render_views(self, values: Mapping[str, Any], snapshot: bool) -> Mapping[str, Any]:
        """The changed cards' live blocks as HTML and the charts' new samples (see `cards`)."""
        assert self._views is not None  # called only while serving
        return self._views.render(values, snapshot)

    def register_routes(self, app: Flask, ctx: ContextProtocol) -> None:
        @app.route("/")
        def dashboard() -> str:
            # The page is the first paint: the views would be the same cards again.
            snapshot = self.snapshot(views=False)
            return render_template(
                "dashboard.html",
                snapshot=snapshot,
                time=snapshot["time"],
                version=__version__,
                replay=self.replay is not None,
                **card_values(snapshot["state"]),
            )

        @app.route("/api/state")
        def api_state() -> Response:
            snapshot = self.snapshot(views=False)
            response = jsonify(snapshot["state"])
            response.headers["X-Bussdcc-Seq"] = str(snapshot["seq"])
            response.headers["Cache-Control"] = "no-store"
            return response

        register_history_routes(app, self.history)
        if self.replay is not None:
            register_replay_routes(app, self.replay)
        # Prometheus reads the same state records at scrape time (fleet.metrics).
        register_metrics_route(app, StateCollector(lambda: [({}, ctx.state.get)]))

        @app.route("/api/health")
        def api_health() -> Response:
            response = jsonify(health_record(self.snapshot(views=False)["state"]))
            response.headers["Cache-Control"] = "no-store"
            return response
