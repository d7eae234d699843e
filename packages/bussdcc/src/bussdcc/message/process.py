"""The 0.42 module ``bussdcc.message.process``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import ProcessError, ProcessStarted, ProcessStopped

__all__ = ["ProcessError", "ProcessStarted", "ProcessStopped"]

deprecated("importing bussdcc.message.process", "bussdcc.message", stacklevel=3)
