"""Runs every test stage of the monorepo and ends with one summary of stages, counts and verdicts.

`hatch run all` runs this. Each stage is a hatch command; all stages run even when one fails
(a newcomer sees every problem at once), and the exit code is non-zero when any failed. The
last line is ``all: N passed, N failed`` so CI and a person read the same verdict.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass

STAGES: tuple[tuple[str, list[str]], ...] = (
    ("lint (ruff, mypy --strict)", ["hatch", "run", "lint"]),
    ("kernel alone", ["hatch", "run", "kernel:test"]),
    # Each suite runs once per environment that proves something: the framework's tests
    # with the kernel alone below it, the app's with all three from source, the
    # cross-package suite (tests/) against the built wheels -- stricter than the source
    # tree, which `hatch run test` also runs it against while developing.
    (
        "kernel + framework",
        ["hatch", "run", "framework:pytest", "packages/bussdcc-framework/tests"],
    ),
    ("app, all three from source", ["hatch", "run", "test", "apps/bussdcc-system-health/tests"]),
    ("built wheels", ["hatch", "run", "wheels:test"]),
    ("lowest dependency versions", ["hatch", "run", "lowest:test"]),
)

# pytest's closing line, e.g. "==== 3 failed, 120 passed, 2 skipped in 4.2s ====".
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")
_CLOSING = re.compile(r"^=+ .*\bin [\d.]+s\b.*=+$")


@dataclass
class StageResult:
    name: str
    returncode: int
    seconds: float
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _counts(output: str) -> dict[str, int]:
    """The counts of the last pytest closing line in ``output`` (empty for non-pytest stages)."""
    closing = [line for line in output.splitlines() if _CLOSING.match(line.strip())]
    if not closing:
        return {}
    counts: dict[str, int] = {}
    for number, kind in _COUNT.findall(closing[-1]):
        key = "errors" if kind.startswith("error") else kind
        counts[key] = counts.get(key, 0) + int(number)
    return counts


def run_stage(name: str, command: list[str]) -> StageResult:
    print(f"\n==> {name}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    # Output is streamed as it comes (a slow stage shows progress) and kept for the counts.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    returncode = process.wait()
    return StageResult(name, returncode, time.monotonic() - started, _counts("".join(lines)))


def summary(results: list[StageResult]) -> str:
    width = max(len(r.name) for r in results)
    rows = ["", "Summary", "-------"]
    totals: dict[str, int] = {}
    for result in results:
        for key, value in result.counts.items():
            totals[key] = totals.get(key, 0) + value
        counts = ", ".join(f"{v} {k}" for k, v in result.counts.items()) or "-"
        verdict = "ok" if result.ok else f"FAILED (exit {result.returncode})"
        rows.append(f"{result.name:<{width}}  {verdict:<18} {result.seconds:6.0f} s  {counts}")
    failed_stages = sum(not r.ok for r in results)
    rows.append(f"stages: {len(results) - failed_stages} ok, {failed_stages} failed")
    # A stage that failed without a failing test (lint, an install step) still counts once.
    silent = sum(
        1 for r in results if not r.ok and not (r.counts.get("failed") or r.counts.get("errors"))
    )
    failed = totals.get("failed", 0) + totals.get("errors", 0) + silent
    skipped = totals.get("skipped", 0)
    tail = f", {skipped} skipped" if skipped else ""
    rows.append(f"all: {totals.get('passed', 0)} passed, {failed} failed{tail}")
    return "\n".join(rows)


def main() -> int:
    results = [run_stage(name, command) for name, command in STAGES]
    print(summary(results), flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
