"""`Event[T]`: a message stamped with its UTC time and its sequence number within a runtime."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ._validate import aware_datetime
from .message import Message

__all__ = ["Event"]


def __getattr__(name: str) -> object:
    # 0.42 names of this path (bussdcc._compat.modules); deprecated.
    from ._compat.modules import legacy_names

    return legacy_names(__name__, name)


_T_co = TypeVar("_T_co", bound=Message, covariant=True)

_tuple_new = tuple.__new__
_tuple_item = tuple.__getitem__
_last_converted: tuple[float, datetime] = (float("nan"), datetime.min.replace(tzinfo=UTC))


class Event(tuple[Any, ...], Generic[_T_co]):
    """One delivery of a message: immutable ``time``, ``payload`` and ``seq``.

    ``time`` is timezone-aware UTC; ``seq`` increases by one per event within a runtime, in
    delivery order, so a consumer can detect gaps. ``Event(time=..., payload=...)`` builds one
    outside a runtime (``seq`` then defaults to 0); it raises ``TypeError`` when ``time`` is
    not a datetime or ``payload`` not a `Message`, ``ValueError`` when ``time`` is naive.

    Events are created for every emit, so this is a tuple underneath (the cheapest immutable
    record Python has), and the bus may stamp it with POSIX seconds that `time` turns into a
    datetime only when someone reads it.
    """

    __slots__ = ()

    def __new__(cls, time: datetime, payload: _T_co, seq: int = 0) -> Event[_T_co]:
        aware_datetime(time, "Event time")
        if not isinstance(payload, Message):
            raise TypeError(f"Event payload must be a Message, got {type(payload).__name__}")
        return _tuple_new(cls, (time, payload, seq))

    @classmethod
    def _stamped(cls, stamp: float | datetime, payload: Message, seq: int) -> Event[Any]:
        # The bus's fast path: no validation, the stamp may be POSIX seconds.
        return _tuple_new(cls, (stamp, payload, seq))

    @property
    def time(self) -> datetime:
        global _last_converted
        stamp = _tuple_item(self, 0)
        if type(stamp) is float:
            # A sink reads the time of the same event several times in a row (segment, then
            # encoding): remember the last conversion. One tuple, replaced whole, so a reader
            # in another thread sees an old pair or the new one, never a mix.
            last = _last_converted
            if last[0] == stamp:
                return last[1]
            converted = datetime.fromtimestamp(stamp, UTC)
            _last_converted = (stamp, converted)
            return converted
        result: datetime = stamp
        return result

    @property
    def payload(self) -> _T_co:
        payload: _T_co = _tuple_item(self, 1)
        return payload

    @property
    def seq(self) -> int:
        seq: int = _tuple_item(self, 2)
        return seq

    @property
    def name(self) -> str:
        """The payload's wire name."""
        return self.payload.name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.time, self.payload, self.seq) == (other.time, other.payload, other.seq)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((self.time, self.payload, self.seq))

    def __repr__(self) -> str:
        return f"Event(time={self.time!r}, payload={self.payload!r}, seq={self.seq!r})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self.time, self.payload, self.seq)
