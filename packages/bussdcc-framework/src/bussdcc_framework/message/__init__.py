"""The framework's messages, re-exported from their modules."""

from .framework import FrameworkBooted, FrameworkShuttingDown, SinkError
from .system import SystemIdentityEvent

__all__ = ["FrameworkBooted", "FrameworkShuttingDown", "SinkError", "SystemIdentityEvent"]
