"""The 0.42 module ``bussdcc.message.runtime``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import RuntimeBooted, RuntimeBooting, RuntimeShutdown, RuntimeShuttingDown

__all__ = ["RuntimeBooted", "RuntimeBooting", "RuntimeShutdown", "RuntimeShuttingDown"]

deprecated("importing bussdcc.message.runtime", "bussdcc.message", stacklevel=3)
