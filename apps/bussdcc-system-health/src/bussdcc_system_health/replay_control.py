"""`ReplayControl`: a dashboard replay that can be paused, resumed, sped up and seeked.

The `replay` command plays recorded history through a `ReplayRuntime`; this object owns
that runtime (and the next one: a seek backwards or ``--loop`` starts a fresh runtime) and
is what the dashboard's replay bar talks to (`register_replay_routes`).

* **Pause / resume / speed** act on the runtime's `ReplayClock` (see its controls): the
  replay holds before its next event, or within 50 ms of a wait.
* **Seek forwards** replays every event up to the target without pacing (`ReplayClock.seek`).
* **Seek backwards** cannot undo state, so the runtime is shut down and a fresh one replays
  the source from its start, unpaced, up to the target: the state is then exactly what a
  straight replay to that time gives (the same code, the same events). The dashboard's
  Socket.IO connection drops for that moment and resyncs, as after any reconnect.
* **Progress** (`progress`): position and the recording's first and last event time, the
  fraction of that span played, events replayed (this round), speed, paused, the seek
  target, the round (1 + loops and backward seeks) and whether it ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, jsonify, request

from bussdcc import Event
from bussdcc_framework.runtime import ReplayRuntime

from .validation import non_negative

__all__ = [
    "ProgressLine",
    "ReplayControl",
    "ReplayProgress",
    "progress_text",
    "recording_span",
    "register_replay_routes",
]


@dataclass(frozen=True, slots=True)
class ReplayProgress:
    """Where a replay is; `to_dict` gives the JSON the dashboard reads."""

    position: datetime | None
    start: datetime | None
    end: datetime | None
    events: int
    speed: float
    paused: bool
    seeking: datetime | None
    round: int
    loop: bool
    ended: bool

    @property
    def fraction(self) -> float | None:
        """Share of the recording's span played (0..1), None when the span is unknown."""
        if self.position is None or self.start is None or self.end is None:
            return None
        span = (self.end - self.start).total_seconds()
        if span <= 0:
            return 1.0
        done = (self.position - self.start).total_seconds() / span
        return min(1.0, max(0.0, done))

    def to_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat().replace("+00:00", "Z")

        return {
            "position": iso(self.position),
            "start": iso(self.start),
            "end": iso(self.end),
            "fraction": self.fraction,
            "events": self.events,
            "speed": self.speed,
            "paused": self.paused,
            "seeking": iso(self.seeking),
            "round": self.round,
            "loop": self.loop,
            "ended": self.ended,
        }


def recording_span(source: Any) -> tuple[datetime, datetime] | None:
    """The first and last event time of a history ``source`` (a `HistorySource` or anything
    with ``files()`` whose class can be built from one file), reading only its first and last
    segment; None when it holds no readable event."""
    files = source.files()
    if not files:
        return None
    kind = type(source)
    first = next(iter(kind(files[0])), None)
    last = None
    for evt in kind(files[-1]):
        last = evt
    if first is None or last is None:
        return None
    return first.time, max(first.time, last.time)


Build = Callable[[float], ReplayRuntime]
"""Makes a fresh replay runtime at a speed (the dashboard included, not yet booted)."""


