"""The framework's messages, re-exported from their modules."""

from .framework import FrameworkBooted, FrameworkShuttingDown, SinkError
from .system import SystemIdentityEvent
from .systemd import SystemdNotifyFailed, WatchdogResumed, WatchdogWithheld

__all__ = [
    "FrameworkBooted",
    "FrameworkShuttingDown",
    "SinkError",
    "SystemIdentityEvent",
    "SystemdNotifyFailed",
    "WatchdogResumed",
    "WatchdogWithheld",
]
