"""`OnChange`: lets a slowly changing reading through when it changes, else only now and then."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from bussdcc.message import Message

from ..validation import non_negative

__all__ = ["EVERY_HOUR", "EVERY_MINUTE", "EVERY_TEN_MINUTES", "OnChange"]

M = TypeVar("M", bound=Message)

EVERY_MINUTE = 60.0
"""How often a slow reading (load averages, disk capacity) is repeated when it has not
changed: the charts' finest tier is 10 s, a minute keeps the 1-minute tier dense."""

EVERY_TEN_MINUTES = 600.0
"""How often a reading that cannot be taken is repeated when nothing changes (SPEC §8): often
enough that a recording's ten-minute segment, or a dashboard opened on a replay, has it."""

EVERY_HOUR = 3600.0
"""How often storage wear is repeated when it has not changed: it moves over months."""


class OnChange(Generic[M]):
    """Passes a message on when it differs from the last one passed, or ``repeat`` seconds after it.

    A collector whose reading rarely changes would otherwise write the same line into the
    history every tick. ``same(previous, current)`` says whether ``current`` is no news
    after ``previous`` (default: equal); it compares against the last message *passed*, so
    a slow drift is passed once it adds up to a change, never lost in small steps.

    Raises:
        TypeError: if ``repeat`` is not a number.
        ValueError: if ``repeat`` is negative, NaN or infinite.
    """

    def __init__(
        self,
        repeat: float,
        *,
        argument: str = "repeat",
        same: Callable[[M, M], bool] | None = None,
    ) -> None:
        self.repeat = non_negative(repeat, argument)
        self._same: Callable[[M, M], bool] = same if same is not None else _equal
        self._last: tuple[float, M] | None = None

    def __call__(self, now: float, msg: M) -> M | None:
        """``msg`` if it is news at monotonic time ``now``, else None."""
        last = self._last
        if last is not None and now - last[0] < self.repeat and self._same(last[1], msg):
            return None
        self._last = (now, msg)
        return msg

    def forget(self) -> None:
        """Pass the next message on whatever it holds."""
        self._last = None


def _equal(previous: Message, current: Message) -> bool:
    return previous == current