class ReplayControl:
    """Runs ``build``'s runtimes over ``source`` until the end (or, with ``loop``, until
    `stop`), obeying `pause`, `resume`, `set_speed` and `seek` from any thread.

    Raises:
        TypeError: if ``speed`` is not a number.
        ValueError: if ``speed`` is negative or not finite.
    """

    def __init__(
        self,
        build: Build,
        source: Iterable[Event[Any]],
        *,
        speed: float = 1.0,
        loop: bool = False,
        span: tuple[datetime, datetime] | None = None,
    ) -> None:
        self._build = build
        self.source = source
        self.speed = non_negative(speed, "speed")
        self.loop = loop
        self.span = span
        self.round = 0
        self.total = 0
        """Events replayed over every round."""
        self._lock = threading.Lock()
        self._runtime: ReplayRuntime | None = None
        self._paused = False
        self._restart_at: datetime | None = None
        self._stopped = False
        self._ended = False
        self.on_round: Callable[[ReplayRuntime], None] | None = None
        """Called with each fresh runtime before it replays (the CLI reads the port)."""

    @property
    def stopped(self) -> bool:
        """Whether `stop` was called."""
        return self._stopped

    @property
    def runtime(self) -> ReplayRuntime | None:
        """The runtime replaying now (None before the first and after the last)."""
        return self._runtime

    def run(self) -> int:
        """Replay until the end (every round with ``loop``) or `stop`; return the events of
        the last round. Boot errors propagate from the first round."""
        replayed = 0
        seek_to: datetime | None = None
        while True:
            with self._lock:
                if self._stopped:
                    break
                rt = self._build(self.speed)
                self._runtime = rt
                self.round += 1
                self._ended = False
                if self._paused:
                    rt.clock.pause()
                if seek_to is not None:
                    rt.clock.seek(seek_to)
            if self.on_round is not None:
                self.on_round(rt)
            with self._lock:
                if self.stopped:  # stopped before this round began: it never boots
                    self._ended = True
                    self._runtime = None
                    break
            rt.run()
            replayed = rt.replayed
            with self._lock:
                self.total += replayed
                seek_to, self._restart_at = self._restart_at, None
                if seek_to is None and (self._stopped or not self.loop):
                    self._ended = True
                    break
        return replayed

    def stop(self) -> None:
        """End the replay (and any loop) now; safe from a signal handler's thread."""
        with self._lock:
            self._stopped = True
            rt = self._runtime
        if rt is not None:
            self._shut(rt, "replay stopped")

    def _shut(self, rt: ReplayRuntime, reason: str) -> None:
        """Shut ``rt`` down from another thread once it has begun booting: `run` boots it
        just after handing it out, and a runtime shut down before booting would only boot
        afterwards. A runtime `run` gives up on before booting is left alone."""

        def shut() -> None:
            while rt.phase == "created":
                if self._runtime is not rt:
                    return
                time.sleep(0.01)
            rt.shutdown(reason)

        threading.Thread(target=shut, name="replay-shutdown", daemon=True).start()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._runtime is not None:
                self._runtime.clock.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self._runtime is not None:
                self._runtime.clock.resume()

    def set_speed(self, speed: float) -> None:
        """Replay ``speed`` times as fast as recorded from now on (0: as fast as possible).

        Raises:
            TypeError: if ``speed`` is not a number.
            ValueError: if ``speed`` is negative or not finite.
        """
        value = non_negative(speed, "speed")
        with self._lock:
            self.speed = value
            if self._runtime is not None:
                self._runtime.clock.speed = value

    def seek(self, moment: datetime) -> None:
        """Go to ``moment``: forwards by replaying up to it unpaced, backwards by replaying
        from the start up to it in a fresh runtime (see the module docstring). A paused
        replay stays paused there.

        Raises:
            TypeError: if ``moment`` is not a datetime.
            ValueError: if it is naive.
        """
        if not isinstance(moment, datetime):
            raise TypeError(f"moment must be a datetime, got {moment!r}")
        if moment.tzinfo is None:
            raise ValueError(f"moment must be timezone-aware, got {moment!r}")
        with self._lock:
            rt = self._runtime
            if rt is None or self._stopped:
                return
            if rt.is_running and moment > rt.clock.now_utc():
                rt.clock.seek(moment)
                return
            self._restart_at = moment
        self._shut(rt, "replay seek")

    def progress(self) -> ReplayProgress:
        with self._lock:
            rt = self._runtime
            start, end = self.span if self.span is not None else (None, None)
            position = None if rt is None else rt.clock.now_utc()
            return ReplayProgress(
                position=position,
                start=start,
                end=end,
                events=0 if rt is None else rt.replayed,
                speed=self.speed,
                paused=self._paused,
                seeking=self._restart_at or (None if rt is None else rt.clock.seeking),
                round=self.round,
                loop=self.loop,
                ended=self._ended,
            )


