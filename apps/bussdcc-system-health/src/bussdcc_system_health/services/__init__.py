"""The app's services: `SystemService` and the collectors it samples."""

from .collectors import (
    GET_THROTTLED_SYSFS,
    Collector,
    CpuCollector,
    DiskCollector,
    LoadCollector,
    MemoryCollector,
    MountTable,
    NetworkCollector,
    TemperatureCollector,
    ThrottlingCollector,
    default_collectors,
)
from .system import CollectionFailed, SystemService

__all__ = [
    "GET_THROTTLED_SYSFS",
    "CollectionFailed",
    "Collector",
    "CpuCollector",
    "DiskCollector",
    "LoadCollector",
    "MemoryCollector",
    "MountTable",
    "NetworkCollector",
    "SystemService",
    "TemperatureCollector",
    "ThrottlingCollector",
    "default_collectors",
]
