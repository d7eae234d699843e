"""`PushStream`: the live protocol's logic -- which events are pushed, in what form, chained how.

Pure: no threads, no sockets, no Flask. `WebInterface` is the I/O around it: it feeds every
bus event to `PushStream.observe` inside dispatch, carries what that returns to a sender
thread, turns it into records with `PushStream.records` and sends them; it answers
``"connect"`` and ``"resync"`` with `PushStream.snapshot`. The protocol itself (what a client
sees) is described in `bussdcc_framework.interface.web`.

Guarantees, each proved in ``tests/test_push.py`` without a socket:

* Pushed events form one chain: each record's ``prev`` is the ``seq`` of the pushed event
  before it, whatever is not pushed in between (so a client sees no false gap).
* A snapshot's ``seq`` is read before its state, so the state holds at least everything up to
  that ``seq``.
* Watched and viewed paths report a value only when it changed (``None`` once deleted), read
  at the moment the bus handled the event.
* A record that cannot be converted is left out (logged); the chain then shows the gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bussdcc.event import Event
from bussdcc.message import Message

from ..codec import event_to_dict, to_plain
from ..selection import MessageSelection, SelectionSpec

__all__ = ["Pending", "PushSpec", "PushStream", "StateReader", "ViewRenderer", "to_plain"]

log = logging.getLogger("bussdcc_framework.web")

PushSpec = SelectionSpec
"""A message class (subclasses included) or a wire name; ``"system.*"`` matches a prefix."""

ViewRenderer = Callable[[Mapping[str, Any], bool], Mapping[str, Any]]
"""``render(values, snapshot)``: views (name -> HTML string or plain data) of state values."""


_UNSEEN: Any = object()


class StateReader(Protocol):
    """What `PushStream` reads from the state store (`bussdcc.state.StateStore` fits)."""

    def version(self, path: str) -> int: ...

    def get(self, path: str, default: Any = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class Pending:
    """A pushed event on its way to the clients, with the state it changed."""

    event: Event[Any]
    prev: int
    """The ``seq`` of the pushed event before this one (0 before the first)."""
    watched: dict[str, Any] = field(default_factory=dict)
    """Watched paths whose value this event changed (raw values; None when deleted)."""
    viewed: dict[str, Any] = field(default_factory=dict)
    """Viewed paths whose value this event changed, for the view renderer."""


class PushStream:
    """Chooses pushed events, chains them and builds records and snapshots.

    ``push``: message classes (matching subclasses) and wire names (``"a.*"`` matches a
    dotted prefix); ``None`` pushes every message of severity INFO or above. ``watch``:
    state paths whose changes travel with a record as ``"state": {path: value}``. ``views``:
    state paths whose changes are given to a view renderer; what it returns travels as
    ``"views": {name: view}`` (and a snapshot carries the views of every such path).

    Raises:
        TypeError: for a ``push`` entry that is neither a Message class nor a wire name.
        ValueError: for a ``watch`` or ``views`` entry that is not a dotted state path.
    """

    def __init__(
        self,
        push: Iterable[PushSpec] | None = None,
        *,
        watch: Iterable[str] = (),
        views: Iterable[str] = (),
    ) -> None:
        self._selection = MessageSelection(push, label="push")
        self.watch = _parse_paths(watch, "watch")
        self.views = _parse_paths(views, "views")
        self._tracked = tuple(dict.fromkeys((*self.watch, *self.views)))
        self._versions: dict[str, int] = {}
        self._values: dict[str, Any] = {}
        self.last_seq = 0
        """The ``seq`` of the last pushed event (0 before the first)."""

    @property
    def subscriptions(self) -> tuple[type[Message], ...] | None:
        """The message classes to subscribe to, when only classes are pushed (else None:
        every event must be seen to match names and prefixes)."""
        return self._selection.only_classes

    def wants(self, cls: type[Message]) -> bool:
        """Whether events of ``cls`` are pushed (memoised per class)."""
        return self._selection(cls)

    def observe(self, evt: Event[Any], state: StateReader, *, listening: bool) -> Pending | None:
        """Note ``evt`` as handled by the bus; what to send for it, or None.

        Call it inside dispatch, after the processes that derive state from ``evt`` (so the
        tracked paths are read in the state ``evt`` left). A pushed event always advances
        the chain; without ``listening`` clients nothing is sent (a client connecting later
        starts from a snapshot) and tracked paths are not read, which only means the next
        change reported may repeat a value.
        """
        if not self.wants(type(evt.payload)):
            return None
        prev, self.last_seq = self.last_seq, evt.seq
        if not listening:
            return None
        changed = self._changes(state)
        watched = {p: changed[p] for p in self.watch if p in changed}
        viewed = {p: changed[p] for p in self.views if p in changed}
        return Pending(evt, prev, watched, viewed)

    def _changes(self, state: StateReader) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for path in self._tracked:
            # The version says whether the path was written at all: most events touch one
            # tracked path or none, so the others are neither read nor copied.
            version = state.version(path)
            if self._versions.get(path) == version:
                continue
            self._versions[path] = version
            value = state.get(path)
            if self._values.get(path, _UNSEEN) != value:
                self._values[path] = changes[path] = value
        return changes

    def record(self, pending: Pending, render: ViewRenderer | None = None) -> dict[str, Any]:
        """The ``"events"`` record for ``pending``: the codec's wire record plus ``prev``,
        ``state`` (watched changes) and ``views`` when there are any.

        Raises:
            bussdcc_framework.codec.WireError: if the event cannot be converted.
            Exception: whatever ``render`` raises.
        """
        record = event_to_dict(pending.event)
        record["prev"] = pending.prev
        if pending.watched:
            record["state"] = to_plain(pending.watched)
        if pending.viewed and render is not None:
            views = render(pending.viewed, False)
            if views:
                record["views"] = to_plain(dict(views))
        return record

    def records(
        self, batch: Iterable[Pending], render: ViewRenderer | None = None
    ) -> list[dict[str, Any]]:
        """The records for ``batch`` in order; one that fails to convert is left out (and
        logged): the clients see the gap in the ``prev`` chain and resync."""
        records = []
        for pending in batch:
            try:
                records.append(self.record(pending, render))
            except Exception:
                log.exception("could not push %s (seq %d)", pending.event.name, pending.event.seq)
        return records

    def snapshot(
        self,
        read_state: Callable[[], dict[str, Any]],
        now: datetime,
        render: ViewRenderer | None = None,
    ) -> dict[str, Any]:
        """``{"seq", "time", "state"}`` (plus ``"views"`` of every viewed path when a
        renderer is given and returns any): the state as plain data and the ``seq`` of the
        last pushed event it is known to include.

        The ``seq`` is read before ``read_state`` is called, so the state includes at least
        everything up to ``seq`` (maybe a little more); a client applies events after it.

        Raises:
            Exception: whatever ``read_state`` or ``render`` raises.
        """
        seq = self.last_seq
        state = read_state()
        snapshot: dict[str, Any] = {"seq": seq, "time": to_plain(now), "state": to_plain(state)}
        if self.views and render is not None:
            views = render({path: _at(state, path) for path in self.views}, True)
            if views:
                snapshot["views"] = to_plain(dict(views))
        return snapshot


def _at(state: Mapping[str, Any], path: str) -> Any:
    node: Any = state
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _parse_paths(paths: Iterable[str], label: str) -> tuple[str, ...]:
    if isinstance(paths, str):
        paths = (paths,)
    parsed = tuple(paths)
    for path in parsed:
        if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
            raise ValueError(f"{label} entries must be dotted state paths, got {path!r}")
    return parsed
