"""The 0.42 module ``bussdcc.message.service``: its messages now live in `bussdcc.message`.

Importing it warns once (deprecated since 0.43); see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from .._compat import deprecated
from . import ServiceError, ServiceFailure, ServiceRestart, ServiceStarted, ServiceStopped

__all__ = ["ServiceError", "ServiceFailure", "ServiceRestart", "ServiceStarted", "ServiceStopped"]

deprecated("importing bussdcc.message.service", "bussdcc.message", stacklevel=3)
