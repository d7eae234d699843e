"""`RollupBuilder` and `RollupStore`: exact rows per tier, time jumps, restarts, disk full."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc_system_health.history import RollupBuilder, RollupError, RollupStore, StoreCorrupt
from bussdcc_system_health.history.store import dump
from bussdcc_system_health.history.tiers import Tier
from bussdcc_system_health.message import HealthChanged, MemoryUsageUpdated

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: a bucket start in every tier
YEAR = 365 * 86400


def mem(percent: float) -> MemoryUsageUpdated:
    return MemoryUsageUpdated(
        total=100,
        available=100,
        used=0,
        percent=percent,
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
    )


def build(
    path: Path, feed: Sequence[tuple[float, Message]], **options: Any
) -> list[tuple[Any, ...]]:
    store = RollupStore.create(path, **({"tiers": options["tiers"]} if "tiers" in options else {}))
    builder = RollupBuilder(store, **options)
    for timestamp, payload in feed:
        builder.ingest(timestamp, payload)
    assert builder.close()
    store.close()
    return dump(path, **({"tiers": options["tiers"]} if "tiers" in options else {}))


def memory_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[1] == "memory.percent"]


def ingested_both_ways(
    tmp_path: Path, events: list[Event[Any]]
) -> tuple[RollupBuilder, RollupBuilder]:
    """``events`` rolled up one `ingest` at a time into ``one.sqlite3`` and by one
    `ingest_events` call into ``many.sqlite3``; both builders closed, with their stores."""
    single = RollupBuilder(RollupStore.create(tmp_path / "one.sqlite3"))
    for evt in events:
        single.ingest(evt.time.timestamp(), evt.payload)
    bulk = RollupBuilder(RollupStore.create(tmp_path / "many.sqlite3"))
    assert bulk.ingest_events(events) == len(events)
    assert single.close() and bulk.close()
    single.store.close()
    bulk.store.close()
    return single, bulk


def test_every_tier_holds_exact_min_sum_max_and_count(tmp_path: Path) -> None:
    rows = build(
        tmp_path / "r.sqlite3",
        [(T0, mem(40.0)), (T0 + 5.5, mem(41.0)), (T0 + 12, mem(39.5))],
    )
    assert memory_rows(rows) == [
        ("10s", "memory.percent", T0, 4000, 4100, 8100, 2),
        ("10s", "memory.percent", T0 + 10, 3950, 3950, 3950, 1),
        ("1m", "memory.percent", T0, 3950, 4100, 12050, 3),
        ("10m", "memory.percent", T0, 3950, 4100, 12050, 3),
        ("1h", "memory.percent", T0, 3950, 4100, 12050, 3),
    ]
    assert ("10s", "swap.percent", T0, 0, 0, 0, 2) in rows


def test_a_bucket_is_written_once_the_next_reading_falls_in_another(tmp_path: Path) -> None:
    store = RollupStore.create(tmp_path / "r.sqlite3")
    builder = RollupBuilder(store, commit_interval=0.0)
    builder.ingest(T0, mem(10.0))
    builder.ingest(T0 + 3, mem(20.0))
    assert dump(store.path) == []  # the bucket is still open
    builder.ingest(T0 + 10, mem(30.0))  # closes [T0, T0+10) and commits (interval 0)
    assert memory_rows(dump(store.path)) == [("10s", "memory.percent", T0, 1000, 2000, 3000, 2)]
    store.close()


def test_a_clock_stepping_back_merges_into_the_buckets_it_had_written(tmp_path: Path) -> None:
    jumped = [
        (T0 + 100, mem(10.0)),
        (T0 + 5000, mem(20.0)),  # forwards 81 minutes...
        (T0 + 105, mem(30.0)),  # ...and back again
        (T0 + 5001, mem(25.0)),
    ]
    rows = build(tmp_path / "jumped.sqlite3", jumped, commit_interval=0.0)
    assert ("10s", "memory.percent", T0 + 100, 1000, 3000, 4000, 2) in rows
    assert ("1h", "memory.percent", T0, 1000, 3000, 4000, 2) in rows
    assert ("1h", "memory.percent", T0 + 3600, 2000, 2500, 4500, 2) in rows
    # Exactly what the same readings give in time order: no tier was corrupted.
    ordered = build(tmp_path / "ordered.sqlite3", sorted(jumped, key=lambda r: r[0]))
    assert rows == ordered


def test_a_jump_of_years_forward_and_back_leaves_both_periods_intact(tmp_path: Path) -> None:
    rows = build(
        tmp_path / "r.sqlite3",
        [(T0, mem(10.0)), (T0 + 5 * YEAR, mem(90.0)), (T0 + 1, mem(20.0))],
    )
    assert [r for r in memory_rows(rows) if r[0] == "1h"] == [
        ("1h", "memory.percent", T0, 1000, 2000, 3000, 2),
        ("1h", "memory.percent", T0 + 5 * YEAR, 9000, 9000, 9000, 1),
    ]


def test_a_restart_midway_gives_the_same_rows_as_one_run(tmp_path: Path) -> None:
    feed = [(T0 + 7 * i, mem(30.0 + (i * 7) % 13 / 4)) for i in range(2000)]
    whole = build(tmp_path / "whole.sqlite3", feed)

    path = tmp_path / "restarted.sqlite3"
    store = RollupStore.create(path)
    first = RollupBuilder(store)
    for timestamp, payload in feed[:777]:  # stops mid-bucket in every tier
        first.ingest(timestamp, payload)
    assert first.close()
    store.close()
    store = RollupStore.open(path)
    second = RollupBuilder(store)
    for timestamp, payload in feed[777:]:
        second.ingest(timestamp, payload)
    assert second.close()
    store.close()
    assert dump(path) == whole


def test_health_changes_are_timeline_events(tmp_path: Path) -> None:
    rows = build(
        tmp_path / "r.sqlite3",
        [(T0 + 1.5, HealthChanged(previous="unknown", status="ok"))],
    )
    assert rows == [
        (
            "event",
            T0 + 1.5,
            "system.health.changed",
            '{"previous": "unknown", "reasons": [], "status": "ok"}',
        )
    ]


def test_each_tier_keeps_its_newest_buckets_whatever_the_clock_said(tmp_path: Path) -> None:
    tiers = (Tier("10s", 10, keep=3), Tier("1h", 3600, keep=None))
    feed = [(T0 + 10 * i, mem(float(i))) for i in range(6)]
    feed.append((T0 + 5 * YEAR, mem(99.0)))  # the clock wrongly leaps ahead, once
    feed.append((T0 + 60, mem(6.0)))
    rows = build(tmp_path / "r.sqlite3", feed, tiers=tiers, commit_interval=0.0)
    starts = [row[2] for row in memory_rows(rows) if row[0] == "10s"]
    # The wrong bucket costs one old bucket, not the whole tier.
    assert starts == [T0 + 50, T0 + 60, T0 + 5 * YEAR]
    assert [row[6] for row in memory_rows(rows) if row[0] == "1h"] == [7, 1]


def test_disk_full_keeps_the_rows_reports_once_and_catches_up(tmp_path: Path) -> None:
    feed = [(T0 + 10 * i, mem(float(i % 50))) for i in range(3000)]
    expected = build(tmp_path / "expected.sqlite3", feed)

    store = RollupStore.create(tmp_path / "r.sqlite3")
    reports: list[RollupError] = []
    builder = RollupBuilder(store, commit_interval=0.0, on_failure=reports.append)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on
    for timestamp, payload in feed:
        builder.ingest(timestamp, payload)
    during = builder.failure
    assert isinstance(during, sqlite3.OperationalError)
    assert "full" in str(during)
    assert len(reports) == 1  # one report per failure streak
    assert reports[0].name == "history.rollup.error"
    assert builder.pending > 0

    store.conn.execute("PRAGMA max_page_count = 1073741823")  # space again
    assert builder.close()
    assert builder.failure is None
    store.close()
    assert dump(store.path) == expected


def test_a_full_disk_for_too_long_gives_up_the_finest_tier_only(tmp_path: Path) -> None:
    store = RollupStore.create(tmp_path / "r.sqlite3")
    reports: list[RollupError] = []
    builder = RollupBuilder(store, commit_interval=0.0, max_pending=200, on_failure=reports.append)
    store.conn.execute(
        f"PRAGMA max_page_count = {store.conn.execute('PRAGMA page_count').fetchone()[0]}"
    )
    for i in range(300):
        builder.ingest(T0 + 10 * i, mem(1.0))
    assert builder.dropped > 0
    assert reports[-1].dropped > 0
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert builder.close()
    store.close()
    rows = memory_rows(dump(store.path))
    assert ("1h", "memory.percent", T0, 100, 100, 30000, 300) in rows  # coarse tiers complete


def test_open_refuses_a_damaged_database(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    build(path, [(T0 + 10 * i, mem(float(i))) for i in range(5000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a power loss mid-copy
    with pytest.raises(StoreCorrupt):
        RollupStore.open(path)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreCorrupt):
        RollupStore.open(path)
    with pytest.raises(FileNotFoundError):
        RollupStore.open(tmp_path / "missing.sqlite3")


def test_open_refuses_another_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    RollupStore.create(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreCorrupt, match="schema version 99"):
        RollupStore.open(path)


def test_columns_hold_the_same_values_as_readings_message_by_message(telemetry: Any) -> None:
    from bussdcc_system_health.history.series import columns, readings

    messages = [
        telemetry.cpu(user=10 + i) if i % 3 == 0 else telemetry.network(rx=100.0 * i)
        for i in range(12)
    ]
    grouped: dict[type, list[Any]] = {}
    expected: dict[str, list[float]] = {}
    for message in messages:
        grouped.setdefault(type(message), []).append(message)
        for name, value in readings(message):
            expected.setdefault(name, []).append(value)
    got = columns(grouped)
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}


def test_ingest_events_gives_the_rows_of_ingest_per_event(tmp_path: Path, telemetry: Any) -> None:

    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        Event(start + timedelta(seconds=i // 2), message, i)
        for i, message in enumerate(
            m
            for n in range(200)
            for m in (
                telemetry.cpu(user=n % 40),
                HealthChanged("ok", "warning") if n == 50 else telemetry.memory(percent=n % 9),
            )
        )
    ]
    single, bulk = ingested_both_ways(tmp_path, events)
    assert bulk.ingested == single.ingested == len(events)
    assert dump(tmp_path / "one.sqlite3") == dump(tmp_path / "many.sqlite3")
    with pytest.raises(TypeError, match="events item 0"):
        RollupBuilder(RollupStore.create(tmp_path / "bad.sqlite3")).ingest_events(["x"])


@pytest.mark.parametrize("year", [2026, 9998])
def test_ingest_events_puts_times_at_bucket_edges_where_ingest_does(
    tmp_path: Path, year: int
) -> None:
    # `ingest_events` places an event by comparing datetimes with the open bucket and falls
    # back to `ingest`'s float arithmetic near its end; in year 9998 that arithmetic rounds
    # a microsecond before a boundary up onto it, and both paths must still agree.
    base = datetime(year, 3, 1, tzinfo=UTC)
    offsets = [
        timedelta(0),
        timedelta(seconds=9, microseconds=999_999),
        timedelta(seconds=9, microseconds=999_500),
        timedelta(seconds=9, microseconds=999_000),
        timedelta(seconds=10),
        timedelta(seconds=19, microseconds=999_999),
        timedelta(seconds=3),  # the clock stepped back into an earlier bucket
        timedelta(seconds=20),
        timedelta(seconds=29, microseconds=999_001),
        timedelta(seconds=59, microseconds=999_999),
        timedelta(seconds=60),
    ]
    events = [Event(base + off, mem(10.0 + i), i) for i, off in enumerate(offsets)]
    ingested_both_ways(tmp_path, events)
    many = tmp_path / "many.sqlite3"
    assert dump(tmp_path / "one.sqlite3") == dump(many)
    tens = [row for row in memory_rows(dump(many)) if row[0] == "10s"]
    assert sum(row[6] for row in tens) == len(events)
    if year == 2026:
        # Exact times: a microsecond before a boundary is the earlier bucket.
        start = int(base.timestamp())
        assert [(row[2] - start, row[6]) for row in tens] == [
            (0, 5),
            (10, 2),
            (20, 2),
            (50, 1),
            (60, 1),
        ]
