"""Interfaces that expose a runtime to the outside world: the Flask + Socket.IO `WebInterface`."""

from .web import WebInterface, emit

__all__ = ["WebInterface", "emit"]
