"""The 0.42 import path ``bussdcc.service``, kept for the 0.4x line (deprecated).

Use bussdcc.Service and bussdcc.ServiceSupervisor.

Importing it warns once; see `bussdcc._compat`. Delete at 1.0.
"""

from __future__ import annotations

from ._compat.modules import legacy_module
from .component import Service
from .supervisor import ServiceStatus, ServiceSupervisor

__all__ = ["Service", "ServiceStatus", "ServiceSupervisor"]

__getattr__ = legacy_module(
    __name__,
    "bussdcc.Service and bussdcc.ServiceSupervisor",
    {
        "ServiceProtocol": (lambda: Service, "bussdcc.Service"),
        "ServiceSupervisorProtocol": (lambda: ServiceSupervisor, "bussdcc.ServiceSupervisor"),
        "ServiceInfo": (lambda: ServiceStatus, "bussdcc.ServiceStatus (rt.services.status(name))"),
    },
)
