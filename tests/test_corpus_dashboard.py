"""Replaying a recording into the running dashboard: a Socket.IO client sees it, in order.

Each corpus recording is replayed through the app's own replay runtime (processes plus the
`SystemWebInterface` on a free loopback port), paced so the 3-minute recording takes a few
seconds, while a real Socket.IO client is connected over WebSocket. The client must get a
snapshot on connect, then every pushed event of the recording in recorded order, as one
unbroken ``prev`` chain with increasing ``seq``, ending in the state the replay computed; when
the replay ends the runtime shuts down, the client is disconnected and the port is free again.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bussdcc.event import Event
from bussdcc_framework.io.jsonl import JsonlSource
from bussdcc_framework.testing import SocketIORecorder
from bussdcc_system_health.assembly import AppOptions, build_replay_runtime
from bussdcc_system_health.interfaces.web import PUSHED, WATCHED
from bussdcc_system_health.message import HealthChanged

TIMEOUT = 30.0
"""Generous: the box is shared and small; nothing here asserts a duration."""

SPEED = 30.0
"""A 180 s recording replays in about 6 s: paced like a real replay, short enough for a test."""

ReadManifest = Callable[[Path], dict[str, Any]]


class GatedSource:
    """A recording that waits for the test at its start and at its end.

    The replay reads the first event before it boots (to set its clock) and asks for the second
    only after emitting the first, so by then the dashboard is serving: ``serving`` is set and
    the rest waits for `release`, letting the client connect before anything it should see is
    replayed. After the last event ``finished`` is set and the source waits for `end` before
    it is exhausted (which shuts the replay down), so what the test checks is what a connected
    client receives during a replay, not a race with the shutdown.
    """

    def __init__(self, source: Iterable[Event[Any]]) -> None:
        self._source = source
        self.serving = threading.Event()
        self.finished = threading.Event()
        self._released = threading.Event()
        self._ended = threading.Event()

    def release(self) -> None:
        self._released.set()

    def end(self) -> None:
        self._ended.set()

    def __iter__(self) -> Iterator[Event[Any]]:
        events = iter(self._source)
        first = next(events, None)
        if first is None:
            return
        yield first
        self.serving.set()
        if not self._released.wait(TIMEOUT):
            return  # the test failed to connect; end the replay rather than hang
        yield from events
        self.finished.set()
        self._ended.wait(TIMEOUT)


def _recorded_pushes(recording: Path) -> list[dict[str, Any]]:
    """The recording's lines the dashboard pushes, read as plain JSON (independently of the
    app's decoder). Recorded health changes are left out: replay derives them afresh."""
    pushed = {cls.name for cls in PUSHED} - {HealthChanged.name}
    with recording.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return [record for record in records if record["name"] in pushed]


def _tail(received: list[dict[str, Any]], expected: list[dict[str, Any]]) -> str:
    """Which recorded pushes a client lacks (for a failure message)."""
    got = {(r["name"], r["time"]) for r in received}
    missing = [f"{r['name']}@{r['time']}" for r in expected if (r["name"], r["time"]) not in got]
    last = max(received, key=lambda r: int(r["seq"]), default=None)
    return f"received {len(received)}, last seq {last and last['seq']}, missing {missing[:10]}"


def _when(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["time"])


def _as_json(value: Any) -> Any:
    """``value`` with datetimes as ``isoformat`` strings, the form the manifests hold."""
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value).isoformat()
        except ValueError:
            return value
    return value


def _at(state: dict[str, Any], path: str) -> Any:
    node: Any = state
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_replay_streams_the_recording_to_a_connected_dashboard_client(
    recording: Path, read_manifest: ReadManifest
) -> None:
    expected = _recorded_pushes(recording)
    manifest = read_manifest(
        recording.with_name(recording.name.removesuffix(".jsonl") + ".manifest.json")
    )["expected"]
    total = len(expected) + len(manifest["health_transitions"])

    gate = GatedSource(JsonlSource(recording))
    rt, web = build_replay_runtime(AppOptions(port=0, quiet=True), speed=SPEED, source=gate)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            rt.run()
        except BaseException as exc:  # reported by the test thread below
            failures.append(exc)

    runner = threading.Thread(target=run, name="replay", daemon=True)
    client = SocketIORecorder(timeout=TIMEOUT)
    runner.start()
    try:
        assert gate.serving.wait(TIMEOUT), "the replay never booted its dashboard"
        port = web.port
        assert port != 0, "the dashboard reports the port it bound"
        client.connect(web.url, transports=["websocket"])  # returns with the snapshot
        gate.release()
        assert gate.finished.wait(TIMEOUT * 4), "the replay did not get through the recording"
        # python-socketio runs each event handler in a thread of its own, so the client's
        # list is in no particular order: wait for all, then sort by ``seq`` (the protocol's
        # order, which the ``prev`` chain below checks).
        client.wait_for(
            lambda: len(client.events) >= total,
            f"{total} pushed events",
            detail=lambda: _tail(client.events, expected),
        )
        gate.end()
        runner.join(TIMEOUT * 2)
        assert not runner.is_alive(), "the replay did not shut down after the recording"
    finally:
        gate.release()
        gate.end()
        if runner.is_alive():
            rt.shutdown("test failed")
            runner.join(TIMEOUT)
        client.disconnect()
    assert failures == []

    # The end of the replay shuts the runtime down: the client is let go, the port is free.
    assert client.disconnected.wait(TIMEOUT), "the client was not disconnected at shutdown"
    assert not web.running
    assert _port_is_free(port)

    snapshots = list(client.snapshots)
    events = client.ordered()
    assert len(events) == total
    assert len(snapshots) == 1, "exactly one snapshot: on connect (the client never resynced)"
    snapshot = snapshots[0]
    assert isinstance(snapshot["seq"], int)
    assert isinstance(snapshot["state"], dict)
    assert web.dropped == 0

    # One unbroken chain after the snapshot: strictly increasing seq, each prev the last seq.
    assert events[0]["prev"] == snapshot["seq"]
    for before, after in itertools.pairwise(events):
        assert after["seq"] > before["seq"], "each pushed event has its own seq"
        assert after["prev"] == before["seq"], "a pushed event went missing"
    times = [_when(record) for record in events]
    assert times == sorted(times), "replayed times never go backwards"

    # The recorded telemetry and identity arrive exactly as recorded, in recorded order; a
    # field a message gained after the recording was made arrives as its default, None.
    received = [record for record in events if record["name"] != HealthChanged.name]
    assert [r["name"] for r in received] == [r["name"] for r in expected]
    assert [_when(r) for r in received] == [_when(r) for r in expected]
    assert [
        {key: value for key, value in r["data"].items() if key in e["data"] or value is not None}
        for r, e in zip(received, expected, strict=True)
    ] == [r["data"] for r in expected]
    telemetry = {r["name"] for r in expected if r["name"].startswith("system.")}
    assert {"system.cpu.usage.updated", "system.memory.usage.updated"} <= telemetry

    # Health is derived again by the replay, and pushed as it changes.
    transitions = [
        [r["data"]["previous"], r["data"]["status"]]
        for r in events
        if r["name"] == HealthChanged.name
    ]
    assert transitions == manifest["health_transitions"]

    # Mirroring the watched state from snapshot + pushed changes ends where the replay did.
    mirrored = {path: _at(snapshot["state"], path) for path in WATCHED}
    for record in events:
        mirrored.update(record.get("state", {}))
    for path in WATCHED:
        assert _as_json(mirrored[path]) == manifest["state"][path], f"{path} differs"
