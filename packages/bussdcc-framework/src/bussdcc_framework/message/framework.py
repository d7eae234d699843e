"""The framework's own lifecycle and sink messages."""

from __future__ import annotations

from dataclasses import dataclass

from bussdcc.message import Message, Severity

__all__ = [
    "FrameworkBooted",
    "FrameworkShuttingDown",
    "SinkError",
    "SinkRecovered",
    "SinkRetentionDeleted",
]


@dataclass(slots=True, frozen=True)
class FrameworkBooted(Message):
    """The framework runtime finished booting; ``version`` is the bussdcc-framework version."""

    name = "framework.booted"
    version: str


@dataclass(slots=True, frozen=True)
class FrameworkShuttingDown(Message):
    """The framework runtime began shutting down, for ``reason`` if one was given."""

    name = "framework.shutting_down"
    reason: str | None = None


@dataclass(slots=True, frozen=True)
class SinkError(Message):
    """A sink failed; reported once per failure streak.

    ``sink`` names the sink, ``error`` is the exception text, ``event`` the wire name of the
    event it was handling ("" when it failed in ``start`` or ``stop``).
    """

    name = "sink.error"
    severity = Severity.ERROR
    sink: str
    error: str
    traceback: str = ""
    event: str = ""


@dataclass(slots=True, frozen=True)
class SinkRetentionDeleted(Message):
    """A sink's retention deleted recorded files: ``files`` (paths relative to ``root``),
    ``bytes`` in total, and why (``"age"``, ``"size"`` or ``"age+size"``).

    Retention only deletes files the sink itself can read back (see `JsonlSink`); every
    deletion is announced by one of these, so the recording says what it lost.
    """

    name = "sink.retention.deleted"
    severity = Severity.WARNING
    sink: str
    root: str
    files: tuple[str, ...]
    bytes: int
    reason: str


@dataclass(slots=True, frozen=True)
class SinkRecovered(Message):
    """A sink that had failed (``sink.error``) records again; emitted by the sink itself.

    ``sink`` names the sink as ``sink.error`` did, ``path`` is where it records now ("" when
    it writes no file), ``dropped`` counts the events it could not record meanwhile.
    """

    name = "sink.recovered"
    severity = Severity.WARNING
    sink: str
    path: str = ""
    dropped: int = 0


# The 0.46 forms (bussdcc_framework._compat.forms; gone at 1.0).
from .._compat.forms import install_messages as _install_messages  # noqa: E402

_install_messages(SinkError, FrameworkShuttingDown)


def __getattr__(name: str) -> object:
    # SinkHandlerError, the 0.46 name of SinkError; deprecated.
    from .._compat.modules import legacy_names

    return legacy_names(__name__, name)
