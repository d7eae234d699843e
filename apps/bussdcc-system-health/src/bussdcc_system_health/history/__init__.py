"""Long-range history: rollups of the telemetry into fixed tiers, kept in SQLite (SPEC §8).

The JSONL log stays the source of truth; the rollups are a cache a `RollupProcess` keeps as
events arrive and `rebuild` recreates from the log. `RollupReader` answers the history API.
"""

from __future__ import annotations

from pathlib import Path

from bussdcc_framework.runtime import Runtime

from .api import register_history_routes
from .query import BadParameter, HistoryRequest, RollupReader, parse_request
from .rebuild import HistoryStats, RebuildResult, TierStats, rebuild, stats
from .rollup import RollupBuilder, RollupError, RollupProcess
from .series import readings, throttling_change, timeline_event
from .store import DB_NAME, RollupStore, StoreCorrupt, db_path
from .tiers import DEFAULT_POINTS, TIERS, Aggregate, Tier, bucket_start, choose_step, merge

__all__ = [
    "DB_NAME",
    "DEFAULT_POINTS",
    "TIERS",
    "Aggregate",
    "BadParameter",
    "HistoryRequest",
    "HistoryStats",
    "RebuildResult",
    "RollupBuilder",
    "RollupError",
    "RollupProcess",
    "RollupReader",
    "RollupStore",
    "StoreCorrupt",
    "Tier",
    "TierStats",
    "add_rollups",
    "bucket_start",
    "choose_step",
    "db_path",
    "merge",
    "parse_request",
    "readings",
    "rebuild",
    "register_history_routes",
    "stats",
    "throttling_change",
    "timeline_event",
]


def add_rollups(rt: Runtime, data_dir: Path, log_root: Path) -> RollupReader:
    """Keep ``<data-dir>/rollups.sqlite3`` in ``rt`` from the live telemetry; return a reader
    for the web interface."""
    path = db_path(data_dir)
    rt.add_process(RollupProcess(path, log_root))
    return RollupReader(path)
