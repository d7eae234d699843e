"""bussdcc: a strongly-typed cybernetic kernel for durable, event-driven systems.

All coordination flows through typed `Message` events; the `Runtime` is the authoritative
dispatcher and owns every component's lifecycle.
"""

from . import message
from .bus import EventBus, Subscription, describe_failure
from .clock import ClockProtocol, ManualClock, ReplayClock, SystemClock
from .component import Device, Interface, Process, Service
from .context import Context, ContextProtocol
from .event import Event
from .extension import RuntimeExtension
from .message import Message, Severity
from .replay import EventSink, EventSource, ReplayRuntime
from .runtime import BootError, Phase, Runtime, SignalRuntime, ThreadedRuntime
from .signals import SignalHandling
from .state import StateStore
from .supervisor import ServiceStatus
from .version import __version__

__all__ = [
    "BootError",
    "ClockProtocol",
    "Context",
    "ContextProtocol",
    "Device",
    "Event",
    "EventBus",
    "EventSink",
    "EventSource",
    "Interface",
    "ManualClock",
    "Message",
    "Process",
    "ReplayClock",
    "ReplayRuntime",
    "Phase",
    "Runtime",
    "RuntimeExtension",
    "Service",
    "ServiceStatus",
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
