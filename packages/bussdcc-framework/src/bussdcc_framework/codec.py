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
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from datetime import datetime
from functools import partial
from pathlib import PurePath
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

from bussdcc.event import Event
from bussdcc.message import Message, lookup, registered

__all__ = [
    "EnvelopeError",
    "InvalidDataError",
    "MalformedLineError",
    "TypeMismatchError",
    "UnencodableError",
    "UnknownMessageError",
    "UnsupportedTypeError",
    "WireError",
    "decode_event",
    "encode_event",
    "event_to_dict",
]


class WireError(ValueError):
    """An event or a line that cannot cross the wire format; the message says why."""


class UnencodableError(WireError):
    """A message holds a value the wire format cannot represent (the error names it)."""


class MalformedLineError(WireError):
    """The line is not JSON (torn, truncated, garbage bytes, invalid UTF-8)."""


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


# --- the record ----------------------------------------------------------------------------------


class _Record(msgspec.Struct):
    """What is written: field order here is the key order on the wire."""

    time: datetime
    seq: int
    name: str
    type: str
    severity: str
    data: Any


class _Envelope(msgspec.Struct):
    """What is read. ``data`` stays raw until the name has chosen a class to validate it.

    ``seq``, ``name``, ``type`` and ``severity`` are optional so that recordings made by
    earlier releases (``{"time", "type", "data"}``) still read.
    """

    time: Annotated[datetime, msgspec.Meta(tz=True)]
    data: msgspec.Raw
    seq: Annotated[int, msgspec.Meta(ge=0)] = 0
    name: str | None = None
    type: str | None = None
    severity: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class _ClassInfo:
    type: str
    severity: str
    # The payload may hold an Event (directly or via Any), which msgspec would write as a bare
    # tuple; such payloads are rewritten to plain data before encoding.
    walk: bool


_class_info: dict[type, _ClassInfo] = {}
_decoders: dict[tuple[type, tuple[str, ...]], msgspec.json.Decoder[Any]] = {}


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _info(cls: type[Message]) -> _ClassInfo:
    info = _class_info.get(cls)
    if info is None:
        if not isinstance(cls.__dict__.get("name", getattr(cls, "name", None)), str):
            raise UnencodableError(f"{_qualified(cls)} has no wire name; set its `name`")
        info = _ClassInfo(_qualified(cls), cls.severity.label, _may_hold_event(cls, set()))
        _class_info[cls] = info
    return info


def _may_hold_event(hint: Any, seen: set[type]) -> bool:
    """Whether a value of type ``hint`` could contain an `Event` somewhere inside it."""
    if hint is Any or hint is object or isinstance(hint, TypeVar):
        return True
    if hint is Event:
        return True
    origin = typing.get_origin(hint)
    if origin is Event:
        return True
    if origin is Annotated:
        return _may_hold_event(typing.get_args(hint)[0], seen)
    if origin is Literal:
        return False
    if origin is not None:
        return any(_may_hold_event(arg, seen) for arg in typing.get_args(hint) if arg is not ...)
    if isinstance(hint, type):
        if not dataclasses.is_dataclass(hint) and not hasattr(hint, "_fields"):
            return False  # a scalar, a plain container or an enum
        if hint in seen:
            return False
        seen.add(hint)
        try:
            hints = typing.get_type_hints(hint)
        except Exception:
            return True  # unresolvable annotations: take the careful path
        if dataclasses.is_dataclass(hint):
            names = [f.name for f in dataclasses.fields(hint)]
        else:
            names = list(getattr(hint, "_fields", ()))
        return any(_may_hold_event(hints.get(name, Any), seen) for name in names)
    return True  # a string annotation or a form we do not know


