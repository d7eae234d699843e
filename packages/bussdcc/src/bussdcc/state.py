"""`StateStore`: thread-safe, hierarchical coordination state addressed by dot paths."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from ._validate import dotted_path

__all__ = ["StateStore"]


def __getattr__(name: str) -> object:
    # 0.42 names of this path (bussdcc._compat.modules); deprecated.
    from ._compat.modules import legacy_names

    return legacy_names(__name__, name)


_MISSING: Any = object()


def _split(path: str) -> list[str]:
    return dotted_path(path, "state path")


def _prefixes(parts: list[str]) -> Iterator[str]:
    """The dot paths of ``parts`` and of each of its ancestors, outermost first."""
    key = ""
    for part in parts:
        key = f"{key}.{part}" if key else part
        yield key


def _copy(value: Any) -> Any:
    # Plain containers are copied so no caller can mutate the store behind its lock;
    # anything else (numbers, strings, frozen messages) is shared as is.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class StateStore:
    """Nested dicts behind one lock, addressed as ``"system.cpu.usage"``.

    A dict value becomes a subtree: after ``set("a", {"b": 1})``, ``get("a.b")`` is 1.
    Values are copied in and out, so readers get a consistent snapshot. There is no schema
    and no persistence.

    Raises ``ValueError`` for an empty path or segment and ``TypeError`` for a non-str path
    or for writing below a leaf (``set("a.b", 1)`` when ``a`` holds 5).
    """

    def __init__(self) -> None:
        self._root: dict[str, Any] = {}
        self._lock = threading.RLock()
        # Change tracking for `version`: a write replaces the value at its path, so it is
        # recorded as "written" there and as "touched" at that path and every ancestor.
        self._revision = 0
        self._written: dict[str, int] = {}
        self._touched: dict[str, int] = {}

    def _stamp(self, parts: list[str]) -> None:
        """Record a write that replaced the value at ``parts`` (``[]``: the whole store)."""
        self._revision += 1
        key = ""
        for key in _prefixes(parts):
            self._touched[key] = self._revision
        self._written[key] = self._revision

    def _parent(self, parts: list[str], path: str, create: bool) -> dict[str, Any] | None:
        node = self._root
        for i, part in enumerate(parts[:-1]):
            child = node.get(part, _MISSING)
            if child is _MISSING:
                if not create:
                    return None
                child = node[part] = {}
            elif not isinstance(child, dict):
                if not create:
                    return None
                leaf = ".".join(parts[: i + 1])
                raise TypeError(f"cannot write {path!r}: {leaf!r} holds a value, not a subtree")
            node = child
        return node

    def set(self, path: str, value: Any) -> None:
        """Store ``value`` at ``path``, creating intermediate levels."""
        parts = _split(path)
        with self._lock:
            parent = self._parent(parts, path, create=True)
            assert parent is not None
            parent[parts[-1]] = _copy(value)
            self._stamp(parts)

    def get(self, path: str, default: Any = None) -> Any:
        """The value at ``path`` (a copy of a subtree), or ``default`` when absent."""
        parts = _split(path)
        with self._lock:
            parent = self._parent(parts, path, create=False)
            if parent is None:
                return default
            value = parent.get(parts[-1], _MISSING)
            return default if value is _MISSING else _copy(value)

    def update(self, path: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        """Atomically replace the value at ``path`` with ``fn(current)``; return the new value.

        ``fn`` receives ``default`` when the path is absent and runs under the store's lock,
        so concurrent updates never lose a write.
        """
        parts = _split(path)
        with self._lock:
            parent = self._parent(parts, path, create=True)
            assert parent is not None
            current = parent.get(parts[-1], _MISSING)
            new = fn(default if current is _MISSING else _copy(current))
            parent[parts[-1]] = _copy(new)
            self._stamp(parts)
            return _copy(new)

    def delete(self, path: str) -> bool:
        """Remove ``path`` (and its subtree); return whether anything was there."""
        parts = _split(path)
        with self._lock:
            parent = self._parent(parts, path, create=False)
            if parent is None or parts[-1] not in parent:
                return False
            del parent[parts[-1]]
            # Forget the deleted paths' stamps, so short-lived paths (a session, a job) leave
            # nothing behind, and record the change as a write of the parent (the root for a
            # top-level path): that changes the version of the deleted paths, and of their
            # siblings too, which is only a spurious "may have changed".
            below = path + "."
            for stamps in (self._written, self._touched):
                for key in [k for k in stamps if k == path or k.startswith(below)]:
                    del stamps[key]
            self._stamp(parts[:-1])
            return True

    def version(self, path: str) -> int:
        """A number that changes whenever the value at ``path`` may have changed.

        Any `set` or `update` at ``path``, inside it, or at a path containing it gives a
        number ``path`` never had before (writing an equal value counts too); so does a
        `delete` of any of those or of a sibling. Writes elsewhere leave it as it is, so
        equal numbers mean the value is unchanged and a watcher can skip reading (and
        copying) it. 0 means nothing was written there yet. Costs a few dict lookups.
        """
        parts = _split(path)
        with self._lock:
            written = self._written
            newest = written.get("", 0)
            for key in _prefixes(parts[:-1]):
                newest = max(newest, written.get(key, 0))
            return max(newest, self._touched.get(path, 0))

    def snapshot(self, prefix: str = "") -> dict[str, Any]:
        """A deep copy of the subtree at ``prefix`` (the whole store when empty) as plain dicts.

        A prefix naming a leaf gives ``{last_segment: value}``; an absent prefix gives ``{}``.
        """
        with self._lock:
            if not prefix:
                copied: dict[str, Any] = _copy(self._root)
                return copied
            parts = _split(prefix)
            parent = self._parent(parts, prefix, create=False)
            if parent is None or parts[-1] not in parent:
                return {}
            value = parent[parts[-1]]
            if isinstance(value, dict):
                sub: dict[str, Any] = _copy(value)
                return sub
            return {parts[-1]: _copy(value)}

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        return self.get(path, _MISSING) is not _MISSING
