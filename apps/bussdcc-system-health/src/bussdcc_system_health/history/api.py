"""The history routes: ``GET /api/history/series`` and ``GET /api/history`` (SPEC section 8)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

from .query import BadParameter, RollupReader, parse_request

__all__ = ["register_history_routes"]


def _error(parameter: str, message: str, status: int = 400) -> Response:
    response = jsonify({"error": f"{parameter}: {message}", "parameter": parameter})
    response.status_code = status
    return response


def register_history_routes(app: Flask, reader: RollupReader | None) -> None:
    """Add the two history routes to ``app``, answering from ``reader``.

    Without a reader (the app does not record, or replays) the series list is empty and a
    query answers 404 ``{"error", "parameter": "series"}``, as for an unknown series.
    A bad parameter answers 400 with ``{"error": "<parameter>: <why>", "parameter"}``.
    """
    routes = Blueprint("history", __name__)

    @routes.get("/api/history/series")
    def history_series() -> Response:
        response = jsonify({"series": reader.series() if reader is not None else []})
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.get("/api/history")
    def history() -> Response:
        args = request.args
        try:
            wanted = parse_request(
                args.getlist("series"), args.get("start"), args.get("end"), args.get("points")
            )
            if reader is None:
                return _error("series", "history is not recorded by this run", 404)
            answer = reader.query(wanted)
        except BadParameter as exc:
            return _error(exc.parameter, exc.message)
        response = jsonify(answer)
        response.headers["Cache-Control"] = "no-store"
        return response

    app.register_blueprint(routes)
