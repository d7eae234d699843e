"""The dashboard's cards: which state each renders, the formatters they share, chart views.

Every card is one Jinja template, ``templates/cards/<name>.html``: the server renders it whole
for the first paint and renders its ``live`` block again each time the card's state record
changes while clients are connected (`CardViews`); the page only swaps that HTML in. So
markup, formatting and thresholds exist once, here and in the templates -- the page's
script holds none of them. Charts are fed raw numbers (`chart_view`), labelled by the server.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment

from bussdcc_framework.service import IDENTITY_STATE

from ..message import (
    CpuUsageUpdated,
    DiskIoUpdated,
    DiskUsageUpdated,
    FanSpeedUpdated,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    StorageWearUpdated,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..processes import CPU_HISTORY, DISK_IO_HISTORY, HEALTH_STATE, NETWORK_HISTORY, STATE_PATHS

__all__ = [
    "BYTE_UNITS",
    "CARDS",
    "CARD_RECORDS",
    "CHARTS",
    "CHART_RANGES",
    "FILTERS",
    "HEALTH_CLASS",
    "HISTORY_CHARTS",
    "MISSING",
    "RECORDS",
    "UPTIME_CARD",
    "VIEWED",
    "VIEW_BLOCKS",
    "CardViews",
    "card_values",
    "chart_view",
    "fmt_uptime",
    "fmt_wear",
    "height_class",
    "known_health",
    "width_class",
]

MISSING = "\u2013"
"""What a value not reported yet renders as (an en dash)."""

RECORDS: dict[str, str] = {
    "health": HEALTH_STATE,
    "identity": IDENTITY_STATE,
    "cpu": STATE_PATHS[CpuUsageUpdated],
    "network": STATE_PATHS[NetworkUsageUpdated],
    "memory": STATE_PATHS[MemoryUsageUpdated],
    "load": STATE_PATHS[LoadAverageUpdated],
    "disks": STATE_PATHS[DiskUsageUpdated],
    "diskio": STATE_PATHS[DiskIoUpdated],
    "temperature": STATE_PATHS[TemperatureUpdated],
    "throttling": STATE_PATHS[ThrottlingUpdated],
    "wear": STATE_PATHS[StorageWearUpdated],
    "fans": STATE_PATHS[FanSpeedUpdated],
}
"""Each state record the cards render, by the template variable that holds it."""

CARD_RECORDS: dict[str, tuple[str, ...]] = {
    "health": ("health",),
    "identity": ("identity",),
    "cpu": ("cpu",),
    "network": ("network",),
    "memory": ("memory",),
    "load": ("load",),
    "disks": ("disks", "wear"),
    "diskio": ("diskio",),
    "temperature": ("temperature", "fans"),
    "throttling": ("throttling",),
}
"""Each card, in page order, and the records (`RECORDS` variables) it shows. A card's own
record is the variable named after it."""

UPTIME_CARD = "identity"
"""The card that also shows ``uptime``: from the host's boot time to the CPU record's time
(the latest telemetry), so it is looked at again whenever the CPU record changes and
rendered again when the uptime it shows (to the minute) does."""

CARDS = tuple(CARD_RECORDS)
"""The cards in page order (``templates/cards/<name>.html``)."""

VIEW_BLOCKS: dict[str, tuple[str, str, str]] = {
    **{card: (card, f"cards/{card}.html", "live") for card in CARD_RECORDS},
    "network-totals": ("network", "cards/network.html", "totals"),
    "diskio-totals": ("diskio", "cards/diskio.html", "totals"),
    "nav-host": ("identity", "dashboard.html", "nav_host"),
    "cpu-cores": ("cpu", "cards/cpu.html", "cores"),
    "updated-at": ("cpu", "dashboard.html", "updated_at"),
}
"""Each HTML view: the card whose records it shows, and the template block that renders it
(an element with ``data-live-view="<view>"`` holds that block on the page)."""

CHARTS: dict[str, str] = {
    "cpu-chart": CPU_HISTORY,
    "network-chart": NETWORK_HISTORY,
    "disk-io-chart": DISK_IO_HISTORY,
}
"""Each chart and the history (columns, see `ColumnHistory`) it plots."""

HISTORY_CHARTS: dict[str, str] = {
    "cpu-chart": "cpu.user cpu.system cpu.iowait",
    "network-chart": "network.rx_bytes_per_s network.tx_bytes_per_s",
    "memory-chart": "memory.percent swap.percent",
    "load-chart": "load.load1 load.load5 load.load15",
    "disk-chart": "disk.*.percent",
    "disk-io-chart": "disk.*_bytes_per_s",
    "temperature-chart": "temperature.*",
}
"""Each chart and the history series (SPEC section 8) it draws for a range other than live,
space-separated; a ``*`` stands for any run of characters (``disk.*.percent``: every
mount's usage, not the devices' I/O series under the same prefix). The CPU chart's
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

