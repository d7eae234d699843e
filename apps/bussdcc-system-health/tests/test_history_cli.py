"""``bussdcc-system-health history rebuild`` and ``history stats``."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bussdcc.event import Event
from bussdcc_framework.io.jsonl import JsonlSink
from bussdcc_system_health.cli import main, parse_args
from bussdcc_system_health.history.command import progress_bar, run_history
from bussdcc_system_health.history.store import dump

START = datetime(2026, 1, 1, tzinfo=UTC)


def record(data_dir: Path, telemetry: Any, seconds: int = 1200) -> None:
    sink = JsonlSink(data_dir / "history", interval=600)
    for i in range(seconds):
        sink.handle(Event(START + timedelta(seconds=i), telemetry.cpu(user=i % 40), i))
    sink.stop()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_is_one_line() -> None:
    assert progress_bar(0.5, 1234, width=10) == "[#####.....]  50%  1,234 events"
    assert progress_bar(2.0, 0, width=4) == "[####] 100%  0 events"


def test_rebuild_then_stats(
    tmp_path: Path, telemetry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    record(tmp_path, telemetry)
    assert main(["history", "rebuild", "--data-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert f"rebuilt {tmp_path / 'rollups.sqlite3'} from 2 log files: 1,200 events" in err
    assert "[" not in err  # no progress bar when stderr is not a terminal
    assert dump(tmp_path / "rollups.sqlite3")

    assert main(["history", "stats", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "days covered: 0.0"
    assert out[1].startswith("tier  10s:        480 rows")  # 4 series x 120 buckets
    assert out[-1].startswith("log: ") and out[-1].endswith("in 2 files")


def test_rebuild_on_a_terminal_draws_a_progress_bar(tmp_path: Path, telemetry: Any) -> None:
    record(tmp_path, telemetry)
    terminal = Terminal()
    assert (
        run_history(parse_args(["history", "rebuild", "--data-dir", str(tmp_path)]), terminal) == 0
    )
    text = terminal.getvalue()
    assert "\r[###############...............]  50%  600 events" in text
    assert "\r[##############################] 100%  1,200 events\n" in text


def test_rebuild_without_a_log_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "rebuild", "--data-dir", str(tmp_path)]) == 1
    assert f"no recorded history at {tmp_path / 'history'}" in capsys.readouterr().err


def test_history_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["history"])
    assert "rebuild,stats" in capsys.readouterr().err
