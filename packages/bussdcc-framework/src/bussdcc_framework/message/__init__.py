"""The framework's messages, re-exported from their modules."""

from .framework import (
    FrameworkBooted,
    FrameworkShuttingDown,
    SinkError,
    SinkRecovered,
    SinkRetentionDeleted,
)
from .system import SystemIdentityEvent
from .systemd import SystemdNotifyFailed, WatchdogResumed, WatchdogWithheld

__all__ = [
    "FrameworkBooted",
    "FrameworkShuttingDown",
    "SinkError",
    "SinkRecovered",
    "SinkRetentionDeleted",
    "SystemIdentityEvent",
    "SystemdNotifyFailed",
    "WatchdogResumed",
    "WatchdogWithheld",
]


def __getattr__(name: str) -> object:
    # 0.46 names of this path (bussdcc_framework._compat.modules); deprecated.
    from .._compat.modules import legacy_names

    return legacy_names(__name__, name)
