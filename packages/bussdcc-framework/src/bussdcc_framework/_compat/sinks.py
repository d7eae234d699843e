"""The 0.46 sink hooks: ``transform(evt)`` and ``json_fallback(obj)``.

A 0.46 `JsonlSink`/`ConsoleSink` subclass overrode ``transform`` to change what is written
(typically to redact a secret) and ``json_fallback`` to write values JSON cannot carry. Both
are honoured: ignoring ``transform`` would write the unredacted data. When a subclass
overrides either, the sink encodes each event through `legacy_encoder` instead of
`encode_event`:

* ``transform(evt)`` returning a `Message` writes that message (its name and type) at the
  event's time and ``seq`` -- the redacted record reads back as the message it is;
* returning anything else writes it as the record's ``data`` under the event's own name
  (plain data, as 0.46 wrote it; reading it back validates it against that message);
* values the wire cannot carry go through ``json_fallback`` (0.46's ``UNHANDLED`` -- or
  raising -- leaves the event unencodable, as in 0.46).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any
from uuid import UUID

import msgspec

from bussdcc import Event, Message

from ..codec import UnencodableError, encode_event
from . import deprecated

__all__ = ["UNHANDLED", "LegacySinkHooks", "legacy_encoder", "plain_with"]

UNHANDLED: Any = object()
"""0.46's marker: ``json_fallback`` returns it for a value it does not convert."""

_encoder = msgspec.json.Encoder()


class LegacySinkHooks:
    """The 0.46 hooks' defaults, mixed into the sinks (overriding them is deprecated)."""

    def transform(self, evt: Event[Any]) -> Any:
        """0.46 hook: what to write for ``evt`` (default: its payload)."""
        return evt.payload

    def json_fallback(self, obj: Any) -> Any:
        """0.46 hook: a JSON-able stand-in for ``obj``, or ``UNHANDLED``."""
        return UNHANDLED


def _overrides(sink: object, hook: str) -> bool:
    return getattr(type(sink), hook, None) is not getattr(LegacySinkHooks, hook)


def legacy_encoder(sink: object) -> Callable[[Event[Any]], bytes]:
    """How ``sink`` encodes an event: `encode_event`, or through its 0.46 hooks."""
    if not (_overrides(sink, "transform") or _overrides(sink, "json_fallback")):
        return encode_event
    deprecated(
        f"overriding transform()/json_fallback() ({type(sink).__qualname__})",
        "a process that emits redacted messages, or message fields the wire carries",
        stacklevel=4,
    )
    transform: Callable[[Event[Any]], Any] = sink.transform  # type: ignore[attr-defined]
    fallback: Callable[[Any], Any] = sink.json_fallback  # type: ignore[attr-defined]

    def encode(evt: Event[Any]) -> bytes:
        out = transform(evt)
        if isinstance(out, Message):
            try:
                return encode_event(Event(evt.time, out, evt.seq))
            except UnencodableError:
                pass  # a value only json_fallback knows: the slow path below
        payload = out if isinstance(out, Message) else evt.payload
        cls = type(payload)
        record = {
            "time": _iso(evt.time),
            "seq": evt.seq,
            "name": payload.name,
            "type": f"{cls.__module__}:{cls.__qualname__}",
            "severity": payload.severity.label,
            "data": plain_with(out, fallback),
        }
        return _encoder.encode(record)

    return encode


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def plain_with(value: Any, fallback: Callable[[Any], Any], depth: int = 0) -> Any:
    if depth > 100:
        raise UnencodableError("value nested too deeply")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Event):
        return {
            "time": _iso(value.time),
            "seq": value.seq,
            "name": value.payload.name,
            "data": plain_with(value.payload, fallback, depth + 1),
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain_with(getattr(value, f.name), fallback, depth + 1)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(k): plain_with(v, fallback, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_with(v, fallback, depth + 1) for v in value]
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain_with(value.value, fallback, depth + 1)
    if isinstance(value, PurePath | UUID):
        return str(value)
    alt = fallback(value)
    if alt is UNHANDLED:
        cls = type(value)
        raise UnencodableError(
            f"values of type {cls.__module__}.{cls.__qualname__} are not "
            "serialisable (json_fallback left it UNHANDLED)"
        )
    return plain_with(alt, fallback, depth + 1)
