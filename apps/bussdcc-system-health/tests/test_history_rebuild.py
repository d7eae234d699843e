"""Rebuilding rollups from the JSONL log, and `RollupProcess` keeping them on the bus."""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bussdcc.clock import ManualClock
from bussdcc.event import Event
from bussdcc.message import Message
from bussdcc.runtime import Runtime
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource
from bussdcc_framework.runtime import ReplayRuntime
from bussdcc_system_health.history import RollupError, RollupProcess, rebuild, stats
from bussdcc_system_health.history.command import run_history
from bussdcc_system_health.history.rollup import LIVE_CACHE_KIB
from bussdcc_system_health.history.store import RollupStore, dump
from bussdcc_system_health.history.tiers import TIERS
from bussdcc_system_health.history.writer import BackgroundWriter
from bussdcc_system_health.message import (
    HealthChanged,
    ThrottleFlags,
    ThrottlingUpdated,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def recorded(telemetry: Any, seconds: int = 900) -> list[Event[Message]]:
    """A quarter of an hour of telemetry at 1 s, with a clock step back in the middle."""
    events: list[Event[Message]] = []
    low = ThrottleFlags(True, False, False, False)
    for i in range(seconds):
        moment = START + timedelta(seconds=i if i < 600 else i - 300)  # steps back 5 min
        messages: list[Message] = [
            telemetry.cpu(user=10 + i % 30),
            telemetry.memory(percent=40 + (i % 7) / 10),
            telemetry.network(rx=1000.0 * (i % 5)),
        ]
        if i == 100:
            messages.append(HealthChanged(previous="unknown", status="ok"))
        if i in (200, 260):
            now = low if i == 200 else ThrottleFlags(False, False, False, False)
            messages.append(ThrottlingUpdated(available=True, raw=int(i == 200), now=now))
        events.extend(Event(moment, m, len(events) + n) for n, m in enumerate(messages))
    return events


def write_log(root: Path, events: list[Event[Message]]) -> Path:
    sink = JsonlSink(root / "history", interval=600)
    for evt in events:
        sink.handle(evt)
    sink.stop()
    return root / "history"


def test_two_rebuilds_of_the_same_log_give_identical_rows(tmp_path: Path, telemetry: Any) -> None:
    log = write_log(tmp_path, recorded(telemetry))
    first = rebuild(log, tmp_path / "a.sqlite3")
    rebuild(log, tmp_path / "b.sqlite3")
    a, b = dump(tmp_path / "a.sqlite3"), dump(tmp_path / "b.sqlite3")
    assert a == b
    assert first.events == 900 * 3 + 1 + 2
    assert [row[2] for row in a if row[0] == "event"] == [
        "system.health.changed",
        "system.throttling.changed",
        "system.throttling.changed",
    ]
    # Rebuilding over an existing database replaces it rather than adding to it.
    rebuild(log, tmp_path / "a.sqlite3")
    assert dump(tmp_path / "a.sqlite3") == a


def test_the_live_process_and_a_replay_build_the_same_rows_as_rebuild(
    tmp_path: Path, telemetry: Any
) -> None:
    events = recorded(telemetry)
    log = write_log(tmp_path, events)
    rebuild(log, tmp_path / "rebuilt.sqlite3")
    expected = dump(tmp_path / "rebuilt.sqlite3")

    # Live: the same events emitted on a runtime's bus, at their own times.
    clock = ManualClock(START)
    rt = Runtime(clock=clock)
    live = rt.register_process(RollupProcess(tmp_path / "live.sqlite3"))
    rt.boot()
    # The live writer keeps a small page cache (resident memory over months), same rows.
    assert live.store is not None
    assert live.store.conn.execute("PRAGMA cache_size").fetchone()[0] == -LIVE_CACHE_KIB
    for evt in events:
        rt.events.emit_at(evt.payload, evt.time)
    rt.shutdown("test over")
    assert dump(tmp_path / "live.sqlite3") == expected

    # Replay: the framework's ReplayRuntime playing the log through the process.
    replay = ReplayRuntime(speed=0)
    replay.add_process(RollupProcess(tmp_path / "replayed.sqlite3"))
    replay.add_source(JsonlSource(log))
    replay.run()
    assert dump(tmp_path / "replayed.sqlite3") == expected


def test_the_live_process_writes_from_the_threads_that_emit_and_stop(
    tmp_path: Path, telemetry: Any
) -> None:
    # Live, the process is started at boot (main thread), handles telemetry in the service's
    # thread and is stopped by whichever thread shuts down (a signal's): each must write.
    events = recorded(telemetry, seconds=120)
    rt = Runtime(clock=ManualClock(START))
    rt.register_process(RollupProcess(tmp_path / "live.sqlite3"))
    errors: list[Event[Any]] = []
    rt.events.subscribe(Message, lambda e: errors.append(e) if "error" in e.name else None)
    rt.boot()

    def emit_all() -> None:
        for evt in events:
            rt.events.emit_at(evt.payload, evt.time)

    emitter = threading.Thread(target=emit_all)
    emitter.start()
    emitter.join()
    stopper = threading.Thread(target=rt.shutdown, args=("signal SIGTERM",))
    stopper.start()
    stopper.join()

    assert errors == []
    rebuild(write_log(tmp_path, events), tmp_path / "rebuilt.sqlite3")
    assert dump(tmp_path / "live.sqlite3") == dump(tmp_path / "rebuilt.sqlite3")


def run_process(process: RollupProcess, events: list[Event[Message]], at: datetime) -> list[Any]:
    """Boot a runtime at ``at`` with ``process``, wait for its rebuild, emit, shut down."""
    rt = Runtime(clock=ManualClock(at))
    seen: list[Any] = []
    rt.events.subscribe(RollupError, seen.append)
    rt.register_process(process)
    rt.boot()
    if process.rebuilding is not None:
        process.rebuilding.join(timeout=60)
    for evt in events:
        rt.events.emit_at(evt.payload, evt.time)
    rt.shutdown("test over")
    return seen


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing"])
def test_a_damaged_database_is_rebuilt_from_the_log_on_start(
    tmp_path: Path, telemetry: Any, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    events = recorded(telemetry)
    history, live = events[: 600 * 3], events[600 * 3 :]
    log = write_log(tmp_path, history)
    path = tmp_path / "rollups.sqlite3"
    rebuild(log, path)
    if damage == "garbage":
        path.write_bytes(b"\x00garbage" * 4096)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:8192])
    else:
        path.unlink()

    later = START + timedelta(hours=1)
    live = [Event(later + timedelta(seconds=i // 3), e.payload) for i, e in enumerate(live)]
    with caplog.at_level(logging.INFO, logger="bussdcc_system_health.history.rollup"):
        run_process(RollupProcess(path, log), live, later)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0] and "rebuilding it from the log" in warnings[0]
    # The rebuilt history and the live rows together, exactly as one run over both.
    write_log(tmp_path / "both", history + live)
    rebuild(tmp_path / "both" / "history", tmp_path / "both.sqlite3")
    assert dump(path) == dump(tmp_path / "both.sqlite3")
    assert not (tmp_path / "rollups.sqlite3.rebuild").exists()


def test_a_first_start_without_history_is_quiet(
    tmp_path: Path, telemetry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    process = RollupProcess(tmp_path / "rollups.sqlite3", tmp_path / "history")
    with caplog.at_level(logging.INFO):
        run_process(process, recorded(telemetry, 20), START)
    assert process.rebuilding is None
    assert not [r for r in caplog.records if r.name.startswith("bussdcc_system_health.history")]
    assert dump(tmp_path / "rollups.sqlite3")


def test_stats_reports_tiers_days_and_log_bytes(tmp_path: Path, telemetry: Any) -> None:
    log = write_log(tmp_path, recorded(telemetry))
    rebuild(log, tmp_path / "rollups.sqlite3")
    found = stats(tmp_path / "rollups.sqlite3", log)
    assert [t.name for t in found.tiers] == ["10s", "1m", "10m", "1h"]
    # 10 series (cpu 4, memory 2, network 4) x 60 ten-second buckets (10 minutes)
    assert found.tiers[0].rows == 10 * 60
    assert found.tiers[3].rows == 10
    assert all(t.bytes > 0 for t in found.tiers)
    assert found.days == pytest.approx(3600 / 86400)
    assert found.log_bytes == sum(p.stat().st_size for p in log.rglob("*.jsonl"))
    assert found.log_files == 1  # the step back kept every event in the first segment
    empty = stats(tmp_path / "none.sqlite3", tmp_path / "nothing")
    assert empty.days == 0 and empty.log_bytes == 0 and empty.tiers[0].rows == 0


def test_a_write_failing_on_the_writer_thread_fails_the_rebuild_and_replaces_nothing(
    tmp_path: Path, telemetry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_log(tmp_path, recorded(telemetry))
    db = tmp_path / "rollups.sqlite3"
    rebuild(log, db)
    before = dump(db)

    # A disk that fills up once the first batches are in: SQLite's own "database or disk
    # is full", raised inside the writer thread. Small batches: the first writes succeed.
    create = RollupStore.create
    write = RollupStore.write
    writers: list[str] = []

    def small_disk(path: Path, tiers: Any = TIERS) -> RollupStore:
        store = create(path, tiers)
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        return store

    def recording_write(self: RollupStore, rows: Any, events: Any = ()) -> None:
        writers.append(threading.current_thread().name)
        write(self, rows, events)

    rebuild_module = importlib.import_module("bussdcc_system_health.history.rebuild")
    monkeypatch.setattr(rebuild_module, "BATCH_ROWS", 20)
    monkeypatch.setattr(RollupStore, "create", staticmethod(small_disk))
    monkeypatch.setattr(RollupStore, "write", recording_write)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        rebuild(log, db)

    assert len(writers) > 1 and set(writers) == {"rollups-writer"}
    assert threading.main_thread().name not in writers
    assert dump(db) == before  # the old database is untouched
    assert not list(tmp_path.glob("rollups.sqlite3.partial*"))  # and the partial one gone
    assert not [t for t in threading.enumerate() if t.name == "rollups-writer"]


def test_the_history_command_reports_a_failed_write(
    tmp_path: Path, telemetry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_log(tmp_path, recorded(telemetry))

    def failing(self: RollupStore, rows: Any, events: Any = ()) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(RollupStore, "write", failing)
    err = io.StringIO()
    args = argparse.Namespace(data_dir=tmp_path, history_command="rebuild")
    assert run_history(args, err) == 1
    assert f"cannot write {tmp_path / 'rollups.sqlite3'}: disk I/O error" in err.getvalue()
    assert not (tmp_path / "rollups.sqlite3").exists()
    assert not list(tmp_path.glob("rollups.sqlite3.partial*"))


def test_the_background_writer_writes_in_order_and_keeps_raising_its_failure(
    tmp_path: Path,
) -> None:
    store = RollupStore.create(tmp_path / "w.sqlite3")
    writer = BackgroundWriter(store, depth=1)
    writer.write([[("cpu.busy", 0, 100, 200, 300, 2)], [], [], []])
    writer.write([[("cpu.busy", 0, 50, 50, 50, 1)], [], [], []])
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        writer.write([[], [], [], []])
    store.close()
    assert dump(tmp_path / "w.sqlite3")[0] == ("10s", "cpu.busy", 0, 50, 200, 350, 3)

    store = RollupStore.create(tmp_path / "x.sqlite3")
    writer = BackgroundWriter(store, depth=1)
    store.conn.execute("DROP TABLE tier_10s")  # every write now fails inside the thread
    for _ in range(3):  # more batches than the queue holds: the failed thread keeps taking
        try:
            writer.write([[("cpu.busy", 0, 1, 1, 1, 1)], [], [], []])
        except sqlite3.OperationalError:
            break
    with pytest.raises(sqlite3.OperationalError, match="tier_10s"):
        writer.close()
    with pytest.raises(sqlite3.OperationalError, match="tier_10s"):
        writer.write([[], [], [], []])
    writer.abandon()
    store.close()
    with pytest.raises(ValueError, match="depth"):
        BackgroundWriter(store, depth=0)
