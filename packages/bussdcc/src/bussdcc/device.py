"""The 0.42 import path ``bussdcc.device``, kept for the 0.4x line (deprecated).

Use bussdcc.Device and bussdcc.DeviceManager.

Importing it warns once; see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from ._compat.modules import legacy_module
from .component import Device
from .components import DeviceManager

__all__ = ["Device", "DeviceManager"]

__getattr__ = legacy_module(
    __name__,
    "bussdcc.Device and bussdcc.DeviceManager",
    {
        "DeviceProtocol": (lambda: Device, "bussdcc.Device"),
        "DeviceManagerProtocol": (lambda: DeviceManager, "bussdcc.DeviceManager"),
    },
)
