"""Telemetry collectors: the I/O edge that reads psutil, sysfs and vcgencmd and builds messages.

One module per collector (`cpu`, `memory`, `disk`, `load`, `temperature`, `network`,
`throttling`), the `Collector` protocol they share (`protocol`) and what a collector remembers
about hardware that is not there (`absence`). A collector has a ``name`` and
``collect(now)``, where ``now`` is the monotonic time of the sample in seconds (the service
passes its clock's, so tests control it). It returns one message, or None when it has nothing
to report yet, and raises when it cannot read at all. Each collector takes its reader as a
parameter so tests can feed it fixed readings.
"""

from __future__ import annotations

from .absence import RECHECK_ABSENT, REPEAT_UNAVAILABLE
from .cpu import CpuCollector, CpuTimes
from .disk import DiskCollector, MountTable
from .load import LoadCollector
from .memory import MemoryCollector
from .network import NetworkCollector
from .protocol import Collector
from .temperature import TemperatureCollector
from .throttling import GET_THROTTLED_SYSFS, ThrottlingCollector

__all__ = [
    "GET_THROTTLED_SYSFS",
    "RECHECK_ABSENT",
    "REPEAT_UNAVAILABLE",
    "Collector",
    "CpuCollector",
    "CpuTimes",
    "DiskCollector",
    "LoadCollector",
    "MemoryCollector",
    "MountTable",
    "NetworkCollector",
    "TemperatureCollector",
    "ThrottlingCollector",
    "default_collectors",
]


def default_collectors() -> tuple[Collector, ...]:
    """A fresh set of the real collectors, one per telemetry category."""
    return (
        CpuCollector(),
        MemoryCollector(),
        DiskCollector(),
        LoadCollector(),
        TemperatureCollector(),
        NetworkCollector(),
        ThrottlingCollector(),
    )
