"""Compatibility with bussdcc-framework 0.46: every shim of the 0.4x line, in one place.

A 0.46 program keeps working for the whole 0.4x line, with a `DeprecationWarning` naming the
replacement: the import paths (``bussdcc_framework.SignalRuntime``, ``bussdcc_framework.web``,
``bussdcc_framework.json``), ``JsonlSource(root=...)``, the sinks' ``transform`` and
``json_fallback`` hooks, the 0.46 `WebInterface` arguments and the renamed messages
(``SinkHandlerError``). The new code paths only call in here to divert a legacy form. Delete
this package and the modules importing it at 1.0.
"""

from __future__ import annotations

import warnings

__all__ = ["deprecated"]


def deprecated(what: str, instead: str, *, stacklevel: int = 3) -> None:
    """Warn that ``what`` is a 0.46 form and name its replacement ``instead``."""
    warnings.warn(
        f"{what} is deprecated since bussdcc-framework 0.47 and goes away in 1.0; use {instead}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
