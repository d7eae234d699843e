"""What a newcomer runs: the README's two commands, CI running the same test command, and the
summary that ends a test run."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def _run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "tools" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module
    spec.loader.exec_module(module)
    return module


def test_readme_set_up_is_two_commands_and_ci_runs_the_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    set_up = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    start, test = _bash_blocks(set_up)
    assert start.startswith("python3 -m venv ") and start.endswith("bussdcc-system-health")
    # No pip install into the system Python: Debian 12 refuses it (PEP 668).
    assert "python3 -m pip install" not in test and "python3 -m venv" in test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()


def test_summary_counts_every_stage_and_a_silent_failure() -> None:
    run_all = _run_all()
    output = "collected\n===== 3 failed, 120 passed, 2 skipped in 4.20s =====\n"
    assert run_all._counts(output) == {"failed": 3, "passed": 120, "skipped": 2}
    assert run_all._counts("All checks passed!\n") == {}
    results = [
        run_all.StageResult("lint", 1, 3.0, {}),
        run_all.StageResult("kernel", 0, 5.0, {"passed": 10}),
        run_all.StageResult("all", 1, 9.0, {"passed": 7, "failed": 2}),
    ]
    text = run_all.summary(results)
    assert "stages: 1 ok, 2 failed" in text
    # The lint failure had no failing test, yet counts once: the verdict is never green.
    assert text.splitlines()[-1] == "all: 17 passed, 3 failed"
