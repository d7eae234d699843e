"""SIGTERM and SIGINT always end the real app cleanly, whichever thread gets them and when.

Each test runs ``python -m bussdcc_system_health`` in a subprocess with browsers (Socket.IO
clients) connected and pushes flowing, and sends the signal the way the OS or an operator
would: to the process (the kernel picks any thread that does not block it), or aimed at one
chosen thread with ``tgkill``, as a signal raised by a thread or a fault would be. The app
must exit 0 with ``runtime.shutdown`` as the last recorded event; while it is still
starting, it must stop with one line and no traceback.

How long each stop took is printed (``-s`` shows it); the waits here only catch a hang.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bussdcc_framework.testing import SocketIORecorder, segment_lines

HANG = 60.0
"""Real seconds after which a process that has not exited is declared hung (not a goal)."""

RUNS_PER_THREAD_TEST = 10
"""Before the fix a SIGTERM aimed at a non-main thread was ignored every time: ten runs
catch that; they also cover a random spread of threads."""
RUNS_PER_PROCESS_TEST = 8
"""Before the fix about half of the plain kills were missed: eight runs all pass by chance
with odds under 1 in 100."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find thread ids"
    ),
]

_SYS_TGKILL = {"x86_64": 234, "aarch64": 131, "armv7l": 268, "armv6l": 268, "i686": 270}


def tgkill(pid: int, tid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to thread ``tid`` of process ``pid`` (not to the process as a whole)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if hasattr(libc, "tgkill"):  # glibc >= 2.30
        result = libc.tgkill(pid, tid, int(sig))
    else:  # pragma: no cover - older C libraries: the raw system call
        result = libc.syscall(_SYS_TGKILL[platform.machine()], pid, tid, int(sig))
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"tgkill({pid}, {tid}, {sig.name}): {os.strerror(err)}")


def thread_ids(pid: int) -> list[int]:
    """The kernel's ids of the threads of ``pid``, the main thread (tid == pid) first."""
    tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    return sorted(tids, key=lambda tid: tid != pid)


def has_loaded(pid: int, library: str) -> bool:
    """Whether ``pid`` has mapped a shared object whose path contains ``library``."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


class App:
    """The app in a subprocess: its stderr read as it comes, its URL once it serves."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bussdcc_system_health",
                "--port",
                "0",
                "--interval",
                "0.05",
                "--data-dir",
                str(data_dir),
                "--quiet",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.stderr: list[str] = []
        self.url: str | None = None
        self.serving = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            found = re.search(r"dashboard at (http://\S+)", line)
            if found:
                self.url = found.group(1)
                self.serving.set()
        self.serving.set()  # ended before serving: let the waiter see why

    def wait_serving(self) -> str:
        assert self.serving.wait(HANG), "the app did not start"
        assert self.url is not None, self.output()
        return self.url

    def finish(self) -> int:
        try:
            code = self.proc.wait(HANG)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(HANG)
            raise AssertionError(f"the app ignored the signal:\n{self.output()}") from None
        self._reader.join(HANG)
        return code

    def output(self) -> str:
        return "".join(self.stderr)

    def recorded_names(self) -> list[str]:
        names: list[str] = []
        for line in segment_lines(self.data_dir / "history"):
            found = re.search(rb'"name":"([^"]+)"', line)
            if found:
                names.append(found.group(1).decode())
        return names


@pytest.fixture
def apps() -> Iterator[list[App]]:
    started: list[App] = []
    yield started
    for app in started:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait(HANG)


def stop_with_clients(
    app: App, send: object, sig: signal.Signals, clients: int = 2
) -> tuple[int, float]:
    """Connect ``clients`` browsers, let pushes flow, call ``send()``; (exit code, seconds)."""
    url = app.wait_serving()
    recorders = [SocketIORecorder(timeout=HANG) for _ in range(clients)]
    try:
        for recorder in recorders:
            recorder.connect(url, transports=["websocket"])
        # Traffic in the last moments: wait until pushes are arriving.
        recorders[0].wait_for(lambda: len(recorders[0].events) >= 1, "a pushed event")
        began = time.monotonic()
        send()  # type: ignore[operator]
        code = app.finish()
        return code, time.monotonic() - began
    finally:
        for recorder in recorders:
            recorder.disconnect()


def check_clean_stop(app: App, code: int) -> None:
    output = app.output()
    assert code == 0, output
    assert "Traceback" not in output, output
    names = app.recorded_names()
    assert names and names[-1] == "runtime.shutdown", names[-5:]


def test_sigterm_or_sigint_aimed_at_any_thread_ends_the_app(
    apps: list[App], tmp_path: Path
) -> None:
    durations: list[float] = []
    hit_other_threads = 0
    for run in range(RUNS_PER_THREAD_TEST):
        app = App(tmp_path / f"run{run}")
        apps.append(app)
        app.wait_serving()
        tids = thread_ids(app.proc.pid)
        # Every run a different thread, and never the main one: the case that was ignored.
        others = tids[1:]
        assert others, "the app runs more than one thread"
        tid = others[run % len(others)]
        hit_other_threads += tid != app.proc.pid
        sig = signal.SIGTERM if run % 4 else signal.SIGINT

        def send(pid: int = app.proc.pid, tid: int = tid, sig: signal.Signals = sig) -> None:
            tgkill(pid, tid, sig)

        code, took = stop_with_clients(app, send, sig)
        check_clean_stop(app, code)
        durations.append(took)
    assert hit_other_threads == RUNS_PER_THREAD_TEST
    print(f"\nstop after a signal to a non-main thread: max {max(durations):.2f} s")


def test_sigterm_to_the_process_with_clients_connected_ends_the_app(
    apps: list[App], tmp_path: Path
) -> None:
    durations: list[float] = []
    for run in range(RUNS_PER_PROCESS_TEST):
        app = App(tmp_path / f"run{run}")
        apps.append(app)

        def send(proc: subprocess.Popen[str] = app.proc) -> None:
            proc.send_signal(signal.SIGTERM)

        code, took = stop_with_clients(app, send, signal.SIGTERM, clients=3)
        check_clean_stop(app, code)
        durations.append(took)
    print(f"\nstop after a plain kill: max {max(durations):.2f} s")


# Delays after the app has begun importing its dependencies (msgspec's C core is mapped: the
# codec, the first compiled library the app loads; the interpreter's own start-up is over
# by then), through the imports, parsing, building, binding and booting.
STARTUP_DELAYS = (0.0, 0.02, 0.06, 0.15, 0.3, 0.6)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_while_starting_stops_cleanly_without_a_traceback(
    apps: list[App], tmp_path: Path, sig: signal.Signals
) -> None:
    stopped_early = 0
    for run, delay in enumerate(STARTUP_DELAYS):
        app = App(tmp_path / f"run{run}")
        apps.append(app)
        give_up = time.monotonic() + HANG
        while not has_loaded(app.proc.pid, "msgspec"):
            assert app.proc.poll() is None, app.output()
            assert time.monotonic() < give_up, "the app never loaded its codec"
            time.sleep(0.0005)
        time.sleep(delay)
        app.proc.send_signal(sig)
        code = app.finish()
        output = app.output()
        assert code == 0, output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
        lines = output.splitlines()
        if f"stopped by {sig.name} while starting" in output:
            stopped_early += 1
            assert len(lines) == 1, output  # the one line, nothing else
        else:
            # It had booted: a full run with its shutdown recorded.
            assert app.recorded_names()[-1] == "runtime.shutdown"
    # The earliest delays land before boot on any machine.
    assert stopped_early >= 1
