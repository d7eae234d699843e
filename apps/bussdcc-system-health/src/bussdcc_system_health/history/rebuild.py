"""Rebuilding the rollups from the JSONL log, and what the history store holds (`stats`)."""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bussdcc_framework.io.jsonl import JsonlSource

from .rollup import RollupBuilder
from .series import SOURCE_MESSAGES
from .store import RollupStore, connect, remove_db
from .tiers import TIERS, Tier
from .writer import BackgroundWriter

__all__ = ["HistoryStats", "RebuildResult", "TierStats", "rebuild", "stats"]

SOURCE_NAMES = frozenset(message.name for message in SOURCE_MESSAGES)

BATCH_ROWS = 50_000
"""Rows per transaction during a rebuild (a few MB of memory, two batches in flight)."""


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild read: events folded in, unreadable lines skipped, files, seconds."""

    events: int
    skipped: int
    files: int
    seconds: float


def rebuild(
    log_root: Path,
    db: Path,
    *,
    tiers: Sequence[Tier] = TIERS,
    end: datetime | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[float, int], None] | None = None,
) -> RebuildResult:
    """Recreate the rollups database ``db`` from the log under ``log_root``.

    The log is read file by file in `JsonlSource` order and fed through the same
    `RollupBuilder` the live process uses, as fast as it can go, so two rebuilds of the
    same log give identical rows; the rows are written by a `BackgroundWriter` while the
    reading goes on. The new database is written beside ``db`` and renamed over it only
    when complete, so an interrupted or failed rebuild leaves the old one in place (and
    removes the partial one).
    ``end`` (exclusive) limits the readings to those before a time; ``cancel`` stops early
    (nothing is replaced); ``progress(fraction, events)`` is called after each file.

    Raises:
        FileNotFoundError: if ``log_root`` does not exist.
        sqlite3.Error: if the database cannot be written (``db`` is left as it was); the
            rebuild stops after the file being read when the write failed.
    """
    began = time.monotonic()
    files = JsonlSource(log_root).files()
    sizes = [_size(path) for path in files]
    total = sum(sizes) or 1
    partial = db.with_name(db.name + ".partial")
    store = RollupStore.create(partial, tiers)
    # The partial file is of no use until it is complete, so its commits need not reach the
    # disk one by one: the whole file is synced once, before it is renamed into place.
    store.conn.execute("PRAGMA synchronous = OFF")
    # SQLite works on a thread of its own (sqlite3 releases the GIL meanwhile) while this
    # one reads and folds; large batches keep the hand-overs between the two few.
    writer = BackgroundWriter(store)
    builder = RollupBuilder(writer, tiers=tiers, commit_interval=3600.0, batch_rows=BATCH_ROWS)
    skipped = done = 0
    # Events, messages and rows form no reference cycles, so the cyclic collector would only
    # rescan the waiting rows again and again; reference counting frees everything. Only in
    # the main thread (the command): the switch is process-wide, and a background rebuild
    # must not pause the collector of the app serving beside it.
    collecting = gc.isenabled() and threading.current_thread() is threading.main_thread()
    if collecting:
        gc.disable()
    try:
        for path, size in zip(files, sizes, strict=True):
            if cancel is not None and cancel.is_set():
                break
            if writer.failure is not None:
                break  # the rebuild has failed: reading on would be wasted
            source = JsonlSource(path, end=end, names=SOURCE_NAMES)
            builder.ingest_events(source)
            skipped += source.skipped
            done += size
            if progress is not None:
                progress(done / total, builder.ingested)
        closed = builder.close()
        writer.close()  # raises what failed on the writer's thread
        if not closed:
            assert builder.failure is not None
            raise builder.failure
    except BaseException:
        writer.abandon()
        store.close()
        remove_db(partial)  # of no use, and perhaps what filled the disk
        raise
    finally:
        if collecting:
            gc.enable()
    store.close()
    if cancel is not None and cancel.is_set():
        remove_db(partial)
    else:
        _sync(partial)
        remove_db(db)
        os.replace(partial, db)
        remove_db(partial)
    return RebuildResult(builder.ingested, skipped, len(files), time.monotonic() - began)


def _sync(path: Path) -> None:
    """Flush ``path`` (closed, its WAL already checkpointed into it) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass(frozen=True, slots=True)
class TierStats:
    """One tier: resolution, rows, bytes on disk and the time its buckets span."""

    name: str
    seconds: int
    rows: int
    bytes: int
    first: int | None
    last: int | None


@dataclass(frozen=True, slots=True)
class HistoryStats:
    """What is stored: the tiers, the database file and the log."""

    tiers: tuple[TierStats, ...]
    db_bytes: int
    log_bytes: int
    log_files: int

    @property
    def days(self) -> float:
        """Days between the oldest and the newest bucket end, over all tiers."""
        firsts = [t.first for t in self.tiers if t.first is not None]
        lasts = [t.last + t.seconds for t in self.tiers if t.last is not None]
        return (max(lasts) - min(firsts)) / 86400 if firsts and lasts else 0.0


def stats(db: Path, log_root: Path, tiers: Sequence[Tier] = TIERS) -> HistoryStats:
    """Measure the rollups database ``db`` (read-only) and the log under ``log_root``.

    A missing database or log counts as empty.

    Raises:
        sqlite3.Error: if the database exists but cannot be read.
    """
    found: list[TierStats] = []
    db_bytes = sum(_size(Path(f"{db}{suffix}")) for suffix in ("", "-wal"))
    if db.is_file():
        conn = connect(db, readonly=True)
        try:
            pages = _bytes_by_table(conn)
            for index, tier in enumerate(tiers):
                rows = conn.execute(f"SELECT count(*) FROM {tier.table}").fetchone()[0]
                first, last = conn.execute(
                    "SELECT min(start), max(start) FROM buckets WHERE tier = ?", (index,)
                ).fetchone()
                found.append(
                    TierStats(tier.name, tier.seconds, rows, pages.get(tier.table, 0), first, last)
                )
        finally:
            conn.close()
    else:
        found = [TierStats(t.name, t.seconds, 0, 0, None, None) for t in tiers]
    log_files = [p for p in log_root.rglob("*") if p.is_file()] if log_root.is_dir() else []
    return HistoryStats(tuple(found), db_bytes, sum(map(_size, log_files)), len(log_files))


def _bytes_by_table(conn: sqlite3.Connection) -> dict[str, int]:
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # SQLite built without the dbstat table
        return {}
    return {str(name): int(size) for name, size in rows}