VIEWED: tuple[str, ...] = (*RECORDS.values(), *CHARTS.values())
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


def fmt_wear(estimate: Any) -> str:
    """An eMMC life-time estimate (a `WearEstimate` record) as the range of rated life used:
    ``10-20 %``, ``exceeded``, or `MISSING` when the device does not say."""
    if not isinstance(estimate, Mapping):
        return MISSING
    if estimate.get("exceeded"):
        return "exceeded"
    low, high = estimate.get("used_min"), estimate.get("used_max")
    return MISSING if low is None or high is None else f"{low}-{high} %"


def fmt_uptime(boot_time: Any, now: Any) -> str:
    """The time from ``boot_time`` to ``now`` (ISO-8601 strings) as ``3 d 4 h 12 min``
    (``4 h 12 min`` under a day); `MISSING` when either is not a time or ``now`` is earlier.

    ``now`` is the time of the latest telemetry, not the wall clock, so a replayed history
    shows the uptime it had then.
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
    hours, minutes = rest // 3600, rest % 3600 // 60
    return f"{days} d {hours} h {minutes} min" if days else f"{hours} h {minutes} min"


def width_class(value: Any) -> str:
    """``w-pct-N``: the stylesheet class that makes a bar ``N`` % wide (``value`` rounded and
    clamped to 0-100; 0 for anything not a number). Classes, not ``style`` attributes: the
    Content-Security-Policy forbids inline styles, in the page and in pushed views alike."""
    if not _number(value) or value != value:  # NaN
        return "w-pct-0"
    return f"w-pct-{min(100, max(0, round(value)))}"


def height_class(value: Any) -> str:
    """``h-pct-N``: as `width_class`, for a height (a core's fill in the CPU card's strip)."""
    return "h" + width_class(value)[1:]


FILTERS = {
    "width_class": width_class,
    "height_class": height_class,
    "bytes": fmt_bytes,
    "rate": fmt_rate,
    "pct": fmt_pct,
    "num": fmt_num,
    "clock": fmt_clock,
    "stamp": fmt_stamp,
    "wear": fmt_wear,
}
"""The Jinja filters the cards format values with."""


def _at(state: Mapping[str, Any], path: str) -> Any:
    node: Any = state
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _variables(records: Mapping[str, Any]) -> dict[str, Any]:
    """The template variables from each `RECORDS` variable's record: health made explicit,
    and ``uptime``, worked out here so the host card's template only prints it."""
    variables = dict(records)
    variables["health"] = known_health(records.get("health"))
    identity, cpu = records.get("identity"), records.get("cpu")
    boot = identity.get("boot_time") if isinstance(identity, Mapping) else None
    now = cpu.get("time") if isinstance(cpu, Mapping) else None
    variables["uptime"] = fmt_uptime(boot, now) if boot else None
    return variables


def card_values(state: Mapping[str, Any]) -> dict[str, Any]:
    """The cards' template variables from a state snapshot: each `RECORDS` record by its
    variable, health made explicit, and ``uptime``."""
    return _variables({name: _at(state, path) for name, path in RECORDS.items()})


_RATE_COLUMNS = ("rx", "tx", "read", "write")
"""History columns in bytes per second: their chart's axis gets a unit."""


