"""`RollupStore`: the rollups' SQLite database (``<data-dir>/rollups.sqlite3``), one writer.

Schema version 1 (``meta.schema``): ``series(id, name)``; one table per tier
(``tier_10s``, ``tier_1m``, ``tier_10m``, ``tier_1h``) of ``(start, series, min, max, sum,
count)`` integers in hundredths keyed by ``(start, series)``; ``buckets(tier, start)`` listing
the bucket starts each tier holds (for count-based retention and tier choice); and
``events(time, name, data)`` for timeline marks. The database runs in WAL mode, so readers
(the web API) never block the writer, and ``synchronous=NORMAL``: a power loss may lose the
last commits, never the database (the rollups are a cache of the log anyway).

Writes are upserts that merge with what a row already holds (see `tiers.merge`), so a
bucket written in parts (at shutdown, after a restart, after a clock stepping back) ends
up with every reading exactly once.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .tiers import TIERS, Tier

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "EventRow",
    "RollupStore",
    "StoreCorrupt",
    "StoredRow",
    "db_path",
    "dump",
    "remove_db",
]

DB_NAME = "rollups.sqlite3"
SCHEMA_VERSION = 1
PRUNE_FRACTION = 20
"""A tier is pruned each time it gained ``keep / PRUNE_FRACTION`` new buckets."""

StoredRow = tuple[str, int, int, int, int, int]
"""(series name, bucket start, min, max, sum, count), readings in hundredths."""
EventRow = tuple[float, str, dict[str, Any]]
"""(POSIX time, name, data) of a timeline mark."""


class StoreCorrupt(Exception):
    """The database file exists but cannot be used; the message says why."""


def db_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where the rollups live: ``<data-dir>/rollups.sqlite3``."""
    return Path(data_dir) / DB_NAME


def remove_db(path: Path) -> None:
    """Delete the database and its WAL and shared-memory files, if present."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def dump(path: Path, tiers: Sequence[Tier] = TIERS) -> list[tuple[Any, ...]]:
    """Every rollup row and timeline mark of the database at ``path``, in a stable order:
    ``(tier, series, start, min, max, sum, count)`` rows, then ``("event", time, name,
    data)``. Two databases hold the same history exactly when their dumps are equal.

    Raises:
        sqlite3.Error: if the database cannot be read.
    """
    conn = connect(path, readonly=True)
    try:
        found: list[tuple[Any, ...]] = []
        for tier in tiers:
            found.extend(
                (tier.name, *row)
                for row in conn.execute(
                    f"SELECT s.name, r.start, r.min, r.max, r.sum, r.count FROM {tier.table} r "
                    "JOIN series s ON s.id = r.series ORDER BY s.name, r.start"
                )
            )
        found.extend(
            ("event", *row)
            for row in conn.execute("SELECT time, name, data FROM events ORDER BY time, name, data")
        )
        return found
    finally:
        conn.close()


def _schema(tiers: Sequence[Tier]) -> str:
    tables = "".join(
        f"CREATE TABLE {tier.table} (start INTEGER NOT NULL, series INTEGER NOT NULL, "
        "min INTEGER NOT NULL, max INTEGER NOT NULL, sum INTEGER NOT NULL, "
        "count INTEGER NOT NULL, PRIMARY KEY (start, series)) WITHOUT ROWID;\n"
        for tier in tiers
    )
    return (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;\n"
        "CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n"
        "CREATE TABLE buckets (tier INTEGER NOT NULL, start INTEGER NOT NULL, "
        "PRIMARY KEY (tier, start)) WITHOUT ROWID;\n"
        "CREATE TABLE events (time REAL NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL);\n"
        "CREATE INDEX events_time ON events (time);\n" + tables
    )


ROWS_PER_STATEMENT = 64
"""Rows one upsert statement carries: SQLite then steps through many rows per call (the
GIL released throughout) instead of one, which matters when a rebuild writes on a thread."""


def _upsert(tier: Tier, rows: int = 1) -> str:
    t = tier.table
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    return (
        f"INSERT INTO {t} (start, series, min, max, sum, count) VALUES {values} "
        f"ON CONFLICT (start, series) DO UPDATE SET min = min({t}.min, excluded.min), "
        f"max = max({t}.max, excluded.max), sum = {t}.sum + excluded.sum, "
        f"count = {t}.count + excluded.count"
    )


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with WAL settings."""
    if readonly:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
    else:
        # The writer is opened at boot but used from whichever thread emits (a service's,
        # a shutdown's): the bus runs one handler at a time, so the connection is never
        # used by two threads at once -- sqlite3's same-thread check would only refuse it.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


