"""Writing: an event becomes one wire record, encoded by msgspec in a single pass."""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

from bussdcc.event import Event
from bussdcc.message import Message

from ._errors import UnencodableError, WireError

__all__ = ["Record", "encode_event", "record_of", "wire_type", "with_records"]


class Record(msgspec.Struct):
    """What is written: field order here is the key order on the wire."""

    time: datetime
    seq: int
    name: str
    type: str
    severity: str
    data: Any


@dataclasses.dataclass(frozen=True, slots=True)
class _ClassInfo:
    type: str
    severity: str
    # The payload may hold an Event (directly or via Any), which msgspec would write as a bare
    # list (an Event is a tuple); such payloads go through `with_records` before encoding.
    walk: bool


_class_info: dict[type, _ClassInfo] = {}


def wire_type(cls: type) -> str:
    """The ``type`` field a record of ``cls`` carries: ``module:QualName``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _info(cls: type[Message]) -> _ClassInfo:
    info = _class_info.get(cls)
    if info is None:
        if not isinstance(cls.__dict__.get("name", getattr(cls, "name", None)), str):
            raise UnencodableError(f"{wire_type(cls)} has no wire name; set its `name`")
        info = _ClassInfo(wire_type(cls), cls.severity.label, _may_hold_event(cls, set()))
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


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})

_walk_class: dict[type, bool] = {}
"""Per dataclass: whether an instance may hold an `Event` (`_may_hold_event`), memoised."""


def with_records(value: Any) -> Any:
    """``value`` with every nested `Event` replaced by its `Record`.

    Containers that may hold an event are rebuilt on the way down: dataclasses as dicts,
    list/tuple/set/frozenset as lists (what msgspec would write for them anyway). A
    dataclass whose fields cannot hold an event (by their annotations, as `record_of`
    decides for payloads) and every other value are left for the encoder as they are, so
    plain data costs one type check per value.
    """
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is list:
        return [with_records(item) for item in value]
    if cls is dict:
        return {key: with_records(item) for key, item in value.items()}
    if isinstance(value, Event):
        return record_of(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        walk = _walk_class.get(cls)
        if walk is None:
            walk = _walk_class[cls] = _may_hold_event(cls, set())
        if not walk:
            return value
        return {f.name: with_records(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple | set | frozenset):
        return [with_records(item) for item in value]
    if isinstance(value, dict):
        return {key: with_records(item) for key, item in value.items()}
    return value


def record_of(evt: Event[Any]) -> Record:
    """The record ``evt`` is written as. Raises `UnencodableError` if its class has no name."""
    payload = evt.payload
    info = _info(type(payload))
    data = with_records(payload) if info.walk else payload
    return Record(evt.time, evt.seq, payload.name, info.type, info.severity, data)


def _enc_hook(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    # No repr here: it may be huge, slow or itself broken.
    cls = type(value)
    raise TypeError(f"values of type {cls.__module__}.{cls.__qualname__} are not serialisable")


_encoder: Final = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode_event(evt: Event[Any]) -> bytes:
    """Encode ``evt`` as one wire record: a single JSON line without the trailing newline.

    Raises `UnencodableError` (a `WireError`) naming the event and the value when the payload
    holds something JSON cannot carry (an arbitrary object, a lone surrogate, a cycle);
    `TypeError` if ``evt`` is not an `Event`.
    """
    if not isinstance(evt, Event):
        raise TypeError(f"evt must be an Event, got {type(evt).__qualname__}")
    try:
        return _encoder.encode(record_of(evt))
    except WireError:
        raise
    except Exception as exc:
        raise UnencodableError(f"cannot encode {evt.name!r} event: {exc}") from exc
