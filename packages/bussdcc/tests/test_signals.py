"""`SignalRuntime`: POSIX signals become shutdown, ``system.reload`` and ``system.signal``.

Each test runs the runtime in a child Python process, so the test runner's own signal
handlers are never touched.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest

from bussdcc import SignalRuntime

WAIT = 30.0

CHILD = textwrap.dedent(
    """
    import signal, sys
    from bussdcc import Process, SignalRuntime

    def sentinel(signum, frame):
        pass

    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
        signal.signal(sig, sentinel)
    before_int = signal.getsignal(signal.SIGINT)

    class Echo(Process):
        def handle_event(self, ctx, evt):
            if evt.name in ("runtime.booted", "system.reload", "system.signal",
                            "runtime.shutting_down"):
                print(evt.name, evt.payload.to_dict(), flush=True)

    rt = SignalRuntime()
    rt.register_process(Echo())
    rt.run()
    restored = all(
        signal.getsignal(sig) is sentinel
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM)
    ) and signal.getsignal(signal.SIGINT) is before_int
    print("restored", restored, flush=True)
    print("reason", rt.shutdown_reason, flush=True)
    """
)


class Child:
    """The child runtime: read its lines one at a time, send it signals."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def expect(self, prefix: str) -> str:
        """The next output line, which must start with ``prefix`` (bounded by a watchdog)."""
        assert self.proc.stdout is not None
        watchdog = threading.Timer(WAIT, self.proc.kill)
        watchdog.start()
        try:
            line = self.proc.stdout.readline().rstrip("\n")
        finally:
            watchdog.cancel()
        assert line.startswith(prefix), f"expected {prefix!r}, got {line!r}"
        return line

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def finish(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, err


@pytest.fixture
def child() -> Iterator[Child]:
    running = Child()
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait(WAIT)


def test_sighup_reloads_sigusr_signals_and_sigterm_shuts_down(child: Child) -> None:
    child.expect("runtime.booted")

    child.send(signal.SIGHUP)
    assert child.expect("system.reload") == f"system.reload {{'signal': {int(signal.SIGHUP)}}}"

    child.send(signal.SIGUSR1)
    line = child.expect("system.signal")
    assert line == f"system.signal {{'signal': {int(signal.SIGUSR1)}, 'action': 'SIGUSR1'}}"

    child.send(signal.SIGUSR2)
    assert "'action': 'SIGUSR2'" in child.expect("system.signal")

    child.send(signal.SIGTERM)
    assert (
        child.expect("runtime.shutting_down")
        == "runtime.shutting_down {'reason': 'signal SIGTERM'}"
    )
    assert child.expect("restored") == "restored True"
    assert child.expect("reason") == "reason signal SIGTERM"
    code, err = child.finish()
    assert code == 0, err


def test_sigint_shuts_down_cleanly(child: Child) -> None:
    child.expect("runtime.booted")

    child.send(signal.SIGINT)

    assert (
        child.expect("runtime.shutting_down") == "runtime.shutting_down {'reason': 'signal SIGINT'}"
    )
    assert child.expect("restored") == "restored True"
    code, err = child.finish()
    assert code == 0, err


def test_run_outside_the_main_thread_is_refused() -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            SignalRuntime().run()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT)

    assert len(errors) == 1
    assert "must be called from the main thread" in str(errors[0])


AIMED = textwrap.dedent(
    """
    import signal, sys, threading, time
    from bussdcc import Service, SignalRuntime

    class Idle(Service):
        name = "idle"
        interval = 3600.0

        def tick(self, ctx):
            pass

    rt = SignalRuntime()
    rt.register_service(Idle())
    rt.boot()

    def aim():
        time.sleep(0.3)  # let the main thread block in run()'s wait
        # The signal goes to this thread, not the main one, as the OS may choose to.
        signal.pthread_kill(threading.get_ident(), signal.SIG{sig})

    threading.Thread(target=aim, name="aimer").start()
    rt.run()
    print("reason", rt.shutdown_reason, flush=True)
    """
)


@pytest.mark.parametrize("sig", ["TERM", "INT"])
def test_a_signal_delivered_to_another_thread_still_shuts_down(sig: str) -> None:
    # Before: run() blocked in Event.wait(None) and the handler never ran (the watchdog
    # below fired). The main thread's wait must wake for a signal to any thread.
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", AIMED.format(sig=sig)],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"reason signal SIG{sig}"
