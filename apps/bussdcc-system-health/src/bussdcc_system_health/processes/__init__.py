"""The app's processes: `SystemProcess` (state projection) and `HealthProcess` (health)."""

from .health import HEALTH_STATE, HealthProcess
from .system import CPU_HISTORY, DISK_IO_HISTORY, NETWORK_HISTORY, STATE_PATHS, SystemProcess

__all__ = [
    "CPU_HISTORY",
    "DISK_IO_HISTORY",
    "HEALTH_STATE",
    "NETWORK_HISTORY",
    "STATE_PATHS",
    "HealthProcess",
    "SystemProcess",
]