def _bad(parameter: str, why: str) -> tuple[Response, int]:
    return jsonify({"error": f"{parameter}: {why}", "parameter": parameter}), 400


def register_replay_routes(app: Flask, control: ReplayControl) -> None:
    """The replay bar's channel, present only in replay mode.

    * ``GET /api/replay`` → `ReplayProgress.to_dict`.
    * ``POST /api/replay/pause`` and ``/api/replay/resume``.
    * ``POST /api/replay/speed`` with ``{"speed": n}`` (0 = as fast as possible).
    * ``POST /api/replay/seek`` with ``{"time": "<ISO-8601>"}`` or ``{"fraction": f}`` (0..1
      of the recording's span).

    Each POST answers the progress after the change. A POST must be ``application/json``
    (a cross-site form cannot send that without the browser asking first); a bad body or
    value answers 400 with ``{"error", "parameter"}``.
    """

    def answer() -> Response:
        response = jsonify(control.progress().to_dict())
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/api/replay")
    def replay_progress() -> Response:
        return answer()

    @app.post("/api/replay/<action>")
    def replay_action(action: str) -> Response | tuple[Response, int]:
        if not request.is_json:
            return _bad("body", "send application/json")
        body = request.get_json(silent=True)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return _bad("body", "expected a JSON object")
        if action == "pause":
            control.pause()
        elif action == "resume":
            control.resume()
        elif action == "speed":
            try:
                control.set_speed(body.get("speed"))  # type: ignore[arg-type]  # validated there
            except (TypeError, ValueError):
                return _bad("speed", f"expected a number >= 0, got {body.get('speed')!r}")
        elif action == "seek":
            moment = _seek_target(body, control)
            if isinstance(moment, tuple):
                return _bad(*moment)
            control.seek(moment)
        else:
            return _bad("action", f"unknown {action!r} (pause, resume, speed, seek)")
        return answer()


def _seek_target(body: dict[str, Any], control: ReplayControl) -> datetime | tuple[str, str]:
    if "time" in body:
        try:
            moment = datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00"))
        except ValueError:
            return "time", f"not an ISO-8601 time: {body['time']!r}"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment
    fraction = body.get("fraction")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        return "fraction", f"expected a number from 0 to 1 (or give time), got {fraction!r}"
    if not 0 <= fraction <= 1:
        return "fraction", f"expected a number from 0 to 1, got {fraction!r}"
    if control.span is None:
        return "fraction", "the recording's span is unknown; give time"
    start, end = control.span
    return start + (end - start) * fraction


def progress_text(progress: ReplayProgress) -> str:
    """One terminal line: ``[#####.....]  42.0 %  2026-01-01 10:00:00  1,234 events  x4``."""
    fraction = progress.fraction
    width = 20
    filled = 0 if fraction is None else round(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    percent = "   ? %" if fraction is None else f"{fraction * 100:5.1f} %"
    position = "-" if progress.position is None else progress.position.strftime("%Y-%m-%d %H:%M:%S")
    state = (
        "seeking"
        if progress.seeking is not None
        else "paused"
        if progress.paused
        else "max speed"
        if progress.speed == 0
        else f"x{progress.speed:g}"
    )
    loop = f"  round {progress.round}" if progress.loop else ""
    return f"[{bar}] {percent}  {position}  {progress.events:,} events  {state}{loop}"


class ProgressLine:
    """Rewrites one line of ``stream`` (a terminal) with `progress_text` every ``every``
    seconds from a daemon thread, until `stop` (which ends the line)."""

    def __init__(self, control: ReplayControl, stream: TextIO, every: float = 0.5) -> None:
        self.control, self.stream, self.every = control, stream, every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replay-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self.every):
            self._draw()

    def _draw(self) -> None:
        try:
            self.stream.write("\r\x1b[K" + progress_text(self.control.progress()))
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away
            self._done.set()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self._draw()
        try:
            self.stream.write("\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
