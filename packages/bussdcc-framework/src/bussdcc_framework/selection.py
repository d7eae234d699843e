"""`MessageSelection`: which messages a consumer takes, by class, wire name or name prefix.

One spec for every consumer that picks events off the bus (the web push, the MQTT sink): a
message class selects it and its subclasses, ``"a.b"`` a wire name, ``"a.*"`` every name
under a dotted prefix; no spec at all selects every message of severity INFO or above, so
DEBUG chatter stays local.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from bussdcc import Message, Severity

__all__ = ["MessageSelection", "SelectionSpec"]

SelectionSpec: TypeAlias = type[Message] | str
"""A message class (subclasses included) or a wire name; ``"system.*"`` matches a prefix."""


class MessageSelection:
    """A parsed selection; ``selection(cls)`` says whether messages of ``cls`` are taken.

    ``label`` names the argument in errors (``push``, ``publish``).

    Raises:
        TypeError: for an entry that is neither a Message class nor a wire name
            (``"a.b"`` or ``"a.*"``).
    """

    __slots__ = ("_memo", "everything", "names", "prefixes", "types")

    def __init__(
        self, spec: Iterable[SelectionSpec] | SelectionSpec | None, *, label: str = "selection"
    ) -> None:
        self.everything = spec is None
        types: list[type[Message]] = []
        names: set[str] = set()
        prefixes: list[str] = []
        if spec is not None:
            if isinstance(spec, str | type) or not isinstance(spec, Iterable):
                spec = (spec,)  # one entry (checked below like any other)
            for item in spec:
                if isinstance(item, type) and issubclass(item, Message):
                    types.append(item)
                elif isinstance(item, str) and item.endswith(".*") and len(item) > 2:
                    prefixes.append(item[:-1])
                elif isinstance(item, str) and item and "*" not in item:
                    names.add(item)
                else:
                    raise TypeError(
                        f"{label} entries must be Message classes or wire names "
                        f"('a.b', 'a.*'), got {item!r}"
                    )
        self.types = tuple(types)
        self.names = frozenset(names)
        self.prefixes = tuple(prefixes)
        self._memo: dict[type[Message], bool] = {}

    @property
    def only_classes(self) -> tuple[type[Message], ...] | None:
        """The classes to subscribe to when the selection is classes alone (a bus can then
        route just those); None when every event must be looked at."""
        if self.everything or self.names or self.prefixes:
            return None
        return self.types or (Message,)

    def __call__(self, cls: type[Message]) -> bool:
        taken = self._memo.get(cls)
        if taken is None:
            taken = self._memo[cls] = self._matches(cls)
        return taken

    def _matches(self, cls: type[Message]) -> bool:
        if self.everything:
            return cls.severity >= Severity.INFO
        if issubclass(cls, self.types):
            return True
        name = cls.name
        return name in self.names or name.startswith(self.prefixes)
