"""The systemd unit that runs the app as a service: its content, and installing it with systemctl.

`unit_file` is a pure function of the options (tested by content); `install_unit`,
`uninstall_unit` and `service_status` do the file and ``systemctl`` work, with every failure
turned into a `ServiceCommandError` whose message is one line fit for the terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SERVICE_NAME",
    "SYSTEM_UNIT_DIR",
    "Runner",
    "ServiceCommandError",
    "ServicePlan",
    "app_arguments",
    "default_data_dir",
    "install_unit",
    "moved_notify_urls",
    "plan_service",
    "service_status",
    "systemd_quote",
    "uninstall_unit",
    "unit_file",
    "user_unit_dir",
]

SERVICE_NAME = "bussdcc-system-health"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
SYSTEM_DATA_DIR = Path("/var/lib") / SERVICE_NAME
WATCHDOG_SEC = 30
NOTIFY_FILE = "notify-urls"
"""The file in the data directory that holds a unit's ``--notify`` URLs (mode 0600)."""

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]

# Characters that need no quoting in a systemd command line (no whitespace, quotes,
# backslashes, specifiers or variables).
_PLAIN = re.compile(r"^[A-Za-z0-9_./:=,@+-]+$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


class ServiceCommandError(RuntimeError):
    """A ``service`` subcommand could not finish; the message says what happened and what stays."""


def systemd_quote(word: str, *, command: bool = True) -> str:
    """``word`` written so systemd's parser reads it back unchanged.

    Words of plain characters are left alone; others are double-quoted with C-style escapes.
    ``%`` always becomes ``%%`` (a specifier otherwise); in a command line (``command``, as
    in ``ExecStart=``) ``$`` becomes ``$$`` too (an environment variable otherwise), which
    systemd expands inside quotes as well. Settings such as ``ReadWritePaths=`` expand no
    variables, so there ``$`` stays.

    Raises:
        TypeError: if ``word`` is not a string.
    """
    if not isinstance(word, str):
        raise TypeError(f"word must be a string, got {type(word).__name__}")
    if not _PLAIN.match(word):
        escaped = "".join(
            _ESCAPES.get(c, f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
            for c in word
        )
        word = f'"{escaped}"'
    word = word.replace("%", "%%")
    return word.replace("$", "$$") if command else word


def _directory_setting(path: Path) -> str:
    # WorkingDirectory= takes the rest of the line as the path: no quotes, no variables,
    # only specifiers; a control character cannot be written at all.
    text = str(path)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"the data directory cannot contain control characters: {text!r}")
    return text.replace("%", "%%")


def user_unit_dir(environ: Mapping[str, str], home: Path) -> Path:
    """Where a user's own units live: ``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/...``)."""
    config = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(config) / "systemd" / "user"


def default_data_dir(*, user: bool, environ: Mapping[str, str], home: Path) -> Path:
    """The service's data directory unless ``--data-dir`` says otherwise.

    ``/var/lib/bussdcc-system-health`` for a system service, ``$XDG_DATA_HOME/...``
    (``~/.local/share/bussdcc-system-health``) for a user's.
    """
    if not user:
        return SYSTEM_DATA_DIR
    data = environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return Path(data) / SERVICE_NAME


def app_arguments(args: Sequence[str], data_dir: Path) -> list[str]:
    """The app's options for the unit: ``args`` with ``--data-dir`` replaced by ``data_dir``.

    ``--quiet`` is added unless present: journald should not store a JSON line per event
    (several a second) on a Raspberry Pi's SD card; the history is recorded anyway.
    ``args`` must not use abbreviated option names (the caller parses them without).

    Raises:
        ValueError: if ``data_dir`` is not absolute, or ``--data-dir`` lacks its value.
    """
    if not data_dir.is_absolute():
        raise ValueError(f"data_dir must be absolute, got {data_dir}")
    out, _ = _take_option(args, "--data-dir")
    if "--quiet" not in out:
        out.append("--quiet")
    return [*out, "--data-dir", str(data_dir)]


def _take_option(args: Sequence[str], option: str) -> tuple[list[str], list[str]]:
    """``args`` without ``option VALUE`` and ``option=VALUE``, and those values in order.

    Raises:
        ValueError: if ``option`` ends ``args`` without its value.
    """
    kept: list[str] = []
    values: list[str] = []
    words = iter(args)
    for word in words:
        if word == option:
            value = next(words, None)
            if value is None:
                raise ValueError(f"{option} needs a value")
            values.append(value)
        elif word.startswith(option + "="):
            values.append(word.removeprefix(option + "="))
        else:
            kept.append(word)
    return kept, values


def moved_notify_urls(args: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """``args`` without their ``--notify URL`` options, and those URLs in order.

    A unit's command line is readable by every user of the machine (``ps``, ``systemctl
    cat``), and notification URLs carry secrets (tokens, passwords): `plan_service` moves
    them into `NOTIFY_FILE` and passes ``--notify-file`` instead. ``args`` must not use
    abbreviated option names (the caller parses them without).

    Raises:
        ValueError: if ``--notify`` ends ``args`` without its value.
    """
    kept, urls = _take_option(args, "--notify")
    return kept, tuple(urls)


def unit_file(*, python: str, args: Sequence[str], data_dir: Path, user: bool) -> str:
    """The unit's text: run ``python -m bussdcc_system_health args`` as a notify service.

    ``args`` are passed as given (see `app_arguments`); ``data_dir`` is the working directory
    and the one place the service may write. The service tells systemd when it is ready and
    pings its watchdog only while every collector ticks (``Type=notify``, ``WatchdogSec``), and
    is restarted on failure. A system unit is sandboxed (``ProtectSystem=strict`` with only
    the data directory writable, private /tmp, no privilege gain) and starts with the machine;
    a user unit keeps to ``NoNewPrivileges`` (a user manager cannot set up the other sandboxes
    on every system) and starts with the user's session (or at boot with lingering).

    Raises:
        ValueError: if ``python`` or ``data_dir`` is not an absolute path.
    """
    if not os.path.isabs(python):
        raise ValueError(f"python must be an absolute path, got {python!r}")
    if not data_dir.is_absolute():
        raise ValueError(f"data_dir must be absolute, got {data_dir}")
    command = " ".join(systemd_quote(w) for w in [python, "-m", "bussdcc_system_health", *args])
    where = _directory_setting(data_dir)
    lines = [
        f"# Written by `{SERVICE_NAME} service install`; running it again replaces this file.",
        "[Unit]",
        "Description=bussdcc system health monitor and dashboard",
        "Documentation=https://github.com/jbussdieker/bussdcc/tree/main/apps/bussdcc-system-health",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={command}",
        f"WorkingDirectory={where}",
        "Environment=PYTHONUNBUFFERED=1",
        f"WatchdogSec={WATCHDOG_SEC}",
        "Restart=on-failure",
        "RestartSec=5",
        "TimeoutStopSec=30",
        "NoNewPrivileges=yes",
    ]
    if not user:
        lines += [
            "PrivateTmp=yes",
            "ProtectSystem=strict",
            f"ReadWritePaths={systemd_quote(str(data_dir), command=False)}",
            "ProtectControlGroups=yes",
            "RestrictSUIDSGID=yes",
            "LockPersonality=yes",
        ]
    lines += ["", "[Install]", f"WantedBy={'default.target' if user else 'multi-user.target'}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """What `install_unit` writes where."""

    unit_path: Path
    data_dir: Path
    content: str
    user: bool
    notify_urls: tuple[str, ...] = field(default=(), repr=False)
    """The ``--notify`` URLs, written to `notify_file` rather than into the unit."""

    @property
    def notify_file(self) -> Path | None:
        """Where the unit reads its notification URLs from (None: it has none to move)."""
        return self.data_dir / NOTIFY_FILE if self.notify_urls else None

    @property
    def unit_name(self) -> str:
        return self.unit_path.name


def plan_service(
    args: Sequence[str],
    *,
    user: bool,
    python: str,
    data_dir: Path | None,
    unit_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    cwd: Path | None = None,
) -> ServicePlan:
    """The unit for ``args`` (the app's options, already validated), without touching disk.

    ``--notify`` URLs are moved out of the command line into the plan's `notify_file` (see
    `moved_notify_urls`). ``data_dir`` is the ``--data-dir`` given (relative to ``cwd``), or
    None for the default (`default_data_dir`). ``unit_dir`` overrides where the unit goes
    (tests, packaging).
    """
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    cwd = Path.cwd() if cwd is None else cwd
    if data_dir is None:
        data_dir = default_data_dir(user=user, environ=environ, home=home)
    data_dir = Path(os.path.normpath(cwd / data_dir))
    if unit_dir is None:
        unit_dir = user_unit_dir(environ, home) if user else SYSTEM_UNIT_DIR
    kept, urls = moved_notify_urls(args)
    if urls:
        kept += ["--notify-file", str(data_dir / NOTIFY_FILE)]
    content = unit_file(
        python=python, args=app_arguments(kept, data_dir), data_dir=data_dir, user=user
    )
    return ServicePlan(
        Path(unit_dir) / f"{SERVICE_NAME}.service", data_dir, content, user, notify_urls=urls
    )


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _systemctl(plan_user: bool, *words: str) -> list[str]:
    return ["systemctl", *(["--user"] if plan_user else []), *words]


def _call(run: Runner, command: list[str], what: str, *, after: str) -> str:
    """Run ``command``; raise ServiceCommandError saying ``what`` failed and ``after``."""
    try:
        done = run(command)
    except FileNotFoundError:
        raise ServiceCommandError(
            f"systemctl was not found, so {what} was not done; {after}"
        ) from None
    except OSError as exc:
        raise ServiceCommandError(f"cannot run systemctl ({exc}); {after}") from None
    if done.returncode != 0:
        said = (
            " ".join((done.stderr or done.stdout or "").split()) or f"exit status {done.returncode}"
        )
        raise ServiceCommandError(f"`{' '.join(command)}` failed: {said}; {after}")
    return done.stdout


def install_unit(plan: ServicePlan, *, run: Runner = _run) -> None:
    """Create the data directory, write the notification URLs (if any) to the plan's
    `notify_file` with mode 0600 and the unit, then ``daemon-reload`` and ``enable --now``.

    Raises:
        ServiceCommandError: when the directory or file cannot be written, or systemctl is
            missing or fails (the unit file then stays written, and the message says so).
    """
    try:
        plan.data_dir.mkdir(parents=True, exist_ok=True)
        if plan.notify_file is not None:
            _write_private(plan.notify_file, _notify_file_text(plan.notify_urls))
        plan.unit_path.parent.mkdir(parents=True, exist_ok=True)
        plan.unit_path.write_text(plan.content, encoding="utf-8")
    except PermissionError as exc:
        hint = "" if plan.user else " (run it as root, e.g. with sudo, or pass --user)"
        raise ServiceCommandError(f"cannot write {exc.filename}: permission denied{hint}") from None
    except OSError as exc:
        raise ServiceCommandError(
            f"cannot write {exc.filename or plan.unit_path}: {exc.strerror}"
        ) from None
    after = f"the unit file {plan.unit_path} is written but the service is not enabled"
    _call(run, _systemctl(plan.user, "daemon-reload"), "daemon-reload", after=after)
    _call(run, _systemctl(plan.user, "enable", "--now", plan.unit_name), "enable", after=after)


def _notify_file_text(urls: Sequence[str]) -> str:
    header = f"# Apprise URLs for {SERVICE_NAME} (--notify-file), one per line.\n"
    return header + "".join(f"{url}\n" for url in urls)


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only, also when it already exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            fd = -1
            file.write(text)
    finally:
        if fd != -1:
            os.close(fd)


def uninstall_unit(unit_path: Path, *, user: bool, run: Runner = _run) -> bool:
    """``disable --now`` the service, remove its unit file, ``daemon-reload``.

    Returns False when there was no unit file (nothing to do). The data directory stays.

    Raises:
        ServiceCommandError: when systemctl is missing or fails, or the file cannot be removed.
    """
    if not unit_path.exists():
        return False
    keep = f"the unit file {unit_path} was left in place"
    _call(run, _systemctl(user, "disable", "--now", unit_path.name), "disable", after=keep)
    try:
        unit_path.unlink()
    except OSError as exc:
        raise ServiceCommandError(f"cannot remove {unit_path}: {exc.strerror}") from None
    _call(run, _systemctl(user, "daemon-reload"), "daemon-reload", after=f"{unit_path} is removed")
    return True


def service_status(*, user: bool, run: Runner = _run) -> tuple[int, str]:
    """What ``systemctl status`` says about the service: (its exit status, its output).

    systemctl's own non-zero statuses (3 = not running, 4 = no such unit) are answers, not
    failures, and are returned as such.

    Raises:
        ServiceCommandError: when systemctl is missing or cannot be run.
    """
    command = _systemctl(user, "status", "--no-pager", f"{SERVICE_NAME}.service")
    try:
        done = run(command)
    except FileNotFoundError:
        raise ServiceCommandError("systemctl was not found: is this a systemd machine?") from None
    except OSError as exc:
        raise ServiceCommandError(f"cannot run systemctl ({exc})") from None
    return done.returncode, (done.stdout or "") + (done.stderr or "")
