"""bussdcc: a strongly-typed cybernetic kernel for durable, event-driven systems.

All coordination flows through typed `Message` events; the `Runtime` is the authoritative
dispatcher and owns every component's lifecycle.

The public API is exactly what this package exports (``__all__``) plus the message catalogue
in `bussdcc.message`. The submodules (`bussdcc.runtime`, `bussdcc.event`, `bussdcc.bus`, ...)
stay importable, and each one's ``__all__`` lists only names exported here; any other name,
and every ``_``-prefixed module or name, is private and may change in any release. Other
layers extend a runtime through `RuntimeExtension` (``rt.extend``), not by subclassing its
private methods.
"""

from . import message
from .bus import EventBus, Subscription, describe_failure
from .clock import ClockProtocol, ManualClock, ReplayClock, SystemClock
from .component import Device, Interface, Process, Service
from .components import DeviceManager, InterfaceManager, ProcessManager
from .context import Context, ContextProtocol
from .event import Event
from .extension import RuntimeExtension
from .message import Message, Severity
from .replay import EventSink, EventSource, ReplayRuntime
from .runtime import BootError, Phase, Runtime, SignalRuntime, ThreadedRuntime
from .signals import SignalHandling
from .state import StateStore
from .supervisor import ServiceState, ServiceStatus, ServiceSupervisor
from .version import __version__

__all__ = [
    "BootError",
    "ClockProtocol",
    "Context",
    "ContextProtocol",
    "Device",
    "DeviceManager",
    "Event",
    "EventBus",
    "EventSink",
    "EventSource",
    "Interface",
    "InterfaceManager",
    "ManualClock",
    "Message",
    "Phase",
    "Process",
    "ProcessManager",
    "ReplayClock",
    "ReplayRuntime",
    "Runtime",
    "RuntimeExtension",
    "Service",
    "ServiceState",
    "ServiceStatus",
    "ServiceSupervisor",
    "Severity",
    "SignalHandling",
    "SignalRuntime",
    "StateStore",
    "Subscription",
    "SystemClock",
    "ThreadedRuntime",
    "__version__",
    "describe_failure",
    "message",
]


def __getattr__(name: str) -> object:
    # 0.42 top-level names (DeviceProtocol, RuntimeProtocol, get_version); deprecated.
    from ._compat.modules import legacy_names

    return legacy_names(__name__, name)
