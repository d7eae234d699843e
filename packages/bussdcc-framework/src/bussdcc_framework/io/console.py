"""`ConsoleSink`: every event as one JSON line on a text stream (stdout by default)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from bussdcc.event import Event

from ..codec import WireError, encode_event

if TYPE_CHECKING:
    from bussdcc.context import ContextProtocol

__all__ = ["ConsoleSink"]

_fallback_encoder = msgspec.json.Encoder()


class ConsoleSink:
    """Writes each event as one wire-format JSON line and flushes it at once.

    ``stream`` defaults to whatever ``sys.stdout`` is when each line is written, so redirecting
    stdout redirects the sink. An event holding a value the wire format cannot carry is still
    shown: its fields are written as their ``repr`` strings and an ``"error"`` key says why,
    so a bad value never crashes the sink. Errors of the stream itself (a closed pipe) raise.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "ConsoleSink()" if self._stream is None else f"ConsoleSink({self._stream!r})"

    def start(self, ctx: ContextProtocol) -> None:
        """Nothing to prepare: the stream is already open."""

    def handle(self, evt: Event[Any]) -> None:
        """Write ``evt`` as one line and flush. Raises only if the stream fails."""
        try:
            line = encode_event(evt)
        except WireError as exc:
            line = _repr_line(evt, exc)
        stream = self._stream if self._stream is not None else sys.stdout
        text = line.decode("utf-8") + "\n"
        with self._lock:
            stream.write(text)
            stream.flush()

    def stop(self) -> None:
        """Flush the stream (it is not closed: the sink does not own it)."""
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            stream.flush()


def _repr_line(evt: Event[Any], error: WireError) -> bytes:
    """A best-effort line for an event the wire format rejected: fields as their reprs."""
    payload = evt.payload
    fields = getattr(type(payload), "__dataclass_fields__", {})
    data = {name: _safe_repr(getattr(payload, name, None)) for name in fields}
    record = {
        "time": evt.time.isoformat(),
        "seq": evt.seq,
        "name": _safe_repr(getattr(payload, "name", type(payload).__qualname__), plain=True),
        "type": f"{type(payload).__module__}:{type(payload).__qualname__}",
        "severity": _safe_repr(getattr(getattr(payload, "severity", None), "label", ""), True),
        "data": data,
        "error": _safe_repr(str(error), plain=True),
    }
    return _fallback_encoder.encode(record)


def _safe_repr(value: object, plain: bool = False) -> str:
    try:
        text = value if plain and isinstance(value, str) else repr(value)
    except Exception as exc:  # a broken __repr__ must not take the sink down
        text = f"<unrepresentable {type(value).__qualname__}: {type(exc).__name__}>"
    # Lone surrogates cannot be written as UTF-8; escape them instead of failing.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
