"""0.42/0.46 users' programs run unchanged on 0.43/0.47: same observations, only warnings.

Each program in ``programs/`` was run on the published bussdcc 0.42.0 + bussdcc-framework
0.46.0 and its output kept in ``expected/``; here it runs on today's packages in a fresh
interpreter (so every import-time warning is seen) and must print the same.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
EXPECTED = HERE / "expected"


def _run(program: str, *args: str) -> tuple[dict[str, object], list[str]]:
    done = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", str(PROGRAMS / program), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    warnings = re.findall(r"DeprecationWarning: (.*)", done.stderr)
    assert "Traceback (most recent call last)" not in done.stderr, done.stderr
    others = [
        line
        for line in done.stderr.splitlines()
        if line.strip() and not line.startswith("  ") and "DeprecationWarning" not in line
    ]
    assert others == [], done.stderr  # warnings only: nothing else was reported
    return json.loads(done.stdout), warnings


def test_a_0_42_kernel_program_observes_what_it_observed_on_0_42() -> None:
    result, warnings = _run("kernel_042.py")
    assert result == json.loads((EXPECTED / "kernel_042.json").read_text())
    # Every legacy form used warns and names its replacement.
    for needle in (
        "importing bussdcc.device",
        "bussdcc.event.EventBus",
        "importing bussdcc.message.device",
        "Runtime(events=...)",
        "Runtime.booted",
        "Runtime.version",
        "overriding Runtime._on_boot",
        "events.emit(Event(...))",
        "events.unsubscribe(subscription)",
        "Device.set_offline(exception)",
        "manager.list()",
        "rt.services.names()",
        "rt.services.is_running(name)",
        "rt.services.stop_all()",
        "ProcessError(process, error, evt, traceback)",
        "ProcessError.evt",
        "booting a runtime again after shutdown",
    ):
        assert any(needle in w for w in warnings), f"no warning for {needle}"
    assert all("use " in w for w in warnings)


def test_a_0_46_framework_program_records_and_replays_the_same_data(tmp_path: Path) -> None:
    result, warnings = _run("framework_046.py", str(tmp_path))
    assert result == json.loads((EXPECTED / "framework_046.json").read_text())
    assert result["secret_on_disk"] is False  # transform() is honoured: redacted on disk
    for needle in (
        "bussdcc_framework.SignalRuntime",
        "JsonlSource(root=...)",
        "overriding transform()/json_fallback()",
        "bussdcc_framework.message.SinkHandlerError",
    ):
        assert any(needle in w for w in warnings), f"no warning for {needle}"


@pytest.mark.parametrize("program", sorted(p.name for p in PROGRAMS.glob("*.py")))
def test_every_program_has_its_0_4x_output(program: str) -> None:
    assert (EXPECTED / program.replace(".py", ".json")).is_file()
