"""The 0.42 module ``bussdcc.message.interface``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import InterfaceError, InterfaceStarted, InterfaceStopped

__all__ = ["InterfaceError", "InterfaceStarted", "InterfaceStopped"]

deprecated("importing bussdcc.message.interface", "bussdcc.message", stacklevel=3)
