"""A real Mosquitto broker for tests: `Mosquitto`, and the pytest fixtures `mosquitto` and
`mosquitto_factory`.

`Mosquitto` runs Debian's ``mosquitto`` binary on a free port of 127.0.0.1 with a throwaway
configuration (loopback only, no persistence; anonymous, or a password file for ``users``)
in a temporary directory, and can be stopped, killed and restarted on the same port.

This module imports pytest (a test-time tool, not a dependency of the package). To use the
fixtures, bind them in the test module (or import them into a ``conftest.py``)::

    from bussdcc_framework.mqtt import testing

    mosquitto = testing.mosquitto

Without a ``mosquitto`` binary they skip the test, except under ``CI=true``, where they fail
it: a machine that should run the broker tests never passes by skipping them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType

import pytest

__all__ = ["Mosquitto", "MosquittoNotFound", "find_mosquitto", "mosquitto", "mosquitto_factory"]

HOST = "127.0.0.1"
START_TIMEOUT = 10.0


class MosquittoNotFound(FileNotFoundError):
    """No ``mosquitto`` binary on PATH or in /usr/sbin (``apt-get install mosquitto``)."""


def find_mosquitto(name: str = "mosquitto") -> str:
    """The path of ``name`` (``mosquitto`` or ``mosquitto_passwd``); Debian puts the broker in
    /usr/sbin, which a user's PATH may lack.

    Raises `MosquittoNotFound` if it is not installed.
    """
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        raise MosquittoNotFound(f"{name} not found; install it with: apt-get install mosquitto")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Mosquitto:
    """One throwaway broker. `start` picks a free loopback port (kept across `restart`).

    ``users`` (name → password) turns anonymous access off and writes a password file with
    ``mosquitto_passwd``. ``persistent`` keeps sessions across `stop`/`restart`. Use as a
    context manager or call `close` (which stops it and removes its temporary directory).

    Raises `MosquittoNotFound` when the binary is missing and ``RuntimeError`` (with the
    broker's log) when it does not start listening within 10 s.
    """

    def __init__(self, *, users: Mapping[str, str] | None = None, persistent: bool = False) -> None:
        self.executable = find_mosquitto()
        self.users = dict(users or {})
        self.persistent = persistent
        self.host = HOST
        self.port = 0
        self._dir = Path(tempfile.mkdtemp(prefix="bussdcc-mosquitto-"))
        self._process: subprocess.Popen[bytes] | None = None
        if self.users:
            self._write_passwords()

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>`` (without credentials)."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log(self) -> str:
        """What the broker logged so far."""
        path = self._dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _write_passwords(self) -> None:
        passwd = find_mosquitto("mosquitto_passwd")
        path = self._dir / "passwords"
        path.touch(mode=0o600)
        for user, password in self.users.items():
            subprocess.run(
                [passwd, "-b", str(path), user, password], check=True, capture_output=True
            )

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} {self.host}",
            # Persistent: sessions and their queued messages survive `stop`/`restart` (saved
            # on SIGTERM), as a broker's do across a reboot; never across `kill`.
            "persistence true" if self.persistent else "persistence false",
            f"persistence_location {self._dir}/",
            f"log_dest file {self._dir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            # Run as whoever started it: as root, mosquitto would switch to a user who cannot
            # read this directory.
            "user root" if os.geteuid() == 0 else "",
        ]
        if self.users:
            lines += ["allow_anonymous false", f"password_file {self._dir / 'passwords'}"]
        else:
            lines.append("allow_anonymous true")
        path = self._dir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def reserve_port(self) -> int:
        """Choose the port now without starting, so clients can be pointed at a broker that
        is not there yet; `start` then uses it. Returns the port."""
        if not self.port:
            self.port = _free_port()
        return self.port

    def start(self) -> Mosquitto:
        """Start the broker (on a new free port the first time, on the same port after).

        Returns self, listening.
        """
        if self.running:
            return self
        attempts = 1 if self.port else 5  # a chosen port is kept: clients know it
        for attempt in range(attempts):
            if not self.port or attempt:
                self.port = _free_port()
            self._process = subprocess.Popen(
                [self.executable, "-c", str(self._write_config())],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            if self._wait_listening():
                return self
        raise RuntimeError(f"mosquitto did not start on {self.host}:{self.port}:\n{self.log}")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        process = self._process
        assert process is not None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        self.kill()
        return False

    def stop(self) -> None:
        """Stop the broker (SIGTERM: it closes every connection; wills are published)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def restart(self) -> Mosquitto:
        """Stop, then start again on the same port."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the broker and remove its temporary directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Mosquitto {self.url} {'running' if self.running else 'stopped'}>"


def _available() -> None:
    """Skip the calling test without a broker binary, or fail it under ``CI=true``."""
    try:
        find_mosquitto()
    except MosquittoNotFound as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{exc} (CI must run the broker tests)", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A running anonymous broker on loopback, closed after the test."""
    _available()
    with Mosquitto() as broker:
        yield broker


@pytest.fixture
def mosquitto_factory() -> Iterator[Callable[..., Mosquitto]]:
    """``factory(users=None, persistent=False)`` makes a broker (not started: call
    `Mosquitto.start`, or `Mosquitto.reserve_port` first); all are closed after the test."""
    _available()
    brokers: list[Mosquitto] = []

    def factory(*, users: Mapping[str, str] | None = None, persistent: bool = False) -> Mosquitto:
        broker = Mosquitto(users=users, persistent=persistent)
        brokers.append(broker)
        return broker

    yield factory
    for broker in brokers:
        broker.close()
