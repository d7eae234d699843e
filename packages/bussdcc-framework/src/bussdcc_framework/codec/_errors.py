"""The wire format's errors: one `WireError` subclass per way an event or a line can fail."""

from __future__ import annotations

__all__ = [
    "EnvelopeError",
    "InvalidDataError",
    "MalformedLineError",
    "OversizeLineError",
    "TypeMismatchError",
    "UnencodableError",
    "UnknownMessageError",
    "UnsupportedTypeError",
    "WireError",
]


class WireError(ValueError):
    """An event or a line that cannot cross the wire format; the message says why."""


class UnencodableError(WireError):
    """A message holds a value the wire format cannot represent (the error names it)."""


class MalformedLineError(WireError):
    """The line is not JSON (torn, truncated, garbage bytes, invalid UTF-8)."""


class OversizeLineError(WireError):
    """The line is longer than the reader's limit, so it was not read (nor held in memory).

    ``limit`` is that limit in bytes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"line longer than {limit} bytes")
        self.limit = limit


class EnvelopeError(WireError):
    """The line is JSON but not an event record: a field is missing or has the wrong type."""


class UnknownMessageError(WireError):
    """No imported message class has the record's name (and none may be imported for it)."""


class TypeMismatchError(WireError):
    """The record's ``type`` names a registered message class other than its ``name``'s."""


class InvalidDataError(WireError):
    """The record's ``data`` does not validate against the message class's fields."""


class UnsupportedTypeError(WireError):
    """A message class has a field type the wire format cannot decode."""
