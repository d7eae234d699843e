"""The 0.42 module ``bussdcc.message.system``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import EventSubscriberError, SystemReload, SystemSignal

__all__ = ["EventSubscriberError", "SystemReload", "SystemSignal"]

deprecated("importing bussdcc.message.system", "bussdcc.message", stacklevel=3)
