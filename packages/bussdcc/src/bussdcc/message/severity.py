"""The 0.42 module ``bussdcc.message.severity``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import Severity

__all__ = ["Severity"]

deprecated("importing bussdcc.message.severity", "bussdcc.message", stacklevel=3)
