"""Telemetry collectors: the I/O edge that reads psutil, sysfs and vcgencmd and builds messages.

One module per collector (`cpu`, `memory`, `disk`, `diskio`, `load`, `temperature`, `fans`,
`network`, `throttling`, `wear`), the `Collector` protocol they share (`protocol`), what a
collector remembers about hardware that is not there (`absence`) and how a slowly changing
reading is passed on only when it is news (`cadence`). A collector has a ``name`` and
``collect(now)``, where ``now`` is the monotonic time of the sample in seconds (the service
passes its clock's, so tests control it). It returns one message, or None when it has nothing
to report yet, and raises when it cannot read at all. Each collector takes its reader as a
parameter so tests can feed it fixed readings.
"""

from __future__ import annotations

from .absence import RECHECK_ABSENT, REPEAT_UNAVAILABLE
from .cadence import EVERY_HOUR, EVERY_MINUTE, EVERY_TEN_MINUTES, OnChange
from .cpu import CpuCollector, CpuTimes
from .disk import DiskCollector, MountTable
from .diskio import DiskIoCollector
from .fans import FanCollector
from .load import LoadCollector
from .memory import MemoryCollector
from .network import NetworkCollector
from .protocol import Collector
from .temperature import TemperatureCollector
from .throttling import GET_THROTTLED_SYSFS, ThrottlingCollector
from .wear import StorageWearCollector

__all__ = [
    "EVERY_HOUR",
    "EVERY_MINUTE",
    "EVERY_TEN_MINUTES",
    "GET_THROTTLED_SYSFS",
    "RECHECK_ABSENT",
    "REPEAT_UNAVAILABLE",
    "Collector",
    "CpuCollector",
    "CpuTimes",
    "DiskCollector",
    "DiskIoCollector",
    "FanCollector",
    "LoadCollector",
    "MemoryCollector",
    "MountTable",
    "NetworkCollector",
    "OnChange",
    "StorageWearCollector",
    "TemperatureCollector",
    "ThrottlingCollector",
    "default_collectors",
]


def default_collectors() -> tuple[Collector, ...]:
    """A fresh set of the real collectors, one per telemetry category.

    The two disk collectors share one `MountTable`: one descriptor polled for mount changes,
    one read of the table after a change.
    """
    mounts = MountTable()
    return (
        CpuCollector(),
        MemoryCollector(),
        DiskCollector(mounts),
        DiskIoCollector(read_mounts=mounts),
        LoadCollector(),
        TemperatureCollector(),
        FanCollector(),
        NetworkCollector(),
        ThrottlingCollector(),
        StorageWearCollector(),
    )
