"""The framework's messages, re-exported from their modules."""

from .framework import FrameworkBooted, FrameworkShuttingDown, SinkError

__all__ = ["FrameworkBooted", "FrameworkShuttingDown", "SinkError"]