class RollupStore:
    """The single writer of one rollups database.

    `open` checks an existing file (``quick_check`` and the schema version) and raises
    `StoreCorrupt` rather than use a damaged one; `create` makes a fresh one. `write`
    stores buckets and timeline marks in one transaction: it either stores all of them or
    raises `sqlite3.Error` (disk full, I/O error) and stores none, so the caller can retry
    the same rows later.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, tiers: Sequence[Tier]) -> None:
        self.conn = conn
        self.path = path
        self.tiers = tuple(tiers)
        self._upserts = [_upsert(tier) for tier in self.tiers]
        self._bulk_upserts = [_upsert(tier, ROWS_PER_STATEMENT) for tier in self.tiers]
        self._ids: dict[str, int] = {
            name: id_ for id_, name in conn.execute("SELECT id, name FROM series")
        }
        self._since_prune = [0] * len(self.tiers)

    @classmethod
    def create(cls, path: Path, tiers: Sequence[Tier] = TIERS) -> RollupStore:
        """A new, empty database at ``path`` (any file there is replaced).

        Raises:
            sqlite3.Error: if the database cannot be written.
        """
        remove_db(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(path)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(
                "BEGIN;\n"
                + _schema(tiers)
                + f"INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}');\n"
                + "COMMIT;"
            )
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, tiers)

    @classmethod
    def open(cls, path: Path, tiers: Sequence[Tier] = TIERS) -> RollupStore:
        """The existing database at ``path``, checked.

        Raises:
            FileNotFoundError: if there is no file at ``path``.
            StoreCorrupt: if the file is not a readable rollups database of this schema.
        """
        if not path.is_file():
            raise FileNotFoundError(f"no rollups database at {path}")
        try:
            conn = connect(path)
        except sqlite3.Error as exc:
            raise StoreCorrupt(f"cannot open: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            check = conn.execute("PRAGMA quick_check(1)").fetchone()
            if check is None or check[0] != "ok":
                raise StoreCorrupt(f"integrity check failed: {check[0] if check else 'no answer'}")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                raise StoreCorrupt(
                    f"schema version {row[0] if row else 'missing'}, expected {SCHEMA_VERSION}"
                )
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            missing = [t.table for t in tiers if t.table not in names]
            if missing:
                raise StoreCorrupt(f"missing tables {', '.join(missing)}")
            return cls(conn, path, tiers)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreCorrupt(str(exc)) from exc
        except StoreCorrupt:
            conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    # --- writing ---------------------------------------------------------------------------

    def write(self, rows: Sequence[Sequence[StoredRow]], events: Iterable[EventRow] = ()) -> None:
        """Merge ``rows`` (one sequence per tier) into their buckets and append ``events``,
        in one transaction.

        Raises:
            sqlite3.Error: nothing was stored (the transaction was rolled back).
        """
        conn = self.conn
        ids = dict(self._ids)
        since = list(self._since_prune)
        conn.execute("BEGIN IMMEDIATE")
        try:
            new = sorted({row[0] for tier_rows in rows for row in tier_rows} - ids.keys())
            if new:
                conn.executemany(
                    "INSERT OR IGNORE INTO series (name) VALUES (?)", [(n,) for n in new]
                )
                for name in new:
                    found = conn.execute("SELECT id FROM series WHERE name = ?", (name,))
                    ids[name] = found.fetchone()[0]
            for level, tier_rows in enumerate(rows):
                if not tier_rows:
                    continue
                params = [
                    v
                    for name, start, lo, hi, total, n in tier_rows
                    for v in (start, ids[name], lo, hi, total, n)
                ]
                # Whole statements of ROWS_PER_STATEMENT rows, then the rest row by row; an
                # upsert merges rows of one statement that share a bucket like any others.
                width = 6 * ROWS_PER_STATEMENT
                bulk = len(params) - len(params) % width
                conn.executemany(
                    self._bulk_upserts[level],
                    [params[i : i + width] for i in range(0, bulk, width)],
                )
                conn.executemany(
                    self._upserts[level], [params[i : i + 6] for i in range(bulk, len(params), 6)]
                )
                before = conn.total_changes
                conn.executemany(
                    "INSERT OR IGNORE INTO buckets VALUES (?, ?)",
                    [(level, start) for start in sorted({row[1] for row in tier_rows})],
                )
                since[level] += conn.total_changes - before
            conn.executemany(
                "INSERT INTO events (time, name, data) VALUES (?, ?, ?)",
                [(t, name, json.dumps(data, sort_keys=True)) for t, name, data in events],
            )
            for index, tier in enumerate(self.tiers):
                if tier.keep is not None and since[index] >= max(1, tier.keep // PRUNE_FRACTION):
                    self._prune(index, tier.keep)
                    since[index] = 0
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._ids = ids
        self._since_prune = since

    def _prune(self, index: int, keep: int) -> None:
        # Count-based: the newest `keep` bucket starts survive, whatever the clock said.
        row = self.conn.execute(
            "SELECT start FROM buckets WHERE tier = ? ORDER BY start DESC LIMIT 1 OFFSET ?",
            (index, keep - 1),
        ).fetchone()
        if row is None:
            return
        self.conn.execute(f"DELETE FROM {self.tiers[index].table} WHERE start < ?", (row[0],))
        self.conn.execute("DELETE FROM buckets WHERE tier = ? AND start < ?", (index, row[0]))

    def merge_from(self, other: Path) -> None:
        """Merge every row and timeline mark of the database at ``other`` into this one.

        Used when a rebuild from the log ran beside live writing: the two saw disjoint
        readings, so merging them is exact.

        Raises:
            sqlite3.Error: nothing was merged.
        """
        conn = self.conn
        conn.execute("ATTACH DATABASE ? AS side", (str(other),))
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT OR IGNORE INTO main.series (name) SELECT name FROM side.series"
                )
                for tier in self.tiers:
                    t = tier.table
                    conn.execute(
                        f"INSERT INTO main.{t} (start, series, min, max, sum, count) "
                        f"SELECT r.start, m.id, r.min, r.max, r.sum, r.count FROM side.{t} r "
                        "JOIN side.series s ON s.id = r.series "
                        "JOIN main.series m ON m.name = s.name WHERE true "
                        f"ON CONFLICT (start, series) DO UPDATE SET "
                        f"min = min({t}.min, excluded.min), max = max({t}.max, excluded.max), "
                        f"sum = {t}.sum + excluded.sum, count = {t}.count + excluded.count"
                    )
                conn.execute("INSERT OR IGNORE INTO main.buckets SELECT * FROM side.buckets")
                conn.execute("INSERT INTO main.events SELECT * FROM side.events")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("DETACH DATABASE side")
        self._ids = {name: id_ for id_, name in conn.execute("SELECT id, name FROM series")}

    def set_meta(self, key: str, value: str | None) -> None:
        """Store (or with None delete) a ``meta`` entry. Raises `sqlite3.Error`."""
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
