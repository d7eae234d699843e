"""Interfaces that expose a runtime to the outside world: the Flask + Socket.IO `WebInterface`."""

from .push import PushStream
from .template_cache import TemplateCache
from .web import STATIC_URL, WebInterface, emit

__all__ = ["STATIC_URL", "PushStream", "TemplateCache", "WebInterface", "emit"]
