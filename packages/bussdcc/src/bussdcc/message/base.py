"""The 0.42 module ``bussdcc.message.base``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import Message

__all__ = ["Message"]

deprecated("importing bussdcc.message.base", "bussdcc.message", stacklevel=3)
