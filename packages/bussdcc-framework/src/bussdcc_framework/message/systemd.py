"""Messages of the systemd notifier: a withheld or resumed watchdog, a notification that failed."""

from __future__ import annotations

from dataclasses import dataclass

from bussdcc.message import Message, Severity

__all__ = ["SystemdNotifyFailed", "WatchdogResumed", "WatchdogWithheld"]


@dataclass(slots=True, frozen=True)
class WatchdogWithheld(Message):
    """The watchdog ping is being withheld because ``services`` stopped ticking.

    Emitted when the set of hung services changes (not on every skipped ping). Under systemd
    with ``WatchdogSec=`` the process is restarted unless they recover in time.
    """

    name = "systemd.watchdog.withheld"
    severity = Severity.ERROR
    services: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class WatchdogResumed(Message):
    """Every watched service ticks again; the watchdog pings resumed."""

    name = "systemd.watchdog.resumed"


@dataclass(slots=True, frozen=True)
class SystemdNotifyFailed(Message):
    """Sending ``state`` (e.g. ``"READY=1"``) to the notify socket failed; once per streak."""

    name = "systemd.notify.failed"
    severity = Severity.WARNING
    state: str
    error: str