def chart_view(history: Any, full: bool) -> dict[str, Any]:
    """A chart's data from a history record: ``t`` (the samples' times), ``labels`` (clock
    times) and each column, in raw numbers; the whole history when ``full``, else only its
    newest sample (which the page appends unless it already has it). Byte-rate charts
    (network, disk I/O) also get ``unit`` and ``scale`` (the divisor) for their axis, chosen
    for the largest value in the whole history."""
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
    rates = [name for name in _RATE_COLUMNS if name in history]
    if rates:
        # Rates are floats or None (unknown): no per-value type check needed.
        peak = max(max(filter(None, history.get(name) or ()), default=0.0) for name in rates)
        view["scale"], view["unit"] = _unit(float(peak))
        view["unit"] += "/s"
    return view


TIMED = frozenset({"cpu"})
"""Records whose ``time`` a view shows (the navbar's "updated" clock shows the CPU's)."""


def _visible(name: str, record: Any) -> Any:
    """What of ``record`` the views show: all but ``time``, except for `TIMED` records."""
    if name in TIMED or not isinstance(record, Mapping) or "time" not in record:
        return record
    return {key: value for key, value in record.items() if key != "time"}


_UNSET: Any = object()


class CardViews:
    """Renders the dashboard's views: a card's live blocks when what it shows changed, and
    each chart's new data.

    It remembers the latest record of every `RECORDS` path it was given (a card rendered
    from several records gets the others from there) and what each card last showed, so a
    card whose records changed only in what no view shows (their time) is not rendered
    again. A snapshot replaces both memories. Safe to call from several threads (a
    snapshot for a connecting client while the sender thread renders records).
    """

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._latest: dict[str, Any] = {}
        """Each `RECORDS` variable's latest record."""
        self._shown: dict[str, Any] = {}
        """What each card's last rendered views showed."""
        self._templates: dict[str, Any] = {}
        """Templates by name, loaded once (the environment would check its cache per block)."""
        self._paths = {path: name for name, path in RECORDS.items()}
        self._cards_of: dict[str, tuple[str, ...]] = {
            name: tuple(card for card, names in CARD_RECORDS.items() if name in names)
            for name in RECORDS
        }
        self._cards_of["cpu"] += (UPTIME_CARD,)
        self._views_of = {
            card: tuple(
                (view, template, block)
                for view, (c, template, block) in VIEW_BLOCKS.items()
                if c == card
            )
            for card in CARD_RECORDS
        }

    def forget(self) -> None:
        """Forget what the cards showed: every card is rendered at its next change."""
        with self._lock:
            self._shown.clear()

    def render(self, values: Mapping[str, Any], snapshot: bool) -> dict[str, Any]:
        """The views for the changed state ``values`` (path -> record; every viewed path
        for a ``snapshot``): ``{view: HTML}`` for each `VIEW_BLOCKS` entry whose card shows
        something new (every card for a snapshot), and ``{chart: data}`` (`chart_view`) for
        each changed chart.

        Raises:
            jinja2.TemplateError: if a template fails to render.
        """
        views: dict[str, Any] = {}
        with self._lock:
            if snapshot:
                self._latest.clear()
                self._shown.clear()
            candidates: set[str] = set()
            for path, record in values.items():
                name = self._paths.get(path)
                if name is not None:
                    self._latest[name] = record
                    candidates.update(self._cards_of[name])
            if candidates:
                # One dict of globals and variables for every block rendered now: Jinja then
                # uses it as is instead of merging the environment's globals per block.
                variables = {**self.env.globals, **_variables(self._latest)}
                for card in CARDS:
                    if card not in candidates:
                        continue
                    visible = tuple(
                        _visible(name, variables.get(name)) for name in CARD_RECORDS[card]
                    )
                    if card == UPTIME_CARD:
                        visible += (variables["uptime"],)
                    if self._shown.get(card, _UNSET) == visible:
                        continue  # the page still shows exactly this
                    self._shown[card] = visible
                    for view, template, block in self._views_of[card]:
                        views[view] = self._render_block(template, block, variables)
        for name, path in CHARTS.items():
            if path in values:
                chart = chart_view(values[path], snapshot)
                if chart:
                    views[name] = chart
        return views

    def _render_block(self, name: str, block: str, variables: dict[str, Any]) -> str:
        """Block ``block`` of template ``name``, with ``variables`` (globals included)."""
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self.env.get_template(name)
        context = template.new_context(variables, shared=True)
        return "".join(template.blocks[block](context))
