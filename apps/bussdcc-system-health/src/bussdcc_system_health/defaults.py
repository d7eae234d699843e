"""The app's defaults, in one place for the command line, the assembly and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

__all__ = [
    "DASHBOARD_PORT",
    "DATA_DIR",
    "HOST",
    "INTERVAL",
    "RETENTION",
    "RETENTION_BYTES",
]

DASHBOARD_PORT = 8086
"""The port the dashboard is served on unless ``--port`` says otherwise."""

HOST = "127.0.0.1"
"""Serve on loopback only; ``--host 0.0.0.0`` opens the dashboard to the LAN."""

DATA_DIR = Path("data")
"""Where history (and the compiled-template cache) lives, relative to the working directory."""

INTERVAL = 1.0
"""Seconds between two telemetry samples."""

RETENTION = timedelta(days=7)
"""History older than this is deleted."""

RETENTION_BYTES = 1 << 30
"""A Pi's SD card is small: whatever the age limit, history never takes more than this."""
