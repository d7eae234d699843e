"""Reading the rollups: the series list and ``query`` (SPEC section 8's ``/api/history``).

`parse_request` turns the API's query parameters into a `HistoryRequest` or raises
`BadParameter` naming the parameter; `RollupReader.query` answers it from the coarsest tier
that still gives about ``points`` points (`tiers.choose_step`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .store import connect
from .tiers import DEFAULT_POINTS, SCALE, TIERS, Tier, choose_step

__all__ = [
    "MAX_EVENTS",
    "MAX_POINTS",
    "MAX_SERIES",
    "BadParameter",
    "HistoryRequest",
    "RollupReader",
    "iso",
    "parse_request",
]

MAX_SERIES = 32
MAX_POINTS = 10_000
MAX_EVENTS = 1000
"""At most this many timeline marks per answer (the newest of the range)."""


class BadParameter(ValueError):
    """A query parameter is missing or wrong; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """A checked history query: series names, a UTC range and the wanted number of points."""

    series: tuple[str, ...]
    start: datetime
    end: datetime
    points: int = DEFAULT_POINTS


def _time(parameter: str, text: str | None) -> datetime:
    if text is None or not text.strip():
        raise BadParameter(parameter, "required (an ISO-8601 time such as 2026-03-09T12:00:00Z)")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadParameter(parameter, f"not an ISO-8601 time: {text!r}") from None
    # A time without an offset is taken as UTC, the log's own zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_request(
    series: Sequence[str], start: str | None, end: str | None, points: str | None
) -> HistoryRequest:
    """Check the raw parameters of ``/api/history``.

    Raises:
        BadParameter: no or too many series, or an empty name (``series``); a missing or
            unparsable time (``start``/``end``); ``end`` not after ``start`` (``end``);
            ``points`` not a whole number from 1 to `MAX_POINTS` (``points``).
    """
    names = tuple(dict.fromkeys(series))
    if not names:
        raise BadParameter("series", "give at least one, e.g. series=cpu.busy")
    if len(names) > MAX_SERIES:
        raise BadParameter("series", f"at most {MAX_SERIES} per request, got {len(names)}")
    if any(not name.strip() for name in names):
        raise BadParameter("series", "a series name is empty")
    first, last = _time("start", start), _time("end", end)
    if not last > first:
        raise BadParameter("end", f"must be after start ({first.isoformat()})")
    count = DEFAULT_POINTS
    if points is not None:
        try:
            count = int(points)
        except ValueError:
            raise BadParameter("points", f"not a whole number: {points!r}") from None
        if not 1 <= count <= MAX_POINTS:
            raise BadParameter("points", f"must be from 1 to {MAX_POINTS}, got {count}")
    return HistoryRequest(names, first, last, count)


def iso(timestamp: float) -> str:
    """A POSIX time as ISO-8601 UTC with a ``Z`` (``2026-03-09T12:00:00Z``)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = moment.isoformat(timespec="milliseconds" if timestamp % 1 else "seconds")
    return text.replace("+00:00", "Z")


class RollupReader:
    """Read-only access to a rollups database, safe to share between threads.

    Each thread gets its own read-only connection; in WAL mode readers see the last
    committed state and never block the writer. A missing database reads as empty.
    """

    def __init__(self, path: Path, tiers: Sequence[Tier] = TIERS) -> None:
        self.path = Path(path)
        self.tiers = tuple(tiers)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection | None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if not self.path.is_file():
                return None
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
        return conn

    def series(self) -> list[str]:
        """Every series name stored, sorted."""
        conn = self._conn()
        if conn is None:
            return []
        return [row[0] for row in conn.execute("SELECT name FROM series ORDER BY name")]

    def oldest(self) -> dict[str, int | None]:
        """Each tier's oldest bucket start (None when the tier is empty)."""
        conn = self._conn()
        found: dict[str, int | None] = {}
        for index, tier in enumerate(self.tiers):
            found[tier.name] = None
            if conn is not None:
                # One index probe per tier (a GROUP BY would scan every bucket).
                row = conn.execute("SELECT min(start) FROM buckets WHERE tier = ?", (index,))
                found[tier.name] = row.fetchone()[0]
        return found

    def query(self, request: HistoryRequest) -> dict[str, Any]:
        """The answer SPEC section 8 defines for ``request``.

        Each series maps to ``[[iso, min, avg, max], ...]`` with one entry per ``step``
        seconds that holds readings (empty steps are left out), in time order; ``events``
        are the timeline marks in the range, oldest first.

        Raises:
            BadParameter: naming ``series`` if a series is not stored.
        """
        conn = self._conn()
        ids: dict[str, int] = {}
        if conn is not None:
            ids = dict(conn.execute("SELECT name, id FROM series"))
        unknown = [name for name in request.series if name not in ids]
        if unknown:
            raise BadParameter("series", f"unknown series {', '.join(map(repr, unknown))}")
        lo, hi = request.start.timestamp(), request.end.timestamp()
        tier, step = choose_step(lo, hi, request.points, self.oldest(), self.tiers)
        series: dict[str, list[list[Any]]] = {name: [] for name in request.series}
        answer: dict[str, Any] = {
            "start": iso(lo),
            "end": iso(hi),
            "step": step,
            "series": series,
            "events": [],
        }
        if conn is None:
            return answer
        first = int(lo // step) * step
        by_id = {ids[name]: series[name] for name in request.series}
        marks = ",".join("?" * len(by_id))
        rows = conn.execute(
            f"SELECT series, start - start % ? AS b, min(min), sum(sum), sum(count), max(max) "
            f"FROM {tier.table} WHERE start >= ? AND start < ? AND series IN ({marks}) "
            "GROUP BY series, b ORDER BY series, b",
            (step, first, hi, *by_id),
        )
        labels: dict[int, str] = {}
        for id_, bucket, low, total, count, high in rows:
            label = labels.get(bucket)
            if label is None:
                label = labels[bucket] = iso(bucket)
            by_id[id_].append([label, low / SCALE, total / (count * SCALE), high / SCALE])
        events = conn.execute(
            "SELECT time, name, data FROM (SELECT time, name, data FROM events "
            "WHERE time >= ? AND time < ? ORDER BY time DESC LIMIT ?) ORDER BY time",
            (lo, hi, MAX_EVENTS),
        )
        answer["events"] = [
            {"time": iso(t), "name": name, "data": json.loads(data)} for t, name, data in events
        ]
        return answer

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
