"""The app's recording: JSONL history under ``<data-dir>/history``, with retention."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bussdcc.event import Event
from bussdcc_framework.io.jsonl import JsonlSink

from .defaults import RETENTION, RETENTION_BYTES

__all__ = [
    "SEGMENT_SECONDS",
    "HistoryUnwritable",
    "check_writable",
    "history_root",
    "history_sink",
]

SEGMENT_SECONDS = 600
"""History is written in 10-minute files, so retention deletes it in 10-minute steps."""


class HistoryUnwritable(OSError):
    """The history directory cannot be created or written."""


def history_root(data_dir: str | os.PathLike[str]) -> Path:
    """Where history lives: ``<data-dir>/history/YYYY-MM-DD/HH-MM-SS.jsonl[.zst]`` (``.gz``
    from earlier releases)."""
    return Path(data_dir) / "history"


def check_writable(root: Path) -> None:
    """Create ``root`` and prove a file can be written there, before anything is recorded.

    Raises:
        HistoryUnwritable: naming the directory and the reason.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise HistoryUnwritable(
            exc.errno or 0, f"cannot write history under {root}: {reason}"
        ) from exc


def history_sink(
    data_dir: str | os.PathLike[str],
    retention: timedelta = RETENTION,
    retention_bytes: int = RETENTION_BYTES,
    *,
    batch: int | None = None,
    encoder: Callable[[Event[Any]], bytes] | None = None,
) -> JsonlSink:
    """A JSONL sink writing 10-minute segments under ``<data-dir>/history`` with retention;
    each segment is zstd-compressed once closed (retention counts compressed bytes). Each
    event reaches the OS as it is recorded, or, with ``batch``, in writes of that many
    events (and at segment changes and stop): a crash then loses at most those. ``encoder``
    replaces the codec's `encode_event` (see `JsonlSink`)."""
    root = history_root(data_dir)
    check_writable(root)
    return JsonlSink(
        root,
        interval=SEGMENT_SECONDS,
        retention_age=retention,
        retention_bytes=retention_bytes,
        compress=True,
        flush="event" if batch is None else "batch",
        batch_size=100 if batch is None else batch,
        encoder=encoder,
    )
