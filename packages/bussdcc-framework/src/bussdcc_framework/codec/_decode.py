"""Reading: wire records back into events, one line at a time or in bulk with filters.

There is one decoding path, `_decode_line`: `decode_event` raises its errors, `EventDecoder`
returns them. `EventDecoder` first tries an accelerator (one msgspec pass over the envelope and
the data together, for every message registered when it was built); any line the accelerator
rejects takes `_decode_line`, which gives the precise error, resolves names not in the
accelerator and reads the older record shape. Both apply the same filter, `EventDecoder._wanted`
(written out in the accelerated loop).
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import PurePath
from typing import Annotated, Any, Final

import msgspec

from bussdcc.event import Event
from bussdcc.message import Message, lookup, registered

from ._encode import wire_type
from ._errors import (
    EnvelopeError,
    InvalidDataError,
    MalformedLineError,
    TypeMismatchError,
    UnknownMessageError,
    UnsupportedTypeError,
    WireError,
)

__all__ = ["EventDecoder", "decode_event"]


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


_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_decoders: dict[tuple[type, tuple[str, ...]], msgspec.json.Decoder[Any]] = {}


def _check_allowed_modules(allowed_modules: object) -> tuple[str, ...]:
    if not isinstance(allowed_modules, tuple) or not all(
        isinstance(prefix, str) for prefix in allowed_modules
    ):
        raise TypeError(f"allowed_modules must be a tuple of str, got {allowed_modules!r}")
    return allowed_modules


# --- decoding ------------------------------------------------------------------------------------


def decode_event(line: bytes | str, *, allowed_modules: tuple[str, ...] = ()) -> Event[Message]:
    """Decode one wire record (with or without its trailing newline) into an `Event`.

    The message class is found by ``name`` among already-imported messages. If no class has
    that name and the record's ``type`` names a module inside one of ``allowed_modules`` (dotted
    prefixes such as ``"myapp.messages"``), that module is imported once and looked up again;
    nothing is ever imported otherwise, and never a ``__main__`` module. A record whose time
    lies within a day of year 1 or year 10000 is refused (`EnvelopeError`): no clock, segment
    or replay can compute with it. Whatever such an import
    raises (``SystemExit`` included) becomes `UnknownMessageError`.

    Raises a `WireError` subclass saying what is wrong: `MalformedLineError` (not JSON, or
    blank), `EnvelopeError` (a record field missing or of the wrong type),
    `UnknownMessageError`, `TypeMismatchError` (``type`` names a different registered message),
    `InvalidDataError` (``data`` does not validate; msgspec's message gives the path),
    `UnsupportedTypeError`. `TypeError` if ``line`` is not bytes or str or ``allowed_modules``
    not a tuple of str.
    """
    evt = _decode_line(line, _check_allowed_modules(allowed_modules), None)
    assert evt is not None  # without a filter every record is wanted
    return evt


def _decode_line(
    line: bytes | str,
    allowed_modules: tuple[str, ...],
    wanted: Callable[[datetime, str | None], bool] | None,
) -> Event[Message] | None:
    """The one decoding path: envelope, filter, class, filter again, data.

    Returns None if ``wanted`` rejects the record's time or name; the filter runs before the
    data is validated (and before anything is imported), so unwanted lines cost little.
    """
    envelope = _read_envelope(line)
    name = envelope.name
    if wanted is not None and not wanted(envelope.time, name):
        return None
    if not _EARLIEST <= envelope.time <= _LATEST:
        raise _out_of_range(envelope.time)
    cls = _resolve(name, envelope.type, allowed_modules)
    if wanted is not None and name is None and not wanted(envelope.time, cls.name):
        return None  # an older record, named only by its type
    return Event(envelope.time, _read_payload(envelope, cls, allowed_modules), envelope.seq)


_EARLIEST: Final = datetime(1, 1, 2, tzinfo=UTC)
_LATEST: Final = datetime(9999, 12, 30, tzinfo=UTC)
"""Record times outside these are refused: within a day of the calendar's ends, adding a
segment's length or a replay gap to them overflows."""


def _out_of_range(moment: datetime) -> EnvelopeError:
    return EnvelopeError(
        f"not a usable event record: its time {moment.isoformat()} is out of range "
        f"(0001-01-02 to 9999-12-30 UTC)"
    )


def _read_envelope(line: bytes | str) -> _Envelope:
    """Parse a record's envelope; ``data`` is left raw (the first step of `_decode_line`)."""
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
    """Validate a record's raw ``data`` as ``cls`` (the last step of `_decode_line`)."""
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
        raise UnsupportedTypeError(f"{wire_type(cls)} cannot be decoded: {exc}") from None
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
            evt = decode_event(msgspec.json.encode(value), allowed_modules=allowed_modules)
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
        if name is not None and type_ is not None and type_ != wire_type(cls):
            _check_type(type_, cls)
        return cls
    wanted = repr(name) if name is not None else f"type {type_!r}"
    module = _allowed_module(type_, allowed_modules)
    if module is None:
        if type_ is None:
            hint = ""
        elif "__main__" in type_.partition(":")[0].split("."):
            hint = f" (its type {type_!r} names a __main__ module, which is never imported)"
        else:
            hint = f" (its type {type_!r} is not under allowed_modules)"
        raise UnknownMessageError(f"unknown message {wanted}: no imported class has it{hint}")
    failure = _failed_imports.get(module)
    if failure is None:
        failure = _import_message_module(module)
    if failure:
        raise UnknownMessageError(
            f"unknown message {wanted}: importing {module!r} failed: {failure}"
        )
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
            f"record names {cls.name!r} ({wire_type(cls)}) but its type is {type_!r}, "
            f"registered as {other.name!r}"
        )


