"""The app's defaults, in one place for the command line, the assembly and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

__all__ = [
    "DASHBOARD_PORT",
    "DATA_DIR",
    "HOST",
    "INTERVAL",
    "INTERVAL_MAX",
    "INTERVAL_MIN",
    "REPLAY_MAX_GAP",
    "RETENTION",
    "RETENTION_BYTES",
    "RETENTION_MAX",
    "SPEED_MAX",
    "SPEED_MIN",
]

DASHBOARD_PORT = 8086
"""The port the dashboard is served on unless ``--port`` says otherwise."""

HOST = "127.0.0.1"
"""Serve on loopback only; ``--host 0.0.0.0`` opens the dashboard to the LAN."""

DATA_DIR = Path("data")
"""Where history (and the compiled-template cache) lives, relative to the working directory."""

INTERVAL = 1.0
"""Seconds between two telemetry samples."""

INTERVAL_MIN = 0.01
"""The shortest sampling interval (100 samples/s, what the soak benchmark runs at): faster
sampling measures the sampler, not the host."""

INTERVAL_MAX = 86_400.0
"""The longest sampling interval (a day): health older than that says nothing."""

RETENTION = timedelta(days=7)
"""History older than this is deleted."""

RETENTION_MAX = timedelta(days=36_525)
"""The longest retention accepted: 100 years (keep everything, in practice)."""

REPLAY_MAX_GAP = 10.0
"""Seconds: a replay shortens longer gaps between recorded events to this."""

SPEED_MIN = 0.001
SPEED_MAX = 1_000_000.0
"""A replay speed is 0 (as fast as possible) or from SPEED_MIN to SPEED_MAX."""

RETENTION_BYTES = 1 << 30
"""A Pi's SD card is small: whatever the age limit, history never takes more than this."""
