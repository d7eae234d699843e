"""Replay is deterministic: a replay re-recorded, replayed and re-recorded again is identical."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bussdcc_framework.io.jsonl import JsonlSource

Replay = Callable[..., Any]


def _files(root: Path) -> dict[str, bytes]:
    """Every segment under ``root`` by relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*.jsonl"))
    }


def test_re_recorded_replay_is_reproduced_exactly(
    recording: Path, tmp_path: Path, replay_recording: Replay
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    replay_recording(recording, sink_root=first)
    replay_recording(first, sink_root=second)
    a, b = _files(first), _files(second)
    assert a, "the sink recorded nothing"
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].splitlines() == b[name].splitlines(), f"segment {name} differs"


def test_re_recorded_replay_holds_the_original_events(
    recording: Path, tmp_path: Path, replay_recording: Replay
) -> None:
    replay_recording(recording, sink_root=tmp_path)
    original = list(JsonlSource(recording))
    re_recorded = list(JsonlSource(tmp_path))
    assert len(re_recorded) == len(original)
    assert re_recorded == original  # same times, payloads and seqs, in the same order
