"""`RollupBuilder` folds telemetry into tier buckets; `RollupProcess` keeps it on the bus.

The builder is the one piece of code that turns events into rollup rows: the live process
feeds it from the bus and `rebuild` feeds it from the JSONL log, so both produce the same
rows for the same events.

Buckets are written when they close (the next reading falls in another bucket of that
tier) and at `RollupBuilder.close`; until then the newest bucket of each tier lives in
memory, so the stored history lags by at most one bucket of the tier read (10 s for an hour's
chart, an hour for a year's). Writes are batched: a commit happens when a 10-second bucket
closes and at least ``commit_interval`` seconds (monotonic) passed since the last one, or
``batch_rows`` rows are waiting, and at `close`.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bussdcc.component import Process
from bussdcc.context import ContextProtocol
from bussdcc.event import Event
from bussdcc.message import Message, Severity
from bussdcc_framework.io.jsonl.compress import open_segment

from ..message import ThrottleFlags, ThrottlingUpdated
from .series import (
    BULK_MESSAGES,
    SOURCE_MESSAGES,
    columns,
    throttling_change,
    timeline_event,
)
from .store import EventRow, RollupStore, StoreCorrupt, StoredRow, remove_db
from .tiers import SCALE, TIERS, Tier, absorb, bucket_start
from .writer import BackgroundWriter

__all__ = ["RollupBuilder", "RollupError", "RollupProcess"]

_THIS_RUN_SLACK = 5.0
"""Seconds before `start` that still count as this run (boot precedes the processes)."""

logger = logging.getLogger(__name__)

_HUNDRED = float(SCALE).__mul__
"""``v * 100`` as a C function (readings are kept in hundredths, see `tiers.quantize`)."""

_MARGIN = timedelta(milliseconds=1)
"""Far wider than a float's rounding of a POSIX time up to year 9999 (about 30 us)."""

_EMPTY_WINDOW = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))
"""A ``[low, high)`` window no time lies in: the first event always computes its bucket."""

REBUILD_PENDING = "rebuild_pending_before"
"""meta key: readings before this POSIX time are still to be rebuilt from the log."""


@dataclass(slots=True, frozen=True)
class RollupError(Message):
    """Writing the rollups failed (disk full, I/O error); the app keeps running.

    Emitted once per failure streak. The unwritten rows stay in memory and are written
    when writing works again, up to ``max_pending`` rows; beyond that the finest tier's
    rows are dropped (``dropped`` counts them) and ``history rebuild`` restores them.
    """

    name = "history.rollup.error"
    severity = Severity.ERROR
    error: str
    pending: int
    dropped: int = 0


