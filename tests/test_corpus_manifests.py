"""The corpus itself: paired with manifests, small, in the wire format, and reproducible."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from bussdcc_framework.codec import decode_event

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPOSITORY_ROOT / "tests" / "corpus"
GENERATE_PI = REPOSITORY_ROOT / "tools" / "corpus" / "generate_pi.py"
MAX_CORPUS_BYTES = 3 * 1024 * 1024
WIRE_KEYS = {"time", "seq", "name", "type", "severity", "data"}
SCENARIOS = {"idle", "cpu-load", "network-burst", "disk-io", "raspberry-pi"}

ReadManifest = Callable[[Path], dict[str, Any]]

# Lifecycle messages carry the emitting package's version: a release changes those and
# nothing else, so the reproducibility check masks them rather than fail on every release.
_VERSION_FIELD = re.compile(
    rb'("name":"(?:runtime\.booting|runtime\.booted|framework\.booted)"'
    rb'.*"data":\{"version":)"[^"]*"'
)


def _stems(pattern: str, suffix: str) -> set[str]:
    return {p.name.removesuffix(suffix) for p in CORPUS.glob(pattern)}


def test_every_recording_has_a_manifest_and_every_manifest_a_recording() -> None:
    recordings = _stems("*.jsonl", ".jsonl")
    manifests = _stems("*.manifest.json", ".manifest.json")
    assert recordings == manifests
    assert recordings >= SCENARIOS


def test_corpus_stays_small() -> None:
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert 0 < total < MAX_CORPUS_BYTES


def test_every_line_is_a_wire_format_event(recording: Path) -> None:
    lines = recording.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the file ends with a complete line"
    seqs = []
    for number, line in enumerate(lines[:-1], 1):
        record = json.loads(line)
        assert set(record) == WIRE_KEYS, f"line {number}: keys {sorted(record)}"
        assert record["time"].endswith("Z"), f"line {number}: time is not UTC"
        evt = decode_event(line)  # validates data against the message class
        assert evt.name == record["name"]
        assert evt.payload.severity.label == record["severity"]
        seqs.append(evt.seq)
    assert seqs == list(range(1, len(seqs) + 1)), "one runtime's events, none missing"


def test_manifest_says_how_it_was_made(manifest_path: Path, read_manifest: ReadManifest) -> None:
    manifest = read_manifest(manifest_path)
    scenario = manifest_path.name.removesuffix(".manifest.json")
    assert manifest["scenario"] == scenario
    command = manifest["made_by"].split()
    assert command[0] == "python"
    assert (REPOSITORY_ROOT / command[1]).is_file(), f"{command[1]} regenerates it"
    if command[1].endswith("record.py"):
        assert command[2] == scenario
    date.fromisoformat(manifest["recorded_on"])
    span = manifest["time_span"]
    assert datetime.fromisoformat(span["start"]) <= datetime.fromisoformat(span["end"])
    assert set(manifest["expected"]) >= {"state", "history_lengths", "health_transitions"}


def _generate_pi(out: Path) -> bytes:
    subprocess.run(
        [sys.executable, str(GENERATE_PI), "--out", str(out), "--no-manifest"],
        check=True,
        capture_output=True,
    )
    return (out / "raspberry-pi.jsonl").read_bytes()


def _mask_versions(data: bytes) -> bytes:
    return _VERSION_FIELD.sub(rb'\1"<version>"', data)


@pytest.mark.slow
def test_pi_session_is_reproducible(tmp_path: Path) -> None:
    first = _generate_pi(tmp_path / "first")
    second = _generate_pi(tmp_path / "second")
    assert first == second, "same seed, different bytes"
    committed = (CORPUS / "raspberry-pi.jsonl").read_bytes()
    assert _mask_versions(first).count(b'"<version>"') == 3
    assert _mask_versions(first) == _mask_versions(committed), (
        "tests/corpus/raspberry-pi.jsonl is not what tools/corpus/generate_pi.py makes; "
        "regenerate it (and its manifest) if the change is intended"
    )
