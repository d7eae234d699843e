"""Shared helpers for the integration tests: the corpus, its manifests, and replaying them.

Tests that take a ``recording`` argument run once per ``tests/corpus/*.jsonl`` file, and
those taking ``manifest_path`` once per ``*.manifest.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource
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

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPOSITORY_ROOT / "tests" / "corpus"

PROJECTED_KEYS = (*STATE_PATHS.values(), IDENTITY_STATE, HEALTH_STATE)
HISTORY_KEYS = (CPU_HISTORY, NETWORK_HISTORY, DISK_IO_HISTORY)


def corpus_recordings() -> list[Path]:
    return sorted(CORPUS.glob("*.jsonl"))


def corpus_manifests() -> list[Path]:
    return sorted(CORPUS.glob("*.manifest.json"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "recording" in metafunc.fixturenames:
        found = corpus_recordings()
        metafunc.parametrize("recording", found, ids=[p.stem for p in found])
    if "manifest_path" in metafunc.fixturenames:
        found = corpus_manifests()
        ids = [p.name.removesuffix(".manifest.json") for p in found]
        metafunc.parametrize("manifest_path", found, ids=ids)


@dataclass(frozen=True)
class ReplayOutcome:
    """What replaying a recording through the app's processes left behind."""

    state: dict[str, Any]
    """Final value of each projected key, as JSON reads it back (None where unset)."""
    history_lengths: dict[str, int]
    derived_transitions: list[list[str]]
    """``[previous, status]`` of each health change `HealthProcess` emitted during replay."""
    replayed: int
    skipped: int


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


def replay(recording: Path, sink_root: Path | None = None) -> ReplayOutcome:
    """Replay ``recording`` as fast as possible with the app's processes (and a JSONL sink)."""
    source = JsonlSource(recording)
    rt = ReplayRuntime(speed=0)
    rt.add_process(SystemProcess())
    rt.add_process(HealthProcess())
    if sink_root is not None:
        rt.add_sink(JsonlSink(sink_root))
    # The recording holds the live health changes too, and replay re-emits them: the trace
    # tells those from the ones this replay derived.
    trace = ReplayTrace.attach(rt)
    rt.add_source(source)
    rt.run()
    return ReplayOutcome(
        state={key: _as_json(rt.state.get(key)) for key in PROJECTED_KEYS},
        history_lengths={key: history_length(rt.state.get(key)) for key in HISTORY_KEYS},
        derived_transitions=[
            [evt.payload.previous, evt.payload.status] for evt in trace.derived(HealthChanged)
        ],
        replayed=rt.replayed,
        skipped=source.skipped,
    )


@pytest.fixture
def replay_recording() -> Callable[..., ReplayOutcome]:
    """`replay` as a fixture, for tests that cannot import this module."""
    return replay


def load_manifest(path: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


@pytest.fixture
def read_manifest() -> Callable[[Path], dict[str, Any]]:
    return load_manifest
