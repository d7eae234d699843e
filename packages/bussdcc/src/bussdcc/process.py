"""The 0.42 import path ``bussdcc.process``, kept for the 0.4x line (deprecated).

Use bussdcc.Process and bussdcc.ProcessManager.

Importing it warns once; see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from ._compat.modules import legacy_module
from .component import Process
from .components import ProcessManager

__all__ = ["Process", "ProcessManager"]

__getattr__ = legacy_module(
    __name__,
    "bussdcc.Process and bussdcc.ProcessManager",
    {
        "ProcessProtocol": (lambda: Process, "bussdcc.Process"),
        "ProcessManagerProtocol": (lambda: ProcessManager, "bussdcc.ProcessManager"),
    },
)