def _plain(value: Any) -> Any:
    """Rewrite ``value`` so msgspec writes nested events as records (slow path, rare)."""
    if isinstance(value, Event):
        return _record(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _record(evt: Event[Any]) -> _Record:
    payload = evt.payload
    info = _info(type(payload))
    data = _plain(payload) if info.walk else payload
    return _Record(evt.time, evt.seq, payload.name, info.type, info.severity, data)


def _enc_hook(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    # No repr here: it may be huge, slow or itself broken.
    cls = type(value)
    raise TypeError(f"values of type {cls.__module__}.{cls.__qualname__} are not serialisable")


_encoder: Final = msgspec.json.Encoder(enc_hook=_enc_hook)
_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)


def _check_event(evt: object) -> None:
    if not isinstance(evt, Event):
        raise TypeError(f"expected an Event, got {type(evt).__qualname__}")


def encode_event(evt: Event[Any]) -> bytes:
    """Encode ``evt`` as one wire record: a single JSON line without the trailing newline.

    Raises `UnencodableError` (a `WireError`) naming the event and the value when the payload
    holds something JSON cannot carry (an arbitrary object, a lone surrogate, a float dict
    key, a cycle); `TypeError` if ``evt`` is not an `Event`.
    """
    _check_event(evt)
    try:
        return _encoder.encode(_record(evt))
    except WireError:
        raise
    except Exception as exc:
        raise UnencodableError(f"cannot encode {evt.name!r} event: {exc}") from exc


def event_to_dict(evt: Event[Any]) -> dict[str, Any]:
    """The same record as `encode_event`, as JSON-safe plain data (str keys, str times).

    Raises like `encode_event`.
    """
    _check_event(evt)
    try:
        result: dict[str, Any] = msgspec.to_builtins(
            _record(evt), enc_hook=_enc_hook, str_keys=True
        )
    except WireError:
        raise
    except Exception as exc:
        raise UnencodableError(f"cannot encode {evt.name!r} event: {exc}") from exc
    return result


# --- decoding ------------------------------------------------------------------------------------


def decode_event(line: bytes | str, *, allowed_modules: tuple[str, ...] = ()) -> Event[Message]:
    """Decode one wire record (with or without its trailing newline) into an `Event`.

    The message class is found by ``name`` among already-imported messages. If no class has
    that name and the record's ``type`` names a module inside one of ``allowed_modules`` (dotted
    prefixes such as ``"myapp.messages"``), that module is imported once and looked up again;
    nothing is ever imported otherwise.

    Raises a `WireError` subclass saying what is wrong: `MalformedLineError` (not JSON),
    `EnvelopeError` (a record field missing or of the wrong type), `UnknownMessageError`,
    `TypeMismatchError` (``type`` names a different registered message), `InvalidDataError`
    (``data`` does not validate; msgspec's message gives the path), `UnsupportedTypeError`.
    """
    if not isinstance(allowed_modules, tuple) or not all(
        isinstance(prefix, str) for prefix in allowed_modules
    ):
        raise TypeError(f"allowed_modules must be a tuple of str, got {allowed_modules!r}")
    envelope = _read_envelope(line)
    cls = _resolve(envelope.name, envelope.type, allowed_modules)
    return Event(envelope.time, _read_payload(envelope, cls, allowed_modules), envelope.seq)


def _read_envelope(line: bytes | str) -> _Envelope:
    """Parse a record's envelope; ``data`` is left raw (the first half of `decode_event`)."""
    try:
        return _envelope_decoder.decode(line)
    except msgspec.ValidationError as exc:
        raise EnvelopeError(f"not an event record: {exc}") from None
    except msgspec.DecodeError as exc:
        raise MalformedLineError(f"not valid JSON: {exc}") from None
    except UnicodeError as exc:  # invalid UTF-8 in the bytes, or lone surrogates in a str
        raise MalformedLineError(f"not valid UTF-8: {exc}") from None
    except RecursionError:
        raise MalformedLineError("not an event record: nested too deeply") from None
    except TypeError as exc:
        raise TypeError(f"line must be bytes or str, got {type(line).__qualname__}") from exc


def _read_payload(
    envelope: _Envelope, cls: type[Message], allowed_modules: tuple[str, ...]
) -> Message:
    """Validate a record's raw ``data`` as ``cls`` (the second half of `decode_event`)."""
    decoder = _decoders.get((cls, allowed_modules))
    if decoder is None:
        decoder = _make_decoder(cls, allowed_modules)
    try:
        payload: Message = decoder.decode(envelope.data)
    except msgspec.ValidationError as exc:
        raise InvalidDataError(f"{cls.name!r} data does not validate: {exc}") from None
    except UnicodeError as exc:
        raise MalformedLineError(f"{cls.name!r} data is not valid UTF-8: {exc}") from None
    except RecursionError:
        raise MalformedLineError(f"{cls.name!r} data is nested too deeply") from None
    return payload


def _make_decoder(
    cls: type[Message], allowed_modules: tuple[str, ...]
) -> msgspec.json.Decoder[Any]:
    try:
        decoder = msgspec.json.Decoder(cls, dec_hook=partial(_dec_hook, allowed_modules))
    except Exception as exc:
        raise UnsupportedTypeError(f"{_qualified(cls)} cannot be decoded: {exc}") from None
    _decoders[(cls, allowed_modules)] = decoder
    return decoder


def _dec_hook(allowed_modules: tuple[str, ...], tp: Any, value: Any) -> Any:
    # Errors raised here become msgspec ValidationErrors carrying the field's path.
    if isinstance(tp, type) and issubclass(tp, PurePath):
        if not isinstance(value, str):
            raise TypeError(f"Expected `str` (a path), got `{type(value).__name__}`")
        return tp(value)
    if tp is Event or typing.get_origin(tp) is Event:
        try:
            evt = decode_event(_encoder.encode(value), allowed_modules=allowed_modules)
        except WireError as exc:
            raise ValueError(f"nested event: {exc}") from None
        args = typing.get_args(tp)
        expected = args[0] if args else Message
        if isinstance(expected, type) and not isinstance(evt.payload, expected):
            raise TypeError(f"Expected an event of `{expected.__qualname__}`, got {evt.name!r}")
        return evt
    raise TypeError(f"unsupported type {tp!r}")


def _resolve(
    name: str | None, type_: str | None, allowed_modules: tuple[str, ...]
) -> type[Message]:
    if name is None and type_ is None:
        raise EnvelopeError("not an event record: it has neither `name` nor `type`")
    cls = lookup(name) if name is not None else _registered_by_type(type_)
    if cls is not None:
        if name is not None and type_ is not None and type_ != _qualified(cls):
            _check_type(type_, cls)
        return cls
    wanted = repr(name) if name is not None else f"type {type_!r}"
    module = _allowed_module(type_, allowed_modules)
    if module is None:
        hint = "" if type_ is None else f" (its type {type_!r} is not under allowed_modules)"
        raise UnknownMessageError(f"unknown message {wanted}: no imported class has it{hint}")
    try:
        importlib.import_module(module)
    except Exception as exc:
        raise UnknownMessageError(
            f"unknown message {wanted}: importing {module!r} failed: {exc}"
        ) from None
    cls = lookup(name) if name is not None else _registered_by_type(type_)
    if cls is None:
        raise UnknownMessageError(f"unknown message {wanted}: module {module!r} does not define it")
    return cls


def _check_type(type_: str, cls: type[Message]) -> None:
    """Raise `TypeMismatchError` if ``type_`` names a registered message other than ``cls``.

    A moved or renamed class keeps its wire name, so a ``type`` that names no registered
    class is fine; naming a different registered message is a contradiction.
    """
    other = _registered_by_type(type_)
    if other is not None and other is not cls:
        raise TypeMismatchError(
            f"record names {cls.name!r} ({_qualified(cls)}) but its type is {type_!r}, "
            f"registered as {other.name!r}"
        )


def _registered_by_type(type_: str | None) -> type[Message] | None:
    for cls in registered().values():
        if _qualified(cls) == type_:
            return cls
    return None


def _allowed_module(type_: str | None, allowed_modules: tuple[str, ...]) -> str | None:
    """The module ``type_`` names, if it lies inside an allowed dotted prefix."""
    if not type_ or not allowed_modules:
        return None
    module, sep, _ = type_.partition(":")
    if not sep or not all(part.isidentifier() for part in module.split(".")):
        return None
    for prefix in allowed_modules:
        if prefix and (module == prefix or module.startswith(prefix + ".")):
            return module
    return None


# --- the fast path for reading many lines --------------------------------------------------------


class _LineDecoder:
    """Decodes a whole record in one msgspec pass, for every message registered when built.

    A tagged union of one record struct per message class, keyed by ``name``, validates the
    envelope and the data together (about as fast as decoding the bare dataclass). It is only
    an accelerator: any line it rejects must be retried with `decode_event`, which resolves
    names not in the union (imported since, or allowed for import), accepts the older record
    shape and gives the precise error.
    """

    def __init__(self, classes: tuple[type[Message], ...], allowed_modules: tuple[str, ...]):
        self.classes = classes
        hook = partial(_dec_hook, allowed_modules)
        records: list[type[msgspec.Struct]] = []
        for cls in classes:
            try:
                msgspec.json.Decoder(cls, dec_hook=hook)
            except Exception:
                continue  # decode_event reports it as UnsupportedTypeError
            fields: list[tuple[str, Any, Any]] = [
                ("time", Annotated[datetime, msgspec.Meta(tz=True)], msgspec.NODEFAULT),
                ("data", cls, msgspec.NODEFAULT),
                ("seq", Annotated[int, msgspec.Meta(ge=0)], 0),
                ("type", str | None, None),
                ("severity", str | None, None),
            ]
            records.append(
                msgspec.defstruct(f"_Record_{len(records)}", fields, tag_field="name", tag=cls.name)
            )
        union: Any = typing.Union[tuple(records)] if records else _Envelope  # noqa: UP007
        self.decode = msgspec.json.Decoder(union, dec_hook=hook).decode
        #: The ``type`` each class writes; a record with another ``type`` needs `check_type`.
        self.types: dict[type, str] = {cls: _qualified(cls) for cls in classes}
        self._foreign: set[tuple[str, type]] = set()

    def check_type(self, type_: str, cls: type[Message]) -> None:
        """`_check_type`, remembering the verdict (a recording repeats the same few types)."""
        if (type_, cls) not in self._foreign:
            _check_type(type_, cls)
            self._foreign.add((type_, cls))


_line_decoders: dict[tuple[str, ...], _LineDecoder] = {}


def _line_decoder(allowed_modules: tuple[str, ...]) -> _LineDecoder:
    """The fast decoder for the current registry (rebuilt when the registry has changed)."""
    classes = tuple(registered().values())
    decoder = _line_decoders.get(allowed_modules)
    if decoder is None or decoder.classes != classes:
        decoder = _LineDecoder(classes, allowed_modules)
        _line_decoders[allowed_modules] = decoder
    return decoder
