"""The wire format: one event as one JSON object, encoded and decoded with msgspec.

A record is ``{"time", "seq", "name", "type", "severity", "data"}``: ``time`` is the event's
ISO-8601 time with its offset (UTC events end in ``Z``), ``name`` the message's wire name,
``type`` its ``module:QualName`` (informational), ``severity`` its lower-case label and
``data`` the message's fields. Decoding validates ``data`` against the message class's type
hints, so everything a message may hold comes back equal: datetime (with its offset), date,
time, enums, UUID, Path, nested dataclasses, list/tuple/set/frozenset/dict, Optional and unions,
Literal, and an `Event` held in a field (written as a nested record of the same shape).

Limits (JSON's or msgspec's): non-finite floats are written as ``null`` (so a ``float`` field
holding NaN or infinity will not validate when read back), a field typed ``Any`` comes back as
plain JSON data (lists, dicts, str), and a union may hold at most one string-like and one
object-like type (msgspec's rule for unambiguous JSON).

Types are resolved by wire name through the registry of already-imported messages
(`bussdcc.message.lookup`). A module is imported only when the caller passes
``allowed_modules`` and the record's ``type`` names a module inside one of those prefixes.

Public surface (everything else in this package is private):

- `encode_event` / `decode_event`: one event to one line and back (raising `WireError`s).
- `EventDecoder`: many lines at once, filtered by time window and names, one result per line
  (an `Event`, None, or the `WireError` for that line); what `JsonlSource` reads with.
- `to_plain`: any value as the plain JSON data the wire would carry (never raises);
  `event_to_dict`: an event's record as plain data (raises like `encode_event`).
- The `WireError` family, one subclass per failure.
"""

from ._decode import EventDecoder, decode_event
from ._encode import encode_event
from ._errors import (
    EnvelopeError,
    InvalidDataError,
    MalformedLineError,
    OversizeLineError,
    TypeMismatchError,
    UnencodableError,
    UnknownMessageError,
    UnsupportedTypeError,
    WireError,
)
from ._plain import event_to_dict, to_plain

__all__ = [
    "EnvelopeError",
    "EventDecoder",
    "InvalidDataError",
    "MalformedLineError",
    "OversizeLineError",
    "TypeMismatchError",
    "UnencodableError",
    "UnknownMessageError",
    "UnsupportedTypeError",
    "WireError",
    "decode_event",
    "encode_event",
    "event_to_dict",
    "to_plain",
]
