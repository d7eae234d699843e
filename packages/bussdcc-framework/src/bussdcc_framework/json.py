"""The 0.46 module ``bussdcc_framework.json``, kept for the 0.4x line (deprecated).

Use `bussdcc_framework.codec` (``to_plain`` for plain data; ``encode_event`` for a record).
Importing this warns once; delete at 1.0.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable
from typing import Any

from ._compat import deprecated
from ._compat.sinks import UNHANDLED
from ._compat.sinks import plain_with as _plain_with

__all__ = ["UNHANDLED", "dumps", "loads", "to_json_primitives", "to_jsonable"]

deprecated("importing bussdcc_framework.json", "bussdcc_framework.codec.to_plain", stacklevel=3)


def _no_fallback(obj: Any) -> Any:
    return UNHANDLED


def to_jsonable(obj: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """``obj`` as JSON-able data (dataclasses as dicts, datetimes ISO-8601)."""
    return _plain_with(obj, fallback or _no_fallback)


def dumps(obj: Any, **kwargs: Any) -> str:
    """``obj`` as a JSON string (``fallback=`` converts values JSON cannot carry)."""
    fallback = kwargs.pop("fallback", None)
    kwargs.setdefault("separators", (",", ":"))
    return _json.dumps(to_jsonable(obj, fallback), **kwargs)


def loads(s: str, **kwargs: Any) -> Any:
    """`json.loads`."""
    return _json.loads(s, **kwargs)


def to_json_primitives(obj: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """``obj`` through JSON and back: plain lists, dicts, str, numbers, None."""
    return loads(dumps(obj, fallback=fallback))
