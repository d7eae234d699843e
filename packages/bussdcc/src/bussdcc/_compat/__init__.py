"""Compatibility with bussdcc 0.42: every shim of the 0.4x line, in one place.

What a 0.42 program wrote keeps working for the whole 0.4x line, with a `DeprecationWarning`
naming the replacement. Nothing in the kernel's own code paths calls into this package except
to divert a legacy form (a wrong-typed argument, a legacy keyword, a hook only a 0.42 subclass
defines), so the new paths pay nothing for it. Delete this package (and the thin modules that
import it: ``bussdcc.device``, ``bussdcc.process``, ``bussdcc.service``, ``bussdcc.interface``,
``bussdcc.io`` and ``bussdcc.message.<module>``) at 1.0.
"""

from __future__ import annotations

import warnings

__all__ = ["deprecated"]

SINCE = "bussdcc 0.43"


def deprecated(what: str, instead: str, *, stacklevel: int = 3) -> None:
    """Warn that ``what`` is a 0.42 form and name its replacement ``instead``."""
    warnings.warn(
        f"{what} is deprecated since {SINCE} and goes away in 1.0; use {instead}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
