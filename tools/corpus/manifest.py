"""Writes each corpus recording's manifest: how it was made, what it holds, what replay yields.

    python tools/corpus/manifest.py tests/corpus/idle.jsonl --made-by "python tools/corpus/..."
    python tools/corpus/manifest.py tests/corpus/*.jsonl      # refresh, keeping made_by etc.

``<name>.manifest.json`` beside ``<name>.jsonl`` holds::

    {"scenario", "made_by", "recorded_on", "notes",
     "messages": {name: count}, "events": total,
     "time_span": {"start", "end", "seconds"},
     "expected": {"state": {key: value}, "history_lengths": {key: n},
                  "health_transitions": [[from, to], ...]}}

``expected`` comes from replaying the file through the framework's `ReplayRuntime` (speed 0)
with the app's `SystemProcess` and `HealthProcess`: ``state`` is the final value (as JSON) of
every key the app projects, None where nothing was projected; ``history_lengths`` the number of
samples in each chart history; ``health_transitions`` the ``[previous, status]`` pairs of the
``system.health.changed`` events `HealthProcess` derives during the replay, in order.

The rule for telling derived transitions from recorded ones: a recording also holds the
``system.health.changed`` events the live `HealthProcess` emitted, and replay re-emits them.
`bussdcc_framework.testing.ReplayTrace` (a bus subscriber that the kernel's ``replayed``
extension hook tells of each re-emit) knows which health changes on the replay bus were
re-emitted; every other one is one the replay derived.
Comparing the two lists also shows whether replay reproduces the live verdicts
(``recorded_health_transitions``, kept for information).

Refreshing without ``--made-by`` keeps the existing manifest's ``made_by``, ``recorded_on`` and
``notes``. Raises (exits non-zero) if the recording has a line the framework cannot read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bussdcc_framework.io.jsonl import JsonlSource
from bussdcc_framework.runtime import ReplayRuntime
from bussdcc_framework.service import IDENTITY_STATE
from bussdcc_framework.testing import ReplayTrace
from bussdcc_system_health.message import HealthChanged
from bussdcc_system_health.processes import (
    CPU_HISTORY,
    DISK_IO_HISTORY,
    HEALTH_STATE,
    NETWORK_HISTORY,
    STATE_PATHS,
    HealthProcess,
    SystemProcess,
)
from bussdcc_system_health.telemetry.history import history_length

PROJECTED_KEYS = (*STATE_PATHS.values(), IDENTITY_STATE, HEALTH_STATE)
"""The state keys whose final value a manifest pins."""

HISTORY_KEYS = (CPU_HISTORY, NETWORK_HISTORY, DISK_IO_HISTORY)
"""The chart histories, pinned by length only (their content is the telemetry again)."""


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, datetimes ISO strings)."""
    return json.loads(json.dumps(value, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"state holds a {type(value).__name__}, which a manifest cannot pin")


def expected_outcome(recording: Path) -> dict[str, Any]:
    """Replay ``recording`` and return the manifest's ``expected`` section.

    Raises:
        ValueError: if a line of the recording cannot be read.
    """
    source = JsonlSource(recording)
    rt = ReplayRuntime(speed=0)
    rt.add_process(SystemProcess())
    rt.add_process(HealthProcess())
    trace = ReplayTrace.attach(rt)
    rt.add_source(source)
    rt.run()
    if source.skipped:
        raise ValueError(f"{recording}: unreadable lines: {source.problems[:3]}")
    return {
        "state": {key: _plain(rt.state.get(key)) for key in PROJECTED_KEYS},
        "history_lengths": {key: history_length(rt.state.get(key)) for key in HISTORY_KEYS},
        "health_transitions": [
            [evt.payload.previous, evt.payload.status] for evt in trace.derived(HealthChanged)
        ],
    }


def describe(recording: Path) -> dict[str, Any]:
    """What ``recording`` holds: message counts, event total and time span.

    Raises:
        ValueError: if a line cannot be read, or the recording is empty.
    """
    source = JsonlSource(recording)
    names: Counter[str] = Counter()
    recorded: list[list[str]] = []
    first = last = None
    for evt in source:
        names[evt.name] += 1
        first = evt.time if first is None else min(first, evt.time)
        last = evt.time if last is None else max(last, evt.time)
        if isinstance(evt.payload, HealthChanged):
            recorded.append([evt.payload.previous, evt.payload.status])
    if source.skipped:
        raise ValueError(f"{recording}: unreadable lines: {source.problems[:3]}")
    if first is None or last is None:
        raise ValueError(f"{recording}: no events")
    return {
        "messages": dict(sorted(names.items())),
        "events": names.total(),
        "time_span": {
            "start": first.isoformat(),
            "end": last.isoformat(),
            "seconds": round((last - first).total_seconds(), 6),
        },
        "recorded_health_transitions": recorded,
    }


def manifest_path(recording: Path) -> Path:
    return recording.with_name(recording.name.removesuffix(".jsonl") + ".manifest.json")


def build_manifest(
    recording: Path, made_by: str, recorded_on: str, notes: list[str]
) -> dict[str, Any]:
    """The whole manifest for ``recording`` (see the module docstring)."""
    contents = describe(recording)
    recorded = contents.pop("recorded_health_transitions")
    return {
        "scenario": recording.name.removesuffix(".jsonl"),
        "made_by": made_by,
        "recorded_on": recorded_on,
        "notes": notes,
        **contents,
        "expected": expected_outcome(recording),
        "recorded_health_transitions": recorded,
    }


def write_manifest(
    recording: Path,
    made_by: str | None = None,
    notes: list[str] | None = None,
    recorded_on: str | None = None,
) -> Path:
    """Write the manifest beside ``recording``.

    Without ``made_by`` this is a refresh of a recording already described: the old
    manifest's ``made_by``, ``recorded_on`` and ``notes`` are kept (unless given).

    Raises:
        ValueError: if there is no ``made_by`` given or on file, or the recording is unreadable.
    """
    path = manifest_path(recording)
    old: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if made_by is None:  # a refresh: the recording is the one the old manifest describes
        made_by = old.get("made_by")
        recorded_on = recorded_on or old.get("recorded_on")
        notes = list(old.get("notes", [])) if notes is None else notes
    if not made_by:
        raise ValueError(f"{recording}: say how it was made (--made-by); no manifest to keep it")
    notes = notes or []
    recorded_on = recorded_on or datetime.now(UTC).date().isoformat()
    manifest = build_manifest(recording, made_by, recorded_on, notes)
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", nargs="+", type=Path)
    parser.add_argument("--made-by", help="the exact command that made the recording")
    parser.add_argument("--note", action="append", dest="notes", help="a note (repeatable)")
    parser.add_argument("--recorded-on", help="date of the recording (default: kept or today)")
    args = parser.parse_args(argv)
    if args.made_by and len(args.recordings) > 1:
        parser.error("--made-by describes one recording; give one file")
    status = 0
    for recording in args.recordings:
        try:
            path = write_manifest(recording, args.made_by, args.notes, args.recorded_on)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"wrote {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
