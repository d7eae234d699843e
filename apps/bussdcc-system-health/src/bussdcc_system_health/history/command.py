"""The ``history`` subcommands: ``rebuild`` the rollups from the log, print ``stats``."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import TextIO

from ..recording import history_root
from .rebuild import HistoryStats, rebuild, stats
from .store import db_path

__all__ = ["add_history_parser", "format_stats", "progress_bar", "run_history"]


def add_history_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``history rebuild`` and ``history stats`` to the command's subparsers."""
    history = sub.add_parser("history", help="long-range history: rebuild the rollups, stats")
    actions = history.add_subparsers(dest="history_command", metavar="{rebuild,stats}")
    actions.required = True
    for name, text in (
        ("rebuild", "recreate <data-dir>/rollups.sqlite3 from the JSONL log (stop the app first)"),
        ("stats", "days covered, bytes per tier, bytes of log"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--data-dir", type=Path, default=Path("data"), help="where history lives (./data)"
        )


def progress_bar(fraction: float, events: int, width: int = 30) -> str:
    """One line of a text progress bar: ``[#####.....]  50%  1,234 events``."""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%}  {events:,} events"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_stats(found: HistoryStats) -> str:
    """``history stats`` output: one line per tier, then totals and the log."""
    lines = [f"days covered: {found.days:.1f}"]
    for tier in found.tiers:
        lines.append(f"tier {tier.name:>4}: {tier.rows:>10,} rows  {_size(tier.bytes):>10}")
    lines.append(f"rollups database: {_size(found.db_bytes)}")
    lines.append(f"log: {_size(found.log_bytes)} in {found.log_files} files")
    return "\n".join(lines)


def run_history(args: argparse.Namespace, err: TextIO | None = None) -> int:
    """Run ``history <action>``; the exit status (1 with a message on stderr on failure)."""
    err = err or sys.stderr
    data_dir: Path = args.data_dir
    log_root, db = history_root(data_dir), db_path(data_dir)
    if args.history_command == "stats":
        try:
            print(format_stats(stats(db, log_root)))
        except sqlite3.Error as exc:
            print(f"bussdcc-system-health: error: cannot read {db}: {exc}", file=err)
            return 1
        return 0
    if not log_root.is_dir():
        print(f"bussdcc-system-health: error: no recorded history at {log_root}", file=err)
        return 1
    tty = err.isatty()

    def show(fraction: float, events: int) -> None:
        err.write("\r" + progress_bar(fraction, events))
        err.flush()

    try:
        result = rebuild(log_root, db, progress=show if tty else None)
    except sqlite3.Error as exc:
        print(f"\nbussdcc-system-health: error: cannot write {db}: {exc}", file=err)
        return 1
    if tty:
        err.write("\n")
    print(
        f"bussdcc-system-health: rebuilt {db} from {result.files} log files: "
        f"{result.events:,} events in {result.seconds:.1f} s"
        + (f", {result.skipped} unreadable line(s) skipped" if result.skipped else ""),
        file=err,
    )
    return 0