def _registered_by_type(type_: str | None) -> type[Message] | None:
    for cls in registered().values():
        if wire_type(cls) == type_:
            return cls
    return None


def _import_message_module(module: str) -> str:
    """Import ``module`` (already checked by `_allowed_module`); "" on success, else why not.

    Whatever the import raises is caught -- ``SystemExit`` and every other ``BaseException``
    included, so a module that exits or raises on import cannot end the reader -- except
    ``KeyboardInterrupt``, which is the user stopping the read. A failure is remembered, so a
    hostile file naming the same module on a million lines costs one attempt, not a million.
    """
    try:
        importlib.import_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # see the docstring
        failure = f"{type(exc).__name__}: {exc}"
        if len(_failed_imports) < _MAX_FAILED_IMPORTS:
            _failed_imports[module] = failure
        return failure
    return ""


_failed_imports: dict[str, str] = {}
_MAX_FAILED_IMPORTS: Final = 1024


def _allowed_module(type_: str | None, allowed_modules: tuple[str, ...]) -> str | None:
    """The module ``type_`` names, if it lies inside an allowed dotted prefix.

    Never a ``__main__`` module (``__main__`` itself or any ``pkg.__main__``): importing one
    runs a program (an app's ``python -m`` entry point), whatever the allow-list says.
    """
    if not type_ or not allowed_modules:
        return None
    module, sep, _ = type_.partition(":")
    parts = module.split(".")
    if not sep or not all(part.isidentifier() for part in parts) or "__main__" in parts:
        return None
    for prefix in allowed_modules:
        if prefix and (module == prefix or module.startswith(prefix + ".")):
            return module
    return None


# --- decoding many lines -------------------------------------------------------------------------


