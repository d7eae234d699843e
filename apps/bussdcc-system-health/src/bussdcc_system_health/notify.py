"""Health notifications: hysteresis over ``system.health``, delivered through Apprise off the bus.

`HealthAlarm` is the pure decision (what to announce, given the status over time);
`HealthNotifier` is the service that feeds it the state once per tick and hands announcements
to a sender thread, so a slow or dead notification target never delays the bus, the
collectors or the systemd watchdog; `AppriseSender` delivers to Apprise URLs (``ntfy://``,
``mailto://``, ``tgram://``, ``json://`` ...), imported only when notifications are asked for.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bussdcc.component import Service
from bussdcc.context import ContextProtocol

from .message import HealthStatus, NotificationFailed, NotificationSent

__all__ = [
    "DEFAULT_NOTIFY_AFTER",
    "AppriseSender",
    "DeliveryFailure",
    "HealthAlarm",
    "HealthNotifier",
    "Notification",
    "NotificationSender",
    "NotifyUnavailable",
    "read_notify_file",
    "render",
]

log = logging.getLogger("bussdcc_system_health.notify")

DEFAULT_NOTIFY_AFTER = 60.0
HEALTH_STATE = "system.health"  # written by HealthProcess
_RANK: dict[str, int] = {"ok": 0, "warning": 1, "critical": 2}
INSTALL_HINT = "pip install 'bussdcc-system-health[notify]'"


@dataclass(frozen=True, slots=True)
class Notification:
    """One announcement: an ``alert`` at ``status`` or a ``recovery`` (``status`` is ``"ok"``).

    ``reasons`` are the health reasons when it was decided; ``lasted`` how many seconds the
    announced condition had held by then (at least the alarm's ``after``).
    """

    kind: Literal["alert", "recovery"]
    status: HealthStatus
    reasons: tuple[str, ...]
    lasted: float


class HealthAlarm:
    """Decides when health is worth telling someone about, with ``after`` seconds of hysteresis.

    Fed the current status at monotonic times (`observe`), it announces:

    * an ``alert`` once the status has been worse than what was last announced (warning or
      critical after ok, critical after a warning alert) for at least ``after`` seconds
      without interruption; moving between warning and critical does not interrupt a bad
      streak, and the alert carries the status and reasons at the moment it is decided;
    * a ``recovery`` once, after an alert, the status has been ok for at least ``after``
      seconds, so a flapping host gives one alert and one recovery, not a stream.

    A blip shorter than ``after`` announces nothing; falling from critical to warning is not
    announced (the alarm stays raised until ok). Times only need to be monotonic.

    Raises:
        TypeError: if ``after`` is not a number.
        ValueError: if ``after`` is negative or not finite.
    """

    def __init__(self, after: float = DEFAULT_NOTIFY_AFTER) -> None:
        if isinstance(after, bool) or not isinstance(after, int | float):
            raise TypeError(f"after must be a number of seconds, got {after!r}")
        if not 0 <= after < float("inf"):
            raise ValueError(f"after must be a finite number of seconds >= 0, got {after}")
        self.after = float(after)
        self.announced: HealthStatus = "ok"
        self._pending: Literal["up", "down"] | None = None
        self._since = 0.0

    def observe(
        self, status: HealthStatus, reasons: Sequence[str], now: float
    ) -> Notification | None:
        """The announcement due at ``now`` given ``status``, or None.

        Raises:
            ValueError: if ``status`` is not ok, warning or critical.
        """
        if status not in _RANK:
            raise ValueError(f"status must be ok, warning or critical, got {status!r}")
        if _RANK[status] > _RANK[self.announced]:
            direction: Literal["up", "down"] | None = "up"
        elif status == "ok" and self.announced != "ok":
            direction = "down"
        else:
            direction = None
        if direction != self._pending:
            self._pending, self._since = direction, now
        if direction is None or now - self._since < self.after:
            return None
        lasted = now - self._since
        self._pending = None
        self.announced = status
        kind: Literal["alert", "recovery"] = "alert" if direction == "up" else "recovery"
        return Notification(kind, status, tuple(reasons), lasted)


def read_notify_file(path: Path) -> tuple[str, ...]:
    """The Apprise URLs in the file ``path`` (``--notify-file``): one per line, surrounding
    whitespace ignored, blank lines and lines starting with ``#`` skipped.

    A command line is readable by every user of the machine (``ps``, ``systemctl cat``);
    a file of mode 0600 keeps the secrets notification URLs carry (tokens, passwords) to
    their owner. The URLs are only ever handed to Apprise.

    Raises:
        OSError: if the file cannot be read.
        ValueError: if it is not UTF-8 text or holds no URL (naming the file, never a line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"notification URL file {path} is not UTF-8 text") from None
    urls = tuple(
        stripped
        for line in text.splitlines()
        if (stripped := line.strip()) and not stripped.startswith("#")
    )
    if not urls:
        raise ValueError(f"notification URL file {path} holds no URL")
    return urls


def render(notification: Notification, host: str) -> tuple[str, str]:
    """The title (with the host name) and body (with the reasons) of a notification."""
    if notification.kind == "recovery":
        title = f"{host}: health ok again"
        body = f"{host} has been healthy for {notification.lasted:.0f} s."
        return title, body
    title = f"{host}: health {notification.status}"
    lines = [f"{host} has been {notification.status} for {notification.lasted:.0f} s:"]
    lines += [f"- {reason}" for reason in notification.reasons] or ["- (no reason given)"]
    return title, "\n".join(lines)


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """A target that did not take a notification: its label (secrets hidden) and why."""

    target: str
    error: str


class NotificationSender(Protocol):
    """Delivers a notification to every target; returns the targets that failed."""

    @property
    def targets(self) -> Sequence[str]: ...

    def send(self, title: str, body: str, status: HealthStatus) -> Sequence[DeliveryFailure]: ...


class NotifyUnavailable(RuntimeError):
    """Notifications were asked for but Apprise is not installed."""

    def __init__(self) -> None:
        super().__init__(f"--notify needs Apprise, which is not installed: {INSTALL_HINT}")


class AppriseSender:
    """Sends through Apprise to each URL separately, so one failing target is named alone.

    Raises:
        NotifyUnavailable: if Apprise is not installed.
        TypeError: if ``urls`` is a single string or holds a non-string.
        ValueError: if ``urls`` is empty or Apprise does not understand one of them.
    """

    def __init__(self, urls: Iterable[str]) -> None:
        if isinstance(urls, str):
            raise TypeError("urls must be a list of URLs, not one string")
        try:
            import apprise
        except ImportError:
            raise NotifyUnavailable() from None
        self._apprise: Any = apprise
        # Apprise logs the URLs it rejects or fails on verbatim, tokens and passwords
        # included; failures are reported here as notify.failed with the secrets masked.
        logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)
        self._plugins: list[Any] = []
        for url in urls:
            if not isinstance(url, str):
                raise TypeError(f"urls must hold strings, got {url!r}")
            plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                # The URL may hold a secret: name only its scheme.
                scheme = url.partition("://")[0] if "://" in url else "?"
                raise ValueError(f"not a notification URL Apprise understands ({scheme}://...)")
            self._plugins.append(plugin)
        if not self._plugins:
            raise ValueError("urls must name at least one notification target")

    @property
    def targets(self) -> list[str]:
        """The targets with passwords and tokens masked, as Apprise shows them."""
        return [str(p.url(privacy=True)) for p in self._plugins]

    def send(self, title: str, body: str, status: HealthStatus) -> list[DeliveryFailure]:
        kinds = self._apprise.NotifyType
        kind = {"ok": kinds.SUCCESS, "warning": kinds.WARNING}.get(status, kinds.FAILURE)
        failures = []
        for plugin, label in zip(self._plugins, self.targets, strict=True):
            with self._apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
                try:
                    delivered = bool(plugin.notify(body=body, title=title, notify_type=kind))
                    error = "" if delivered else "delivery failed"
                except Exception as exc:  # a plugin bug must not take the sender thread down
                    delivered, error = False, f"{type(exc).__name__}: {exc}"
                said = captured.getvalue().strip().splitlines()
            if not delivered:
                failures.append(DeliveryFailure(label, "; ".join(said) if said else error))
        return failures


