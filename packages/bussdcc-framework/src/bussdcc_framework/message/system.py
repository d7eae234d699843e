"""The host's identity message, emitted once by `SystemIdentityService`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bussdcc.message import Message

__all__ = ["SystemIdentityEvent"]


@dataclass(slots=True, frozen=True)
class SystemIdentityEvent(Message):
    """Who and what this host is. A field that could not be read is None, never a guess.

    ``serial`` is the CPU serial from ``/proc/cpuinfo`` (Raspberry Pi and other ARM boards)
    or, failing that, the systemd machine id; ``serial_source`` says which it is.
    ``boot_time`` is when the kernel booted (UTC), from ``/proc/stat``.
    """

    name = "system.identity"
    hostname: str | None
    model: str | None
    """Device-tree model (e.g. ``Raspberry Pi 4 Model B Rev 1.4``), else the DMI product name."""
    serial: str | None
    serial_source: Literal["cpuinfo", "machine-id"] | None
    os: str | None
    """``PRETTY_NAME`` from os-release, else the platform's system name."""
    kernel: str | None
    architecture: str | None
    python: str
    boot_time: datetime | None
