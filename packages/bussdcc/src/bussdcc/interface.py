"""The 0.42 import path ``bussdcc.interface``, kept for the 0.4x line (deprecated).

Use bussdcc.Interface and bussdcc.InterfaceManager.

Importing it warns once; see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from ._compat.modules import legacy_module
from .component import Interface
from .components import InterfaceManager

__all__ = ["Interface", "InterfaceManager"]

__getattr__ = legacy_module(
    __name__,
    "bussdcc.Interface and bussdcc.InterfaceManager",
    {
        "InterfaceManagerProtocol": (lambda: InterfaceManager, "bussdcc.InterfaceManager"),
    },
)
