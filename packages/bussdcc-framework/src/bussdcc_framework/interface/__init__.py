"""Interfaces that expose a runtime to the outside world: the Flask + Socket.IO `WebInterface`,
and what decides who may use it (`security`)."""

from .push import PushStream
from .security import (
    DEFAULT_CSP,
    HostAllowList,
    TokenCheck,
    is_loopback,
    read_or_create_token,
    read_token,
    rotate_token,
)
from .web import STATIC_URL, WebInterface, emit

__all__ = [
    "DEFAULT_CSP",
    "STATIC_URL",
    "HostAllowList",
    "PushStream",
    "TokenCheck",
    "WebInterface",
    "emit",
    "is_loopback",
    "read_or_create_token",
    "read_token",
    "rotate_token",
]
