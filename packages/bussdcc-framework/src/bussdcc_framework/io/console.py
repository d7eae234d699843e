"""`ConsoleSink`: every event as one JSON line on a text stream (stdout by default)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from bussdcc.event import Event

from .._compat.sinks import LegacySinkHooks, legacy_encoder
from ..codec import WireError, to_plain

if TYPE_CHECKING:
    from bussdcc.context import ContextProtocol

__all__ = ["ConsoleSink"]

_fallback_encoder = msgspec.json.Encoder()


class ConsoleSink(LegacySinkHooks):
    """Writes each event as one wire-format JSON line and flushes it at once.

    ``stream`` defaults to whatever ``sys.stdout`` is when each line is written, so redirecting
    stdout redirects the sink. An event holding a value the wire format cannot carry is still
    shown: its record is written by `bussdcc_framework.codec.to_plain` (each value the wire
    cannot carry as its ``str``) with an ``"error"`` key saying why, so a bad value never
    crashes the sink. Errors of the stream itself (a closed pipe) raise.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        # encode_event, unless a 0.46 subclass overrides transform/json_fallback (_compat).
        self._encode = legacy_encoder(self)

    def __repr__(self) -> str:
        return "ConsoleSink()" if self._stream is None else f"ConsoleSink({self._stream!r})"

    def start(self, ctx: ContextProtocol) -> None:
        """Nothing to prepare: the stream is already open."""

    def handle(self, evt: Event[Any]) -> None:
        """Write ``evt`` as one line and flush. Raises only if the stream fails."""
        try:
            line = self._encode(evt)
        except WireError as exc:
            line = _fallback_line(evt, exc)
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


def _fallback_line(evt: Event[Any], error: WireError) -> bytes:
    """A line for an event the wire format rejected: its record as `to_plain` writes it.

    Every value the wire cannot carry is written as its ``str``; ``"error"`` says why the
    event could not be written as a wire record.
    """
    record = to_plain(evt)
    if not isinstance(record, dict):  # to_plain gave up on the event as a whole
        record = {"data": record}
    record["error"] = to_plain(str(error))
    return _fallback_encoder.encode(record)