class HealthNotifier(Service):
    """Watches state ``system.health`` each tick and sends what `HealthAlarm` announces.

    Delivery runs on a thread of its own (started with the service); each target's outcome is
    emitted as ``notify.sent`` or ``notify.failed``. A failure never stops the service or the
    app. ``host`` names the machine in titles (default: its host name).

    Raises:
        TypeError / ValueError: as `HealthAlarm` for ``after``.
    """

    name = "notify"
    stop_timeout = 10.0  # a delivery in flight may take a few seconds to time out

    def __init__(
        self,
        sender: NotificationSender,
        *,
        after: float = DEFAULT_NOTIFY_AFTER,
        host: str | None = None,
        interval: float = 1.0,
    ) -> None:
        self.sender = sender
        self.alarm = HealthAlarm(after)
        self.host = host or socket.gethostname()
        self.interval = interval
        self._outbox: queue.SimpleQueue[Notification | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self, ctx: ContextProtocol) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._outbox = queue.SimpleQueue()
            self._thread = threading.Thread(
                target=self._deliver,
                args=(ctx, self._outbox),
                name="bussdcc-notify",
                daemon=True,
            )
            self._thread.start()

    def tick(self, ctx: ContextProtocol) -> None:
        record = ctx.state.get(HEALTH_STATE)
        if not isinstance(record, dict) or record.get("status") not in _RANK:
            return  # no assessment yet
        reasons = tuple(str(r) for r in record.get("reasons", ()))
        due = self.alarm.observe(record["status"], reasons, ctx.clock.monotonic())
        if due is not None:
            self._outbox.put(due)

    def stop(self, ctx: ContextProtocol) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._outbox.put(None)
            thread.join(self.stop_timeout / 2)

    def _deliver(
        self, ctx: ContextProtocol, outbox: queue.SimpleQueue[Notification | None]
    ) -> None:
        while (notification := outbox.get()) is not None:
            title, body = render(notification, self.host)
            try:
                failures = list(self.sender.send(title, body, notification.status))
            except Exception as exc:  # a broken sender is reported like a failed target
                error = f"{type(exc).__name__}: {exc}"
                failures = [DeliveryFailure(target, error) for target in self.sender.targets]
            failed = {f.target for f in failures}
            for target in self.sender.targets:
                if target not in failed:
                    ctx.emit(
                        NotificationSent(
                            kind=notification.kind, status=notification.status, target=target
                        )
                    )
            for failure in failures:
                log.warning("notification to %s failed: %s", failure.target, failure.error)
                ctx.emit(
                    NotificationFailed(
                        kind=notification.kind,
                        status=notification.status,
                        target=failure.target,
                        error=failure.error,
                    )
                )
