"""Plain data: any value, or an event's wire record, as the JSON data the wire would carry."""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import msgspec

from bussdcc.event import Event

from ._encode import Record, encode_event, wire_type, with_records

__all__ = ["event_to_dict", "to_plain"]

_MAX_DEPTH: Final = 200
"""Deeper than this (or a cycle) the lenient walk writes the value as its ``str``."""


def to_plain(value: Any) -> Any:
    """``value`` as JSON-safe plain data, written exactly as the wire writes it.

    The result is what reading the value back from wire JSON gives: dicts with str keys,
    lists, str, int, float, bool and None. Datetimes become ISO-8601 strings with their offset
    (UTC as ``Z``, as in a record's ``time``), dates, times and UUIDs their ISO strings, enums
    their values, paths and decimals strings, bytes base64; dataclasses and msgspec structs
    become dicts of their fields and tuples and sets lists; an `Event` (anywhere inside a dict,
    list, tuple, set or dataclass) becomes its wire record, as `event_to_dict` gives it.
    Non-finite floats become None (JSON has no NaN).

    It never raises for what it is given: a value the wire cannot carry becomes its ``str``
    (``<unrepresentable T>`` if even that fails), lone surrogates in strings are written as
    ``\\udXXX`` escapes, and a cycle or nesting deeper than 200 levels ends in the ``str`` of
    the innermost value reached.
    """
    try:
        return _decode(_lenient_encoder.encode(with_records(value)))
    except Exception:
        pass  # rare: a lone surrogate, a cycle, absurd nesting; the careful walk handles them
    try:
        return _decode(_lenient_encoder.encode(_scrubbed(value, 0)))
    except Exception:
        return _safe_str(value)


def event_to_dict(evt: Event[Any]) -> dict[str, Any]:
    """The wire record of ``evt`` as plain data: what reading the `encode_event` line gives.

    Equal to ``to_plain(evt)`` for every event the wire can carry; unlike `to_plain` it raises
    where the wire would: `UnencodableError` (a `WireError`) for a value JSON cannot carry,
    `TypeError` if ``evt`` is not an `Event`.
    """
    record: dict[str, Any] = _decode(encode_event(evt))
    return record


def _safe_str(value: object) -> str:
    """``str(value)``, valid as UTF-8, whatever ``value``'s ``__str__`` does."""
    try:
        text = str(value)
    except Exception as exc:  # a broken __str__/__repr__ must not break the conversion
        text = f"<unrepresentable {type(value).__qualname__}: {type(exc).__name__}>"
    return _clean(text)


def _clean(text: str) -> str:
    # Lone surrogates cannot be written as UTF-8; escape them instead of failing.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _scrubbed(value: Any, depth: int) -> Any:
    """``value`` rebuilt so the lenient encoder cannot fail on it: the careful walk."""
    if isinstance(value, str):
        return _clean(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth > _MAX_DEPTH:
        return _safe_str(value)
    depth += 1
    if isinstance(value, Event):
        payload = value.payload
        cls = type(payload)
        name = getattr(cls, "name", None)
        severity = getattr(getattr(cls, "severity", None), "label", "")
        return Record(
            value.time,
            value.seq,
            _clean(name) if isinstance(name, str) else wire_type(cls),
            _clean(wire_type(cls)),
            _safe_str(severity),
            _scrubbed(payload, depth),
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _scrubbed(getattr(value, f.name, None), depth)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, msgspec.Struct):
        return {
            field: _scrubbed(getattr(value, field, None), depth)
            for field in value.__struct_fields__
        }
    if isinstance(value, dict):
        return {
            _scrubbed(key, depth) if isinstance(key, str) else key: _scrubbed(item, depth)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrubbed(item, depth) for item in value]
    return value  # datetimes, enums, UUIDs...: the encoder writes them, or its hook strs them


_lenient_encoder: Final = msgspec.json.Encoder(enc_hook=_safe_str)
_decode: Final = msgspec.json.Decoder().decode
