"""The 0.46 import path ``bussdcc_framework.web``, kept for the 0.4x line (deprecated).

Use `bussdcc_framework.interface.web`. Importing this warns once; see
`bussdcc_framework._compat`. The 0.46 plugin system (``WebPlugin``, ``BaseWebPlugin``,
``PluginSpec``) is gone: the framework ships its live client (``live.js``) instead.
Delete at 1.0.
"""

from __future__ import annotations

from typing import Any

from flask import Flask as FlaskApp

from ._compat import deprecated
from .interface.web import WebInterface, emit

__all__ = ["FlaskApp", "WebInterface", "current_ctx", "emit"]

deprecated("importing bussdcc_framework.web", "bussdcc_framework.interface.web", stacklevel=3)


def current_ctx() -> Any:
    """0.46: the runtime context of the web interface serving the current request."""
    from flask import current_app

    from .interface.web import EXTENSION_KEY

    deprecated("bussdcc_framework.web.current_ctx()", "a WebInterface method (self.ctx)")
    web = current_app.extensions[EXTENSION_KEY]
    return web.ctx
