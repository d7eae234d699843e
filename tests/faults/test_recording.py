"""Recording under faults, on the real app in a subprocess: what a user sees and what is kept.

Each test runs ``python -m bussdcc_system_health`` on a data directory, injects a fault while
it records -- SIGKILL, a full disk, a read-only or deleted or replaced history folder -- and
checks what the user is told (``sink.error`` on the console, the health reason on
/api/health), that recording resumes within a few seconds of the cause going away
(``sink.recovered``), and that nothing already written is lost.

The disk and read-only faults mount a small tmpfs, which needs root (or CAP_SYS_ADMIN). They
are skipped where mounting is impossible -- but never in CI (``CI=true``), where a failed
mount fails the test: the CI runner is root.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bussdcc_framework.io.jsonl import JsonlSource
from bussdcc_framework.testing import segment_lines
from bussdcc_system_health import message as _messages  # noqa: F401 (registers the telemetry)

pytestmark = pytest.mark.slow

STARTUP = 60.0
"""Seconds a starting app may take on a loaded 2-core CI machine."""

RECOVERY = 20.0
"""Seconds we wait for recording to resume; the sink retries at most 5 s apart."""

HISTORY_REASON = "history is not being recorded"


class App:
    """The app in a subprocess, its console events (stdout JSON lines) collected as they come."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bussdcc_system_health"),
                *("--port", "0", "--data-dir", str(data_dir), "--console", *extra),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.url = ""
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                record = json.loads(raw)
                with self._changed:
                    self.events.append(record)
                    self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            with self._changed:
                self.stderr.append(line)
                if "dashboard at " in line:
                    self.url = line.split("dashboard at ")[1].split()[0].rstrip("/")
                self._changed.notify_all()

    def wait(self, predicate: Callable[[], bool], what: str, timeout: float = STARTUP) -> None:
        with self._changed:
            if not self._changed.wait_for(
                lambda: predicate() or self.proc.poll() is not None, timeout
            ):
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        assert predicate(), f"the app ended while waiting for {what}:\n{''.join(self.stderr)}"

    def started(self) -> App:
        self.wait(lambda: bool(self.url), "the dashboard")
        return self

    def named(self, name: str) -> list[dict[str, Any]]:
        with self._changed:
            return [record for record in self.events if record["name"] == name]

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/api/health", timeout=10) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        for reader in self._readers:
            reader.join(10)
        return code


@pytest.fixture
def apps() -> Iterator[list[App]]:
    started: list[App] = []
    yield started
    for app in started:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait(10)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float) -> float:
    """Poll ``predicate``; return when it held (time.time()). No test asserts on the time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.time()
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def history_records(root: Path) -> list[dict[str, Any]]:
    """Every line of every segment under ``root`` that is valid JSON, in file order."""
    records = []
    for line in segment_lines(root):
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    return records


def runs(records: list[dict[str, Any]]) -> list[list[int]]:
    """The ``seq`` numbers of each run of the app, split where ``seq`` starts again."""
    found: list[list[int]] = []
    for record in records:
        if not found or record["seq"] <= found[-1][-1]:
            found.append([])
        found[-1].append(record["seq"])
    return found


def health_reasons(app: App) -> list[str]:
    reasons: list[str] = app.health().get("reasons", [])
    return reasons


def mount_tmpfs(where: Path, options: str) -> None:
    """Mount a tmpfs at ``where``; skip the test if this machine cannot (never in CI)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}; CI runs as root and must run this test")
        pytest.skip(why)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points to unmount at the end (last mounted first, lazily if busy)."""
    mounted: list[Path] = []
    yield mounted
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


# --- SIGKILL ---------------------------------------------------------------------------------


def test_sigkill_at_random_moments_loses_at_most_the_line_in_flight(
    tmp_path: Path, apps: list[App]
) -> None:
    rng = random.Random()
    history = tmp_path / "history"
    kills = 4
    for _ in range(kills):
        app = App(tmp_path, "--interval", "0.01", "--quiet")
        apps.append(app)
        app.started()
        wait_until(lambda: bool(history_records(history)), "recorded lines", STARTUP)
        time.sleep(rng.uniform(0.0, 0.5))  # a random moment while recording at 100 samples/s
        app.proc.send_signal(signal.SIGKILL)
        app.proc.wait(30)

    source = JsonlSource(history)
    read = list(source)
    # At most the line in flight per kill; each is torn at the end of a file, or a fragment
    # the next run ended with a newline before appending.
    assert source.skipped <= kills, source.problems
    for problem in source.problems:
        assert "torn" in problem.reason or "not valid JSON" in problem.reason, problem
    # Everything before the line in flight is there: each run's seq numbers have no hole.
    records = history_records(history)
    assert len(records) == len(read)
    found = runs(records)
    assert len(found) == kills
    for seqs in found:
        assert seqs == list(range(seqs[0], seqs[-1] + 1))


# --- a full disk -----------------------------------------------------------------------------


def fill(disk: Path) -> Path:
    """Fill ``disk`` until the filesystem says ENOSPC; return the filler file."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out, pytest.raises(OSError) as caught:
        _write_forever(out.fileno())
    assert caught.value.errno == errno.ENOSPC
    return filler


