"""The 0.42 import path ``bussdcc.io``, kept for the 0.4x line (deprecated).

Use bussdcc.EventSink and bussdcc.EventSource.

Importing it warns once; see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from ._compat.modules import legacy_module
from .replay import EventSink, EventSource

__all__ = ["EventSink", "EventSource"]

__getattr__ = legacy_module(
    __name__,
    "bussdcc.EventSink and bussdcc.EventSource",
    {
        "EventSinkProtocol": (lambda: EventSink, "bussdcc.EventSink"),
        "EventSourceProtocol": (lambda: EventSource, "bussdcc.EventSource"),
    },
)
