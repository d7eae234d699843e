"""`BackgroundWriter`: a rebuild's finished rollup rows written by a thread of their own.

A rebuild folds on one thread and writes on another: `sqlite3` releases the GIL while SQLite
works, so the writing runs on the second core instead of after the folding. The rows go
through the same `RollupStore.write` the live process calls inline; only the thread differs.
The live process keeps writing inline: it writes a few dozen rows every few seconds, and it
retries a failed write with the same rows, which needs the outcome at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

from .store import EventRow, RollupStore, StoredRow

__all__ = ["BackgroundWriter"]

_STOP = None


class BackgroundWriter:
    """Hands `write` calls to a thread that performs them, in order, on ``store``.

    `write` returns as soon as the batch is queued (it waits while ``depth`` batches are
    already waiting, so memory stays bounded) and takes ownership of the lists it is given:
    the caller must not change them afterwards. The first error of the thread (an
    `sqlite3.Error`: disk full, I/O error) is kept in `failure`; from then on the thread
    discards what is queued, and `write` and `close` raise that error. Nothing is retried:
    a rebuild that cannot write fails.

    ``store`` must not be used by anyone else until `close` returned.
    """

    def __init__(self, store: RollupStore, *, depth: int = 2) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f"depth must be an int, got {type(depth).__qualname__}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth!r}")
        self.store = store
        self.failure: Exception | None = None
        self._queue: queue.Queue[
            tuple[Sequence[Sequence[StoredRow]], Sequence[EventRow]] | None
        ] = queue.Queue(depth)
        self._closed = False
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="rollups-writer", daemon=True)
        self._thread.start()

    def write(self, rows: Sequence[Sequence[StoredRow]], events: Sequence[EventRow] = ()) -> None:
        """Queue ``rows`` (one sequence per tier) and ``events`` for `RollupStore.write`.

        Raises:
            sqlite3.Error: an earlier write failed (this batch is not queued); any other
                error the thread met is raised the same way.
            RuntimeError: the writer is closed.
        """
        if self.failure is not None:
            raise self.failure
        if self._closed:
            raise RuntimeError("the writer is closed")
        self._queue.put((rows, events))

    def close(self) -> None:
        """Wait until every queued batch is written and stop the thread (idempotent).

        Raises:
            sqlite3.Error: a write failed; the database holds some batches, not all.
        """
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
        if self.failure is not None:
            raise self.failure

    def abandon(self) -> None:
        """Stop the thread without writing what is still queued and without raising: the
        caller is failing already and discards the database (idempotent)."""
        self._abandoned = True
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        write = self.store.write
        while (item := self._queue.get()) is not _STOP:
            if self.failure is not None or self._abandoned:
                continue  # keep taking batches so `write` never waits for a dead thread
            try:
                write(*item)
            except Exception as exc:  # any failure must reach `write` and `close`
                self.failure = exc
