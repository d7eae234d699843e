"""Replaying each corpus recording through the app's processes yields exactly its manifest."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bussdcc_framework.io.jsonl import JsonlSource
from bussdcc_system_health.message import HealthChanged

Replay = Callable[..., Any]
ReadManifest = Callable[[Path], dict[str, Any]]


def _recording_of(manifest_path: Path) -> Path:
    return manifest_path.with_name(manifest_path.name.removesuffix(".manifest.json") + ".jsonl")


def test_replay_gives_the_expected_state(
    manifest_path: Path, replay_recording: Replay, read_manifest: ReadManifest
) -> None:
    expected = read_manifest(manifest_path)["expected"]
    outcome = replay_recording(_recording_of(manifest_path))
    assert outcome.skipped == 0
    for key, value in expected["state"].items():
        assert outcome.state[key] == value, f"state {key!r} differs after replay"
    assert outcome.state.keys() == expected["state"].keys()
    assert outcome.history_lengths == expected["history_lengths"]


def test_replay_gives_the_expected_health_transitions(
    manifest_path: Path, replay_recording: Replay, read_manifest: ReadManifest
) -> None:
    expected = read_manifest(manifest_path)["expected"]["health_transitions"]
    outcome = replay_recording(_recording_of(manifest_path))
    assert outcome.derived_transitions == expected


def test_replayed_health_follows_the_live_verdicts(
    recording: Path, replay_recording: Replay
) -> None:
    # The live HealthProcess saw the same telemetry in the same order: replay must reach the
    # same conclusions, and the recorded health events it re-emits must not overwrite state.
    live = [
        [evt.payload.previous, evt.payload.status]
        for evt in JsonlSource(recording, names={HealthChanged.name})
        if isinstance(evt.payload, HealthChanged)
    ]
    outcome = replay_recording(recording)
    derived = outcome.derived_transitions
    assert derived == live
    assert derived, "every corpus recording carries telemetry, so health is evaluated"
    assert derived[0][0] == "unknown"
    for before, after in itertools.pairwise(derived):
        assert after[0] == before[1], "each transition starts where the previous ended"
    assert outcome.state["system.health"]["status"] == derived[-1][1]


def test_manifest_describes_the_recording(manifest_path: Path, read_manifest: ReadManifest) -> None:
    manifest = read_manifest(manifest_path)
    events = list(JsonlSource(_recording_of(manifest_path)))
    counts = Counter(evt.name for evt in events)
    assert manifest["messages"] == dict(counts)
    assert manifest["events"] == len(events) == counts.total()
    times = [evt.time for evt in events]
    span = manifest["time_span"]
    assert span["start"] == min(times).isoformat()
    assert span["end"] == max(times).isoformat()
    assert span["seconds"] == round((max(times) - min(times)).total_seconds(), 6)


def test_replay_re_emits_every_recorded_event(recording: Path, replay_recording: Replay) -> None:
    outcome = replay_recording(recording)
    assert outcome.replayed == sum(1 for _ in JsonlSource(recording))
