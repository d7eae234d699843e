"""How the app speaks to a person: log records on stderr, readable on a terminal and in journald.

Under systemd (``JOURNAL_STREAM`` set: stderr is connected to the journal) each line starts
with the ``<N>`` priority prefix sd-daemon(3) defines, so ``journalctl -p warning`` filters
by level and the journal adds its own timestamps; on a terminal a line carries the time and
level itself. The JSON event stream is something else (stdout, `--console`).

The first thing a person starts the app for is the dashboard's address, so `configure`
holds back what is logged while the app boots (a rollup rebuild announced by a process,
say) until the caller has printed that address and calls `HeldLog.release`.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping
from typing import TextIO

__all__ = ["HeldLog", "JournalFormatter", "configure", "journal_priority"]

APP_LOGGER = "bussdcc_system_health"

_HOLD_CAPACITY = 1000
"""Records kept while held; past that they are written at once (a boot that chatters)."""

_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def journal_priority(levelno: int) -> int:
    """The syslog priority for a logging level: CRITICAL 2, ERROR 3, WARNING 4, INFO 6,
    anything lower 7 (debug)."""
    return next((priority for level, priority in _PRIORITIES if levelno >= level), 7)


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message`` (tracebacks on the following lines, as journald keeps
    them with the entry)."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return f"<{journal_priority(record.levelno)}>{super().format(record)}"


class HeldLog:
    """Log records held back until `release`; afterwards they go straight to the stream."""

    def __init__(self, handler: logging.Handler, holder: logging.handlers.MemoryHandler) -> None:
        self.handler = handler
        self._holder: logging.handlers.MemoryHandler | None = holder

    @property
    def held(self) -> bool:
        return self._holder is not None

    def release(self) -> None:
        """Write what was held, in order, and log directly from now on (idempotent)."""
        holder, self._holder = self._holder, None
        if holder is None:
            return
        root = logging.getLogger()
        root.addHandler(self.handler)
        root.removeHandler(holder)
        holder.flush()
        holder.close()


def configure(
    stream: TextIO | None = None, environ: Mapping[str, str] | None = None, *, hold: bool = True
) -> HeldLog:
    """Send warnings (and the app's own information) to ``stream`` (stderr), formatted for
    journald when it is the journal, and hold them back until `HeldLog.release` if ``hold``.

    Replaces handlers an earlier `configure` installed, so calling it twice is harmless.
    """
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    handler = logging.StreamHandler(stream)
    if environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.set_name("bussdcc-system-health")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "bussdcc-system-health":
            root.removeHandler(old)
    root.setLevel(logging.WARNING)
    logging.getLogger(APP_LOGGER).setLevel(logging.INFO)
    holder = logging.handlers.MemoryHandler(
        _HOLD_CAPACITY, flushLevel=logging.CRITICAL + 1, target=handler, flushOnClose=True
    )
    holder.set_name("bussdcc-system-health")
    held = HeldLog(handler, holder)
    root.addHandler(holder)
    if not hold:
        held.release()
    return held
