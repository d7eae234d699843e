"""Retention on a 0.22 data directory: deletes nothing it cannot read, and says what it deletes."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bussdcc import Event, ManualClock, Message
from bussdcc.message import RuntimeBooted
from bussdcc_framework.io.jsonl import JsonlSink
from bussdcc_framework.message import SinkRetentionDeleted
from bussdcc_framework.runtime import Runtime
from bussdcc_framework.testing import segment_lines
from bussdcc_system_health.recording import history_sink

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "v022-data-dir"
START = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)  # weeks after the 0.22 recording


def _old_new_segment(root: Path) -> Path:
    """A 0.23 segment from three weeks before START (older than the 7-day retention)."""
    old = START - timedelta(days=21)
    sink = JsonlSink(root, interval=600)
    sink.handle(Event(old, RuntimeBooted(version="0.43.0"), 1))
    sink.stop()
    assert sink.path is not None
    return sink.path


def _run_a_while(data: Path) -> list[Event[Any]]:
    rt = Runtime(clock=ManualClock(START))
    rt.add_sink(history_sink(data))
    seen: list[Event[Any]] = []
    rt.events.subscribe(Message, seen.append)
    rt.boot()
    rt.shutdown("test")
    return seen


def test_starting_on_a_0_22_data_dir_keeps_every_0_22_segment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(CORPUS / "history", data / "history")
    old_files = sorted(p.relative_to(data) for p in (data / "history").rglob("*.jsonl"))
    stale = _old_new_segment(data / "history")

    seen = _run_a_while(data)

    left = {p.relative_to(data) for p in (data / "history").rglob("*.jsonl")}
    assert set(old_files) <= left, "a 0.22 segment was deleted"
    assert not stale.exists() and not stale.with_name(stale.name + ".zst").exists(), (
        "the stale 0.23 segment should have gone"
    )
    deletions = [e.payload for e in seen if isinstance(e.payload, SinkRetentionDeleted)]
    assert len(deletions) == 1
    # The sink's background compressor may have compressed the stale segment first.
    plain = stale.relative_to(data / "history").as_posix()
    assert deletions[0].files in ((plain,), (plain + ".zst",))
    assert deletions[0].reason == "age" and deletions[0].bytes > 0


def test_the_deletion_is_recorded_in_the_history_itself(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stale = _old_new_segment(data / "history")
    _run_a_while(data)
    # Closed segments are compressed (.jsonl.zst): read them as the app does.
    text = b"\n".join(segment_lines(data / "history")).decode()
    assert '"name":"sink.retention.deleted"' in text
    assert stale.name in text


def test_an_unreadable_file_in_segment_form_is_never_deleted(tmp_path: Path) -> None:
    root = tmp_path / "history"
    day = root / (START - timedelta(days=30)).strftime("%Y-%m-%d")
    day.mkdir(parents=True)
    damaged = day / "00-00-00.jsonl"
    damaged.write_bytes(b"\x00\x01 not a record\n")
    sink = JsonlSink(root, interval=600, retention_age=60, retention_bytes=0)
    sink.handle(Event(START, RuntimeBooted(version="0.43.0"), 1))
    sink.stop()
    assert damaged.exists()
