"""The 0.42 module ``bussdcc.message.device``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import DeviceAttached, DeviceDetached, DeviceFailed, DeviceOffline, DeviceOnline

__all__ = ["DeviceAttached", "DeviceDetached", "DeviceFailed", "DeviceOffline", "DeviceOnline"]

deprecated("importing bussdcc.message.device", "bussdcc.message", stacklevel=3)