def _write_forever(fd: int) -> None:
    block = b"\0" * (64 * 1024)
    while True:
        os.write(fd, block)


def test_disk_full_is_loud_and_recording_resumes_within_seconds_of_space_freed(
    tmp_path: Path, apps: list[App], mounts: list[Path]
) -> None:
    data = tmp_path / "data"
    mount_tmpfs(data, "size=8m")
    mounts.append(data)
    app = App(data, "--interval", "0.05")
    apps.append(app)
    app.started()
    history = data / "history"
    wait_until(lambda: bool(history_records(history)), "recorded lines", STARTUP)

    filler = fill(data)
    app.wait(lambda: bool(app.named("sink.error")), "sink.error", RECOVERY)
    [error] = app.named("sink.error")
    assert error["data"]["sink"] == "JsonlSink"
    assert "No space left on device" in error["data"]["error"]
    wait_until(
        lambda: any(HISTORY_REASON in r for r in health_reasons(app)), "the health reason", 10
    )
    assert app.health()["status"] in ("warning", "critical")

    filler.unlink()
    freed = time.time()
    app.wait(lambda: bool(app.named("sink.recovered")), "sink.recovered", RECOVERY)
    wait_until(
        lambda: not any(HISTORY_REASON in r for r in health_reasons(app)),
        "the health reason to clear",
        10,
    )
    assert app.stop() == 0

    [recovered] = app.named("sink.recovered")
    assert recovered["data"]["dropped"] > 0
    records = history_records(history)
    # What was recorded before the disk filled is all still there, and recording went on.
    assert _epoch(records[0]["time"]) < freed
    assert "sink.recovered" in {r["name"] for r in records}
    assert records[-1]["name"] == "runtime.shutdown"
    resumed = min(_epoch(r["time"]) for r in records if _epoch(r["time"]) >= freed)
    print(f"recording resumed {resumed - freed:.2f} s after space was freed")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# --- a read-only, deleted or replaced history folder -----------------------------------------


def test_a_read_only_history_folder_is_loud_and_recording_resumes_when_writable(
    tmp_path: Path, apps: list[App], mounts: list[Path]
) -> None:
    history = tmp_path / "history"
    mount_tmpfs(history, "size=16m")
    mounts.append(history)
    app = App(tmp_path, "--interval", "0.05")
    apps.append(app)
    app.started()
    wait_until(lambda: bool(history_records(history)), "recorded lines", STARTUP)
    before = history_records(history)

    # A read-only filesystem mounted over the folder (as when the kernel remounts a failing
    # SD card read-only): the open segment is no longer reachable, nothing can be created.
    mount_tmpfs(history, "ro,size=1m")
    mounts.append(history)
    app.wait(lambda: bool(app.named("sink.error")), "sink.error", RECOVERY)
    assert any("Read-only file system" in e["data"]["error"] for e in app.named("sink.error"))
    wait_until(
        lambda: any(HISTORY_REASON in r for r in health_reasons(app)), "the health reason", 10
    )

    subprocess.run(["umount", str(history)], check=True)
    mounts.pop()
    app.wait(lambda: bool(app.named("sink.recovered")), "sink.recovered", RECOVERY)
    assert app.stop() == 0

    after = history_records(history)
    assert after[: len(before)] == before  # nothing written before was lost
    assert any(r["name"] == "sink.recovered" for r in after[len(before) :])
    assert after[-1]["name"] == "runtime.shutdown"


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
def test_a_deleted_or_replaced_data_dir_is_loud_and_loses_nothing_emitted(
    tmp_path: Path, apps: list[App], fault: str
) -> None:
    data = tmp_path / "data"
    app = App(data, "--interval", "0.05")
    apps.append(app)
    app.started()
    history = data / "history"
    wait_until(lambda: bool(history_records(history)), "recorded lines", STARTUP)

    if fault == "deleted":
        shutil.rmtree(data)
    else:
        data.rename(tmp_path / "data.old")
        data.mkdir()
    with app._changed:
        emitted_before = max(r["seq"] for r in app.events)

    app.wait(lambda: bool(app.named("sink.error")), "sink.error", RECOVERY)
    [error] = app.named("sink.error")
    assert "deleted or replaced" in error["data"]["error"]
    app.wait(lambda: bool(app.named("sink.recovered")), "sink.recovered", RECOVERY)
    assert app.stop() == 0

    # Every event emitted from the fault on is in the new history (the lines that went into
    # the unreachable file since the last check were written again), sink.error included.
    recorded = {r["seq"] for r in history_records(history)}
    emitted = {r["seq"] for r in app.events if r["seq"] > emitted_before}
    assert emitted - recorded == set()
    assert "sink.error" in {r["name"] for r in history_records(history)}
