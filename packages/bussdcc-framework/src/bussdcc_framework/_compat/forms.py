"""The 0.46 constructor forms: ``JsonlSource(root=...)``, ``SinkHandlerError``, the 0.46
`WebInterface` arguments, ``FrameworkShuttingDown(version=...)``.

Each is installed on today's class by wrapping its ``__init__``: a legacy form is converted
(with a `DeprecationWarning`), today's forms go straight through.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from bussdcc import Event

from . import deprecated

__all__ = ["install_messages", "install_source", "install_web"]

_Args = tuple[Any, ...]
_Kwargs = dict[str, Any]
_Adapter = Callable[[Any, _Args, _Kwargs], tuple[_Args, _Kwargs] | None]


def _wrap(cls: type, adapt: _Adapter) -> None:
    original = cls.__init__  # type: ignore[misc]

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        adapted = adapt(self, args, kwargs)
        if adapted is not None:
            args, kwargs = adapted
        original(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]


def _source(self: Any, args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    if "root" not in kwargs:
        return None
    deprecated("JsonlSource(root=...)", "JsonlSource(path)", stacklevel=4)
    kwargs = dict(kwargs)
    return (kwargs.pop("root"), *args), kwargs


def _sink_error(self: Any, args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    legacy_positional = len(args) >= 3 and (args[2] is None or isinstance(args[2], Event))
    if not (legacy_positional or "evt" in kwargs or kwargs.get("traceback", "") is None):
        return None
    deprecated(
        "SinkHandlerError(sink, error, evt, traceback) (the 0.46 form)",
        "SinkError(sink=..., error=..., traceback=..., event=<wire name>)",
        stacklevel=4,
    )
    order = (
        ("sink", "error", "evt", "traceback")
        if legacy_positional
        else ("sink", "error", "traceback", "event")
    )
    fields = dict(zip(order, args, strict=False))
    fields.update(kwargs)
    evt = fields.pop("evt", None)
    if evt is not None or "event" not in fields:
        fields["event"] = evt.payload.name if isinstance(evt, Event) else ""
    if fields.get("traceback") is None:
        fields["traceback"] = ""
    return (), fields


def _shutting_down(self: Any, args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    if "version" not in kwargs and len(args) < 2:
        return None
    deprecated(
        "FrameworkShuttingDown(version, reason) (the 0.46 form)",
        "FrameworkShuttingDown(reason=...); the version is in framework.booted",
        stacklevel=4,
    )
    fields = dict(zip(("version", "reason"), args, strict=False))
    fields.update(kwargs)
    fields.pop("version", None)
    return (), fields


_WEB_LEGACY = ("import_name", "template_folder", "static_folder", "plugins")


def _web(self: Any, args: _Args, kwargs: _Kwargs) -> tuple[_Args, _Kwargs] | None:
    # 0.46: WebInterface(import_name=None, host=..., port=..., template_folder=...,
    # static_folder=..., plugins=...). Today: WebInterface(host, port, *, ...).
    # A positional with host= can only be the 0.46 import_name (today it would be host twice).
    legacy_positional = bool(args) and "host" in kwargs
    if not (legacy_positional or any(k in kwargs for k in _WEB_LEGACY)):
        return None
    kwargs = dict(kwargs)
    if legacy_positional:
        kwargs["import_name"], args = args[0], args[1:]
        positional = ("host", "port", "template_folder", "static_folder", "plugins")
        kwargs.update(zip(positional, args, strict=False))
        args = ()
    import_name = kwargs.pop("import_name", None)
    flask_options = {
        key: kwargs.pop(key) for key in ("template_folder", "static_folder") if key in kwargs
    }
    plugins = list(kwargs.pop("plugins", None) or ())
    deprecated(
        "WebInterface(import_name, host=, port=, template_folder=, static_folder=, plugins=)"
        " (the 0.46 arguments)",
        "WebInterface(host, port) in a subclass setting import_name, with templates/ and "
        "static/ beside it",
        stacklevel=4,
    )
    if plugins:
        deprecated(
            f"WebInterface plugins {plugins!r} (0.46); they are not loaded",
            "the framework's live.js client (bussdcc_framework.interface.STATIC_URL) and your "
            "own templates",
            stacklevel=4,
        )
    if import_name is not None:
        self.import_name = import_name
    self._legacy_flask_options = flask_options
    return args, kwargs


def install_source(cls: type) -> None:
    _wrap(cls, _source)


def install_messages(sink_error: type, shutting_down: type) -> None:
    _wrap(sink_error, _sink_error)
    _wrap(shutting_down, _shutting_down)


def install_web(cls: type) -> None:
    _wrap(cls, _web)
