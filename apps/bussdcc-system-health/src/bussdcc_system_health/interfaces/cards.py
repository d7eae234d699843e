"""The dashboard's cards: which state each renders, the formatters they share, chart views.

Every card is one Jinja template, ``templates/cards/<name>.html``: the server renders it whole
for the first paint and renders its ``live`` block again each time the card's state record
changes while clients are connected (`render_views`); the page only swaps that HTML in. So
markup, formatting and thresholds exist once, here and in the templates -- the page's
script holds none of them. Charts are fed raw numbers (`chart_view`), labelled by the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment

from bussdcc_framework.service import IDENTITY_STATE

from ..message import (
    CpuUsageUpdated,
    DiskUsageUpdated,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..processes import CPU_HISTORY, HEALTH_STATE, NETWORK_HISTORY, STATE_PATHS

__all__ = [
    "BYTE_UNITS",
    "CARDS",
    "CARD_STATE",
    "CHARTS",
    "CHART_RANGES",
    "FILTERS",
    "HEALTH_CLASS",
    "HISTORY_CHARTS",
    "MISSING",
    "VIEWED",
    "VIEW_BLOCKS",
    "card_values",
    "chart_view",
    "known_health",
    "render_views",
    "width_class",
]

MISSING = "\u2013"
"""What a value not reported yet renders as (an en dash)."""

CARD_STATE: dict[str, str] = {
    "health": HEALTH_STATE,
    "identity": IDENTITY_STATE,
    "cpu": STATE_PATHS[CpuUsageUpdated],
    "network": STATE_PATHS[NetworkUsageUpdated],
    "memory": STATE_PATHS[MemoryUsageUpdated],
    "load": STATE_PATHS[LoadAverageUpdated],
    "disks": STATE_PATHS[DiskUsageUpdated],
    "temperature": STATE_PATHS[TemperatureUpdated],
    "throttling": STATE_PATHS[ThrottlingUpdated],
}
"""Each card, in page order, and the state record it renders (the template variable holding
that record is the card's name)."""

CARDS = tuple(CARD_STATE)
"""The cards in page order (``templates/cards/<name>.html``)."""

VIEW_BLOCKS: dict[str, tuple[str, str, str]] = {
    **{card: (card, f"cards/{card}.html", "live") for card in CARD_STATE},
    "network-totals": ("network", "cards/network.html", "totals"),
    "nav-host": ("identity", "dashboard.html", "nav_host"),
    "updated-at": ("cpu", "dashboard.html", "updated_at"),
}
"""Each HTML view: the card whose record it shows, and the template block that renders it
(an element with ``data-live-view="<view>"`` holds that block on the page)."""

CHARTS: dict[str, str] = {"cpu-chart": CPU_HISTORY, "network-chart": NETWORK_HISTORY}
"""Each chart and the history (columns, see `ColumnHistory`) it plots."""

HISTORY_CHARTS: dict[str, str] = {
    "cpu-chart": "cpu.user cpu.system cpu.iowait",
    "network-chart": "network.rx_bytes_per_s network.tx_bytes_per_s",
    "memory-chart": "memory.percent swap.percent",
    "load-chart": "load.load1 load.load5 load.load15",
    "disk-chart": "disk.*",
    "temperature-chart": "temperature.*",
}
"""Each chart and the history series (SPEC section 8) it draws for a range other than live,
space-separated; ``prefix.*`` is every stored series under that prefix. The CPU chart's
"per core" switch draws ``cpu.core.*`` instead."""

CHART_RANGES: tuple[tuple[str, str], ...] = (
    ("live", "live"),
    ("3600", "1 h"),
    ("86400", "24 h"),
    ("604800", "7 d"),
    ("2592000", "30 d"),
    ("31536000", "1 y"),
)
"""The range selector of every chart: seconds back from now (``live``: the last 5 minutes as
they happen) and the button's label."""

VIEWED: tuple[str, ...] = (*CARD_STATE.values(), *CHARTS.values())
"""The state paths the dashboard renders views of."""

HEALTH_CLASS = {"ok": "success", "warning": "warning", "critical": "danger"}
"""Bootstrap's contextual colour for each health status (and threshold level)."""

_UNKNOWN_HEALTH: dict[str, Any] = {"status": "unknown", "reasons": [], "notes": [], "since": None}


def known_health(health: Any) -> dict[str, Any]:
    """The ``system.health`` record, or status ``"unknown"`` before the first assessment
    (no telemetry yet)."""
    return {**_UNKNOWN_HEALTH, **health} if isinstance(health, dict) else dict(_UNKNOWN_HEALTH)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
BYTE_UNITS = _UNITS
"""The byte units, 1024 apart; a history chart of byte rates picks its axis unit from them."""


def _unit(value: float) -> tuple[float, str]:
    """The divisor and unit that show ``value`` bytes best."""
    divisor = 1.0
    for unit in _UNITS:
        if abs(value) < divisor * 1024 or unit == _UNITS[-1]:
            return divisor, unit
        divisor *= 1024
    raise AssertionError("unreachable")


def fmt_bytes(value: Any, suffix: str = "") -> str:
    """``3.0 MiB``; whole bytes below 1 KiB; `MISSING` for anything not a number."""
    if not _number(value):
        return MISSING
    divisor, unit = _unit(float(value))
    return f"{value:.0f} B{suffix}" if unit == "B" else f"{value / divisor:.1f} {unit}{suffix}"


def fmt_rate(value: Any) -> str:
    return fmt_bytes(value, "/s")


def fmt_pct(value: Any) -> str:
    return f"{value:.1f} %" if _number(value) else MISSING


def fmt_num(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if _number(value) else MISSING


def fmt_clock(value: Any) -> str:
    """``HH:MM:SS`` of an ISO-8601 time (UTC ``Z`` or ``+00:00`` alike)."""
    return value[11:19] if isinstance(value, str) and len(value) >= 19 else MISSING


def fmt_stamp(value: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of an ISO-8601 time."""
    return value[:19].replace("T", " ") if isinstance(value, str) and len(value) >= 19 else MISSING


def width_class(value: Any) -> str:
    """``w-pct-N``: the stylesheet class that makes a bar ``N`` % wide (``value`` rounded and
    clamped to 0-100; 0 for anything not a number). Classes, not ``style`` attributes: the
    Content-Security-Policy forbids inline styles, in the page and in pushed views alike."""
    if not _number(value) or value != value:  # NaN
        return "w-pct-0"
    return f"w-pct-{min(100, max(0, round(value)))}"


FILTERS = {
    "width_class": width_class,
    "bytes": fmt_bytes,
    "rate": fmt_rate,
    "pct": fmt_pct,
    "num": fmt_num,
    "clock": fmt_clock,
    "stamp": fmt_stamp,
}
"""The Jinja filters the cards format values with."""


def _at(state: Mapping[str, Any], path: str) -> Any:
    node: Any = state
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def card_values(state: Mapping[str, Any]) -> dict[str, Any]:
    """Each card's record from a state snapshot, by card name (health made explicit)."""
    values = {card: _at(state, path) for card, path in CARD_STATE.items()}
    values["health"] = known_health(values["health"])
    return values


def chart_view(history: Any, full: bool) -> dict[str, Any]:
    """A chart's data from a history record: ``t`` (the samples' times), ``labels`` (clock
    times) and each column, in raw numbers; the whole history when ``full``, else only its
    newest sample (which the page appends unless it already has it). Byte-rate charts also
    get ``unit`` and ``scale`` (the divisor) for their axis, chosen for the largest value in
    the whole history."""
    if not isinstance(history, Mapping) or not history.get("t"):
        return {"t": [], "labels": [], "columns": {}} if full else {}
    chosen = slice(None) if full else slice(-1, None)
    columns = {
        name: list(column[chosen])
        for name, column in history.items()
        if name != "t" and isinstance(column, list | tuple)
    }
    times = list(history["t"][chosen])
    # ``t`` lets the page skip a sample it already has (one its snapshot held).
    view: dict[str, Any] = {"t": times, "labels": [fmt_clock(t) for t in times], "columns": columns}
    if "rx" in history:
        # Rates are floats or None (unknown): no per-value type check needed.
        peak = max(
            (max(filter(None, history.get(name) or ()), default=0.0) for name in ("rx", "tx")),
            default=0.0,
        )
        view["scale"], view["unit"] = _unit(float(peak))
        view["unit"] += "/s"
    return view


TIMED_CARDS = frozenset({"cpu"})
"""Cards whose views show their record's ``time`` (the navbar's "updated" clock)."""


def _shown(card: str, record: Any) -> Any:
    """What of ``record`` the card's views show: all but ``time``, except for `TIMED_CARDS`."""
    if card in TIMED_CARDS or not isinstance(record, Mapping) or "time" not in record:
        return record
    return {key: value for key, value in record.items() if key != "time"}


def render_views(
    env: Environment,
    values: Mapping[str, Any],
    snapshot: bool,
    context: Mapping[str, Any],
    shown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The views of the changed state ``values`` (path -> record): the HTML of each
    `VIEW_BLOCKS` entry whose card changed, and each changed chart's data (`chart_view`).
    ``context`` adds template variables (the snapshot time). ``shown``, kept by the caller
    between calls, remembers what each card last showed, so a record that changed only in
    what no view shows (its time) is not rendered again."""
    views: dict[str, Any] = {}
    changed = {card for card, path in CARD_STATE.items() if path in values}
    if shown is not None and not snapshot:
        # Most records change only their time each tick: a card whose visible content is
        # what was last pushed is not rendered again (the page still shows it).
        for card in list(changed):
            visible = _shown(card, values[CARD_STATE[card]])
            if shown.get(card, shown) == visible:
                changed.discard(card)
            else:
                shown[card] = visible
    if changed:
        variables = {**context, **{card: values.get(path) for card, path in CARD_STATE.items()}}
        variables["health"] = known_health(variables["health"])
        for name, (card, template, block) in VIEW_BLOCKS.items():
            if card in changed:
                views[name] = _block(env.get_template(template), block, variables)
    for name, path in CHARTS.items():
        if path in values:
            view = chart_view(values[path], snapshot)
            if view:
                views[name] = view
    return views


def _block(template: Any, block: str, variables: dict[str, Any]) -> str:
    render = template.blocks[block]
    return "".join(render(template.new_context(variables)))