class EventDecoder:
    """Decodes many wire records fast, keeping those inside a time window and a set of names.

    ``start`` (inclusive) and ``end`` (exclusive) are timezone-aware datetimes, ``names`` a
    collection of wire names; None means no bound. ``allowed_modules`` is as for
    `decode_event`. A record outside the filters is dropped without validating its data and
    without importing anything for it.

    `decode_lines` gives one result per line, in order, so a reader can say which line failed:

    - an `Event`: the record decoded and passed the filters;
    - ``None``: the line is blank, or its record lies outside the filters;
    - a `WireError` (returned, not raised): why the line cannot be used, the same error
      `decode_event` would raise for it.

    Lines are bytes or str, with or without their newline. Messages imported after the decoder
    was built are found too. One decoder may be reused for any number of lines; it is not
    thread-safe.

    Raises ``ValueError`` for a naive ``start``/``end``, ``TypeError`` for ``names`` given as
    one str or ``allowed_modules`` not a tuple of str.
    """

    def __init__(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        names: Collection[str] | None = None,
        allowed_modules: tuple[str, ...] = (),
    ) -> None:
        for label, bound in (("start", start), ("end", end)):
            if bound is not None and (not isinstance(bound, datetime) or bound.tzinfo is None):
                raise ValueError(f"{label} must be a timezone-aware datetime, got {bound!r}")
        if isinstance(names, str):
            raise TypeError(f"names must be a collection of wire names, not the str {names!r}")
        self.start = start
        self.end = end
        self.names = frozenset(names) if names is not None else None
        self.allowed_modules = _check_allowed_modules(allowed_modules)
        self._filtered = start is not None or end is not None or names is not None
        self._accelerator: _Accelerator | None = None

    def __repr__(self) -> str:
        return (
            f"EventDecoder(start={self.start!r}, end={self.end!r}, names={self.names!r}, "
            f"allowed_modules={self.allowed_modules!r})"
        )

    def _wanted(self, moment: datetime, name: str | None) -> bool:
        """The filter, in one place: inside the window, and a wanted name (if it has one)."""
        start, end, names = self.start, self.end, self.names
        return (
            (start is None or moment >= start)
            and (end is None or moment < end)
            and (names is None or name is None or name in names)
        )

    def decode_lines(
        self, lines: Iterable[bytes | str]
    ) -> Iterator[Event[Message] | WireError | None]:
        """One result per line of ``lines``, as the class docstring describes.

        Raises ``TypeError`` (from the iteration) for a line that is neither bytes nor str.
        """
        accelerator = self._accelerator_for_registry()
        fast_decode, types = accelerator.decode, accelerator.types
        filtered = self._filtered
        # `_wanted`, written out below (one call per line is a good part of a filtered read).
        start, end, names = self.start, self.end, self.names
        earliest, latest = _EARLIEST, _LATEST
        for line in lines:
            try:
                record = fast_decode(line)
            except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
                yield self._decode_slowly(line)
                continue
            moment = record.time
            payload = record.data
            if filtered and (
                (start is not None and moment < start)
                or (end is not None and moment >= end)
                or (names is not None and payload.name is not None and payload.name not in names)
            ):
                yield None
                continue
            if not earliest <= moment <= latest:
                yield _out_of_range(moment)
                continue
            type_ = record.type
            if type_ is not None and type_ != types[payload.__class__]:
                try:
                    accelerator.check_type(type_, payload.__class__)
                except WireError as exc:
                    yield exc
                    continue
            yield Event(moment, payload, record.seq)

    def _decode_slowly(self, line: bytes | str) -> Event[Message] | WireError | None:
        """A line the accelerator rejected: the one decoding path, errors returned."""
        if isinstance(line, bytes | str) and not line.strip():
            return None
        try:
            return _decode_line(
                line, self.allowed_modules, self._wanted if self._filtered else None
            )
        except WireError as exc:
            return exc

    def _accelerator_for_registry(self) -> _Accelerator:
        """The accelerator for the messages registered now (rebuilt when that set changed)."""
        classes = tuple(registered().values())
        accelerator = self._accelerator
        if accelerator is None or accelerator.classes != classes:
            key = (classes, self.allowed_modules)
            accelerator = _accelerators.get(key)
            if accelerator is None:
                accelerator = _Accelerator(classes, self.allowed_modules)
                if len(_accelerators) >= _MAX_ACCELERATORS:
                    _accelerators.clear()  # registries only grow; old entries are dead weight
                _accelerators[key] = accelerator
            self._accelerator = accelerator
        return accelerator


class _Accelerator:
    """Decodes a whole record in one msgspec pass, for every message registered when built.

    A tagged union of one record struct per message class, keyed by ``name``, validates the
    envelope and the data together (about as fast as decoding the bare dataclass). Any line it
    rejects is retried by `_decode_line`, which resolves names not in the union (imported
    since, or allowed for import), accepts the older record shape and gives the precise error.
    """

    def __init__(self, classes: tuple[type[Message], ...], allowed_modules: tuple[str, ...]):
        self.classes = classes
        hook = partial(_dec_hook, allowed_modules)
        records: list[type[msgspec.Struct]] = []
        for cls in classes:
            try:
                msgspec.json.Decoder(cls, dec_hook=hook)
            except Exception:
                continue  # `_decode_line` reports it as UnsupportedTypeError
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
        self.types: dict[type, str] = {cls: wire_type(cls) for cls in classes}
        self._foreign: set[tuple[str, type]] = set()

    def check_type(self, type_: str, cls: type[Message]) -> None:
        """`_check_type`, remembering the verdict (a recording repeats the same few types)."""
        if (type_, cls) not in self._foreign:
            _check_type(type_, cls)
            self._foreign.add((type_, cls))


_accelerators: dict[tuple[tuple[type[Message], ...], tuple[str, ...]], _Accelerator] = {}
_MAX_ACCELERATORS: Final = 16