class RollupBuilder:
    """Folds telemetry into ``tiers`` and writes finished buckets to ``store``.

    `ingest` takes one event's POSIX time and payload; `close` writes everything still open.
    A failed write (`sqlite3.Error`) never raises out of `ingest`: the rows stay pending,
    `failure` holds the error until a write succeeds, and ``on_failure`` is called for the
    first failure of a streak.

    Raises:
        ValueError: if ``tiers`` is empty or a tier's resolution does not divide the next.
    """

    def __init__(
        self,
        store: RollupStore | BackgroundWriter,
        *,
        tiers: Sequence[Tier] = TIERS,
        commit_interval: float = 5.0,
        batch_rows: int = 20_000,
        max_pending: int = 500_000,
        on_failure: Callable[[RollupError], None] | None = None,
    ) -> None:
        if not tiers:
            raise ValueError("tiers must not be empty")
        for finer, coarser in itertools.pairwise(tiers):
            if coarser.seconds % finer.seconds:
                raise ValueError(
                    f"tiers: {coarser.name} ({coarser.seconds}s) is not a multiple of "
                    f"{finer.name} ({finer.seconds}s)"
                )
        self.store = store
        self.tiers = tuple(tiers)
        self.commit_interval = commit_interval
        self.batch_rows = batch_rows
        self.max_pending = max_pending
        self.on_failure = on_failure
        self.failure: sqlite3.Error | None = None
        self.dropped = 0
        self.ingested = 0
        self._finest = self.tiers[0].seconds
        # Open buckets, one per tier: series -> [min, max, sum, count] in hundredths.
        self._open: list[dict[str, list[int]]] = [{} for _ in self.tiers]
        # The finest bucket's messages and readings not yet folded in (see `ingest`).
        self._bulk = frozenset(BULK_MESSAGES)
        self._batch: dict[type[Message], list[Any]] = {}
        self._starts: list[int | None] = [None] * len(self.tiers)
        # Closed buckets waiting to be written, per tier; a bucket closed twice (the clock
        # stepped back) is two rows here that the store's upsert merges.
        self._pending: list[list[StoredRow]] = [[] for _ in self.tiers]
        self._waiting = 0
        self._events: list[EventRow] = []
        self._throttle: ThrottleFlags | None = None
        self._last_commit = time.monotonic()

    ingested: int
    """Telemetry messages and timeline marks folded in so far (an "unavailable" reading
    counts: it was read, and holds no value)."""

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return self._waiting

    def ingest(self, timestamp: float, payload: Message) -> None:
        """Fold one event in: its readings into the buckets its time falls in, and its
        timeline mark, if any, into the events.

        The finest bucket collects the messages themselves (grouped by type) and turns them
        into ``[min, max, sum, count]`` per series only when it closes, a few list passes
        per series instead of a dozen Python statements per reading: a rebuild spends most
        of its time here. Integer aggregates make the result the same either way."""
        kind = payload.__class__
        if kind in self._bulk:
            self.ingested += 1
            start = int(timestamp // self._finest) * self._finest
            if start != self._starts[0]:
                self._roll_finest(start)
            batch = self._batch.get(kind)
            if batch is None:
                self._batch[kind] = [payload]
            else:
                batch.append(payload)
            return
        mark = timeline_event(payload)
        if mark is None and isinstance(payload, ThrottlingUpdated):
            mark = throttling_change(self._throttle, payload)
            if payload.available and payload.now is not None:
                self._throttle = payload.now
        if mark is not None:
            self.ingested += 1
            self._events.append((timestamp, mark.name, mark.data))

    def ingest_events(self, events: Iterable[object]) -> int:
        """`ingest` every event of ``events`` (in order); return how many were read.

        The same result as calling `ingest` per event, in one loop: a rebuild reads
        millions of events, and the call per event is a good part of what folding one costs.

        Raises:
            TypeError: if ``events`` yields something that is not an `Event`.
        """
        bulk, finest, starts = self._bulk, self._finest, self._starts
        ingest = self.ingest
        count = 0
        folded = self.ingested
        batch = self._batch
        # The open finest bucket as aware datetimes [low, high): an event inside it is placed
        # by two comparisons in C instead of a POSIX conversion and a division. ``high`` stops
        # `_MARGIN` short of the bucket's end, and a time in that margin takes `ingest`'s float
        # arithmetic, which in far years can round a time just before a boundary up onto it:
        # both paths put every event in the same bucket, to the bit.
        low, high = _EMPTY_WINDOW
        for evt in events:
            if type(evt) is not Event and not isinstance(evt, Event):
                self.ingested = folded
                raise TypeError(f"events item {count} is not an Event: {evt!r}")
            count += 1
            # An Event is a (time, payload, seq) tuple: unpacking it is one step in C where
            # the properties are two Python calls.
            moment, payload, _ = evt
            if type(moment) is not datetime:  # a bus stamp (POSIX seconds), not a decoded time
                moment = evt.time
            kind = payload.__class__
            if kind not in bulk:
                self.ingested = folded
                ingest(moment.timestamp(), payload)
                folded = self.ingested
                continue
            folded += 1
            if not low <= moment < high:
                start = int(moment.timestamp() // finest) * finest
                if start != starts[0]:
                    self._roll_finest(start)
                    batch = self._batch
                low = datetime.fromtimestamp(start, UTC)
                high = low + timedelta(seconds=finest) - _MARGIN
            found = batch.get(kind)
            if found is None:
                batch[kind] = [payload]
            else:
                found.append(payload)
        self.ingested = folded
        return count

    def close(self) -> bool:
        """Write every open bucket and waiting row; True if everything is stored."""
        self._gather()
        for index in range(len(self.tiers)):
            if self._open[index]:
                self._close(index)
        return self.flush()

    def flush(self) -> bool:
        """Write the finished buckets and marks now; True if nothing is left waiting."""
        self._last_commit = time.monotonic()
        if not self._waiting and not self._events:
            return True
        try:
            self.store.write(self._pending, self._events)
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        # New lists rather than cleared ones: a `BackgroundWriter` owns what it was given.
        self._pending = [[] for _ in self.tiers]
        self._waiting = 0
        self._events = []
        self.failure = None
        return True

    # --- internals -------------------------------------------------------------------------

    def _roll_finest(self, start: int) -> None:
        """The next reading falls in the finest bucket at ``start``: close the open one."""
        self._gather()
        if self._open[0]:
            self._close_finest()
        self._starts[0] = start

    def _gather(self) -> None:
        """Fold the finest bucket's collected messages into its open
        aggregates (``[min, max, sum, count]`` in hundredths per series)."""
        if not self._batch:
            return
        values = columns(self._batch)
        self._batch = {}
        raw = self._open[0]
        for name, column in values.items():
            # round(v * 100) per value, iterated in C (map) rather than in a comprehension.
            try:
                q = list(map(round, map(_HUNDRED, column)))
            except (ValueError, OverflowError):  # NaN or infinite: not a reading
                q = [round(v * 100) for v in column if math.isfinite(v)]
                if not q:
                    continue
            acc = [min(q), max(q), sum(q), len(q)]
            into = raw.get(name)
            if into is None:
                raw[name] = acc
            else:
                absorb(into, acc)

    def _close_finest(self) -> None:
        self._close(0)
        if (
            self._waiting >= self.batch_rows
            or time.monotonic() - self._last_commit >= self.commit_interval
        ):
            self.flush()

    def _close(self, index: int) -> None:
        """Move tier ``index``'s open bucket to the pending rows and into the next tier."""
        rows = self._open[index]
        start = self._starts[index]
        assert start is not None
        self._open[index] = {}
        self._pending[index].extend(
            (name, start, acc[0], acc[1], acc[2], acc[3]) for name, acc in rows.items()
        )
        self._waiting += len(rows)
        if index + 1 == len(self.tiers):
            return
        coarse = bucket_start(start, self.tiers[index + 1].seconds)
        if coarse != self._starts[index + 1]:
            if self._open[index + 1]:
                self._close(index + 1)
            self._starts[index + 1] = coarse
        target = self._open[index + 1]
        for name, acc in rows.items():
            into = target.get(name)
            if into is None:
                target[name] = acc  # this bucket is closed: its list can carry on upwards
                continue
            # `absorb`, written out: this runs for every series of every closed bucket.
            low, high, total, count = acc
            if low < into[0]:
                into[0] = low
            if high > into[1]:
                into[1] = high
            into[2] += total
            into[3] += count

    def _failed(self, exc: sqlite3.Error) -> None:
        first = self.failure is None
        self.failure = exc
        dropped = 0
        if self._waiting > self.max_pending:
            # The finest tier holds most rows and is pruned first anyway: give it up so
            # memory stays bounded while the disk is full; the coarser tiers keep catching up.
            dropped = len(self._pending[0])
            self._pending[0].clear()
            self._waiting -= dropped
            self.dropped += dropped
        if (first or dropped) and self.on_failure is not None:
            self.on_failure(RollupError(error=str(exc), pending=self._waiting, dropped=dropped))


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


LIVE_CACHE_KIB = 256
"""KiB of SQLite page cache the live rollups writer keeps (SQLite's default is 2,000)."""


class RollupProcess(Process):
    """Keeps ``<data-dir>/rollups.sqlite3`` up to date as telemetry arrives.

    On `start` the database is opened and checked. If it is missing (while the log has
    history), truncated, corrupt or of another schema, a fresh one is created at once, one
    warning line says why, and a background thread rebuilds the readings older than this
    start from ``log_root`` into a side file that the process merges in when it is done; the
    live rollups and the dashboard keep working meanwhile. If the app stops before the
    rebuild finishes, the next start rebuilds again (the database remembers it).

    A failed write is reported as `RollupError` (once per streak) and retried at the next
    commit; see `RollupBuilder`.
    """

    name = "rollups"
    subscriptions = SOURCE_MESSAGES

    def __init__(
        self,
        path: Path,
        log_root: Path | None = None,
        *,
        tiers: Sequence[Tier] = TIERS,
        commit_interval: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.log_root = log_root
        self.tiers = tuple(tiers)
        self.commit_interval = commit_interval
        self.builder: RollupBuilder | None = None
        self.store: RollupStore | None = None
        self.rebuilding: threading.Thread | None = None
        self._cancel = threading.Event()
        self._side_ready = threading.Event()
        self._errors: list[RollupError] = []

    @property
    def side_path(self) -> Path:
        """Where a background rebuild writes before it is merged in."""
        return self.path.with_name(self.path.name + ".rebuild")

    def start(self, ctx: ContextProtocol) -> None:
        now = ctx.clock.now_utc().timestamp()
        store, reason = self._open_store()
        pending = store.meta(REBUILD_PENDING)
        if reason is not None and self._log_has_history(now):
            logger.warning(
                "rollups database %s %s; rebuilding it from the log in %s in the background "
                "(history before %s appears when that is done)",
                self.path,
                reason,
                self.log_root,
                _iso(now),
            )
            store.set_meta(REBUILD_PENDING, repr(now))
            pending = repr(now)
        # SQLite caches up to 2 MiB of pages per connection by default, and the live writer
        # only ever appends near the newest rows: a small cache keeps months of growth out of
        # the app's resident memory (a rebuild, a one-off, keeps the default).
        store.conn.execute(f"PRAGMA cache_size = -{LIVE_CACHE_KIB}")
        self.store = store
        self.builder = RollupBuilder(
            store,
            tiers=self.tiers,
            commit_interval=self.commit_interval,
            on_failure=self._errors.append,
        )
        if pending is not None:
            self._start_rebuild(float(pending))

    def _open_store(self) -> tuple[RollupStore, str | None]:
        try:
            return RollupStore.open(self.path, self.tiers), None
        except FileNotFoundError:
            return RollupStore.create(self.path, self.tiers), "is missing"
        except StoreCorrupt as exc:
            remove_db(self.path)
            return RollupStore.create(self.path, self.tiers), f"is unusable ({exc})"

    def _log_has_history(self, now: float) -> bool:
        """Whether the log holds events from before this run (the sink has already opened
        this run's segment, so a first start must not announce a rebuild of nothing)."""
        if self.log_root is None or not self.log_root.is_dir():
            return False
        segments = sorted(p for p in self.log_root.rglob("*.jsonl*") if p.is_file())
        if not segments:
            return False
        oldest = segments[0]
        try:
            with open_segment(oldest) as f:  # plain, .gz or .zst alike
                first = json.loads(f.read(1 << 20).split(b"\n", 1)[0] or b"null")
            began = datetime.fromisoformat(first["time"]).timestamp()
        except (OSError, EOFError, ValueError, TypeError, KeyError):
            return True  # cannot tell: rebuilding what is there is the safe side
        return bool(began < now - _THIS_RUN_SLACK or len(segments) > 1)

    def _start_rebuild(self, before: float) -> None:
        from .rebuild import rebuild  # rebuild imports this module

        assert self.log_root is not None
        log_root, side = self.log_root, self.side_path

        def run() -> None:
            try:
                rebuild(
                    log_root,
                    side,
                    tiers=self.tiers,
                    end=datetime.fromtimestamp(before, UTC),
                    cancel=self._cancel,
                )
            except Exception:
                logger.exception("rebuilding the rollups from %s failed", log_root)
                return
            if not self._cancel.is_set():
                self._side_ready.set()

        self._cancel.clear()
        self._side_ready.clear()
        self.rebuilding = threading.Thread(target=run, name="rollups-rebuild", daemon=True)
        self.rebuilding.start()

    def handle_event(self, ctx: ContextProtocol, evt: Event[Any]) -> None:
        builder = self.builder
        if builder is None:
            return
        builder.ingest(evt.time.timestamp(), evt.payload)
        if self._side_ready.is_set():
            self._merge_side()
        self._report(ctx)

    def _report(self, ctx: ContextProtocol) -> None:
        while self._errors:
            ctx.emit(self._errors.pop(0))

    def _merge_side(self) -> None:
        store = self.store
        assert store is not None
        try:
            store.merge_from(self.side_path)
            store.set_meta(REBUILD_PENDING, None)
        except sqlite3.Error as exc:
            logger.warning("merging the rebuilt rollups failed (%s); retrying later", exc)
            return
        self._side_ready.clear()
        remove_db(self.side_path)
        logger.info("rollups rebuilt from the log and merged into %s", self.path)

    def stop(self, ctx: ContextProtocol) -> None:
        builder, self.builder = self.builder, None
        store, self.store = self.store, None
        self._cancel.set()
        if self.rebuilding is not None:
            self.rebuilding.join()
            self.rebuilding = None
        if builder is None or store is None:
            return
        try:
            builder.close()
            if self._side_ready.is_set():
                self.store = store
                self._merge_side()
                self.store = None
            self._report(ctx)
        finally:
            store.close()
