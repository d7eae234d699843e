"""Bounded sample histories for charts, kept as columns.

A history is stored in state as one tuple per column, oldest first, all the same length::

    {"t": ("2026-…", …), "user": (3.1, …), "system": (1.0, …), …}

optionally with a group of members that come and go (network interfaces)::

    {…, "interfaces": {"eth0": {"rx": (…), "tx": (…)}, …}}

Columns are what a chart plots, and tuples are immutable, so the state store shares them
instead of copying every sample on every write: appending to a full five-minute history
costs microseconds rather than the milliseconds a list of per-sample dicts did.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from ..validation import positive_int

__all__ = ["DEFAULT_HISTORY_LIMIT", "ColumnHistory", "history_length"]

DEFAULT_HISTORY_LIMIT = 300
"""Samples kept per chart: five minutes at the default 1 s interval."""


def history_length(record: Any) -> int:
    """How many samples a stored history holds (0 for None or anything not a history)."""
    if isinstance(record, Mapping):
        column = record.get("t")
        if isinstance(column, Sequence) and not isinstance(column, str):
            return len(column)
    return 0


class ColumnHistory:
    """The newest ``limit`` samples as fixed-length columns.

    ``columns`` name the values every sample has (missing ones are stored as None). With
    ``group``, a sample may also carry per-member values (``{member: {column: value}}``) for
    ``group_columns``: a member that first appears is padded with None for the samples
    before it, one absent from a sample gets None, and one absent from the whole window is
    dropped.

    Raises:
        TypeError: if ``limit`` is not an int.
        ValueError: if ``limit`` is less than 1 or no columns are given.
    """

    def __init__(
        self,
        columns: Sequence[str],
        limit: int,
        *,
        group: str | None = None,
        group_columns: Sequence[str] = (),
    ) -> None:
        self.limit = positive_int(limit, "limit")
        if not columns:
            raise ValueError("columns: a history needs at least one column")
        self.group = group
        self._column_names = tuple(columns)
        self._group_columns = tuple(group_columns)
        self._columns: dict[str, deque[Any]] = {}
        self._members: dict[str, dict[str, deque[Any]]] = {}
        self._last_seen: dict[str, int] = {}
        """Per member, the value of ``_appended`` when it was last present."""
        self._appended = 0
        self.clear()

    def clear(self) -> None:
        """Forget every sample."""
        self._columns = {c: deque(maxlen=self.limit) for c in self._column_names}
        self._members.clear()
        self._last_seen.clear()
        self._appended = 0

    def __len__(self) -> int:
        return len(next(iter(self._columns.values())))

    def append(
        self,
        values: Mapping[str, Any],
        members: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Add one sample; the oldest falls out once ``limit`` samples are held."""
        length = len(self)
        for name, column in self._columns.items():
            column.append(values.get(name))
        self._appended += 1
        if self.group is None:
            return
        present = members or {}
        for member, member_values in present.items():
            columns = self._members.get(member)
            if columns is None:
                columns = self._members[member] = {
                    c: deque([None] * length, maxlen=self.limit) for c in self._group_columns
                }
            for name, column in columns.items():
                column.append(member_values.get(name))
            self._last_seen[member] = self._appended
        for member in [m for m in self._members if m not in present]:
            if self._appended - self._last_seen[member] >= self.limit:
                del self._members[member], self._last_seen[member]
            else:
                for column in self._members[member].values():
                    column.append(None)

    def record(self) -> dict[str, Any]:
        """The history as stored in state: a tuple per column (and per member's column)."""
        record: dict[str, Any] = {name: tuple(column) for name, column in self._columns.items()}
        if self.group is not None:
            record[self.group] = {
                member: {name: tuple(column) for name, column in columns.items()}
                for member, columns in self._members.items()
            }
        return record

    def seed(self, record: Any) -> None:
        """Start from a stored history (as `record` returns it, or its JSON form).

        Anything else (None, a history in another shape) leaves this history empty, so a
        malformed value in state costs the chart its past rather than the process its life.
        """
        self.clear()
        length = history_length(record)
        if not length or not all(_column_of(record.get(name), length) for name in self._columns):
            return
        for name, column in self._columns.items():
            column.extend(record[name])
        self._appended = length
        members = record.get(self.group) if self.group is not None else None
        if not isinstance(members, Mapping):
            return
        for member, columns in members.items():
            if not isinstance(columns, Mapping) or not all(
                _column_of(columns.get(name), length) for name in self._group_columns
            ):
                continue
            self._members[member] = {
                name: deque(columns[name], maxlen=self.limit) for name in self._group_columns
            }
            self._last_seen[member] = length


def _column_of(value: Any, length: int) -> bool:
    return isinstance(value, list | tuple) and len(value) == length
