"""Hostile history replayed by the real app: nothing in it runs, nothing crashes or stalls.

``bussdcc-system-health replay`` in a subprocess, at real speed (1), over history folders
holding random bytes, a huge line, years 0001 and 9999, an hour's gap, and types naming
``__main__`` modules (the app's own entry point among them). The good events are replayed,
each bad line is reported naming its file and line, and input without one readable event
exits non-zero with one clear line.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TIMEOUT = 120.0
"""Seconds a replay may take on a loaded machine; an hour-long stall would blow it."""


def record(time: str, seq: int, name: str = "system.load.updated", **fields: object) -> bytes:
    data = {"load1": 0.5, "load5": 0.4, "load15": 0.3, "cores": 4, **fields}
    data.update(load1_per_core=0.125, load5_per_core=0.1, load15_per_core=0.075)
    line = {"time": time, "seq": seq, "name": name, "severity": "info", "data": data}
    return json.dumps(line).encode()


def replay(source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "bussdcc_system_health", "replay"),
            *("--port", "0", "--quiet", *extra, str(source)),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def replayed(result: subprocess.CompletedProcess[str]) -> int:
    return int(result.stderr.split("replayed ")[1].split()[0])


def test_hostile_lines_are_skipped_naming_file_and_line_and_never_run_anything(
    tmp_path: Path,
) -> None:
    day = tmp_path / "history" / "2026-03-09"
    day.mkdir(parents=True)
    marker = tmp_path / "ran"
    rng = random.Random(11)
    lines = [
        record("2026-03-09T12:00:00Z", 1),
        bytes(rng.randrange(256) for _ in range(4096)).replace(b"\n", b" "),  # random bytes
        record("0001-01-01T00:00:00Z", 2),
        record("9999-12-31T23:59:59Z", 3),
        b"z" * (3 * 1024 * 1024),  # a huge line of garbage
        # Types naming __main__ modules, the app's own first: importing it would start a
        # second app. The data would also be a shell command if anything executed it.
        json.dumps(
            {
                "time": "2026-03-09T12:00:01Z",
                "seq": 4,
                "name": "evil.main",
                "type": "bussdcc_system_health.__main__:Evil",
                "data": {"cmd": f"touch {marker}"},
            }
        ).encode(),
        json.dumps(
            {"time": "2026-03-09T12:00:01Z", "seq": 5, "type": "__main__:Evil", "data": {}}
        ).encode(),
        record("2026-03-09T12:00:02Z", 6),
    ]
    segment = day / "12-00-00.jsonl"
    segment.write_bytes(b"\n".join(lines) + b"\n")

    result = replay(tmp_path / "history", "--speed", "1", "--max-gap", "0.2")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert replayed(result) == 2
    assert result.stderr.count("dashboard at") == 1  # no second app was started
    assert not marker.exists()
    for line_no in (2, 3, 4, 5, 6, 7):
        assert f"{segment} line {line_no}:" in result.stderr
    assert "out of range" in result.stderr
    assert "skipped 6 unreadable line(s)" in result.stderr


def test_a_replay_at_speed_one_shortens_an_hour_gap_and_survives_the_calendar_ends(
    tmp_path: Path,
) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(
        b"\n".join(
            [
                record("0001-01-03T00:00:00Z", 1),  # far but representable: replayed
                record("2026-03-09T12:00:00Z", 2),
                record("2026-03-09T13:00:00Z", 3),  # an hour later
                record("2026-03-09T12:30:00Z", 4),  # a step back
                record("9999-12-29T00:00:00Z", 5),
            ]
        )
    )

    # The default max_gap (10 s) turns the hour, and the millennia, into seconds each.
    result = replay(source, "--speed", "1")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert replayed(result) == 5


@pytest.mark.parametrize(
    "content",
    [b"", b"root:x:0:0:root:/root:/bin/bash\n", bytes(range(256)) * 64],
    ids=["empty", "passwd", "random bytes"],
)
def test_input_without_a_readable_event_exits_1_with_one_clear_line(
    tmp_path: Path, content: bytes
) -> None:
    source = tmp_path / "not-history.jsonl"
    source.write_bytes(content)

    result = replay(source, "--speed", "0")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    expected = f"no readable event in {source}: nothing readable to replay"
    assert last == f"bussdcc-system-health: error: {expected}"
