"""Interfaces that expose a runtime to the outside world: the Flask + Socket.IO `WebInterface`."""

from .template_cache import TemplateCache
from .web import WebInterface, emit

__all__ = ["TemplateCache", "WebInterface", "emit"]
