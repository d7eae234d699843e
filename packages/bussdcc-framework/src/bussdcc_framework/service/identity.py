"""`SystemIdentityService`: discovers the host's identity once and publishes it.

Everything is read from files below a root directory (``/`` normally; a fake tree in tests),
except what only the running interpreter knows: hostname, kernel release, architecture and
Python version. Unreadable or absent sources give None; nothing is invented.
"""

from __future__ import annotations

import platform
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bussdcc.component import Service
from bussdcc.context import ContextProtocol

from ..message.system import SystemIdentityEvent

__all__ = ["IDENTITY_STATE", "SystemIdentityService", "read_identity"]

IDENTITY_STATE = "system.identity"


def _read(root: Path, relative: str) -> str | None:
    try:
        return (root / relative).read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None


def _clean(value: str | None) -> str | None:
    # Device-tree strings end in NUL; DMI fills unknown fields with placeholders.
    if value is None:
        return None
    value = value.replace("\x00", "").strip()
    if not value or value.lower() in {"to be filled by o.e.m.", "default string", "none"}:
        return None
    return value


def _model(root: Path) -> str | None:
    return _clean(_read(root, "proc/device-tree/model")) or _clean(
        _read(root, "sys/class/dmi/id/product_name")
    )


def _serial(root: Path) -> tuple[str | None, Literal["cpuinfo", "machine-id"] | None]:
    for line in (_read(root, "proc/cpuinfo") or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "Serial":
            serial = _clean(value)
            if serial is not None and serial.strip("0"):
                return serial, "cpuinfo"
    machine_id = _clean(_read(root, "etc/machine-id"))
    if machine_id is not None:
        return machine_id, "machine-id"
    return None, None


def _os_release_value(text: str, key: str) -> str | None:
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value or None
    return None


def _os(root: Path) -> str | None:
    # os-release(5): /etc/os-release, falling back to /usr/lib/os-release.
    for relative in ("etc/os-release", "usr/lib/os-release"):
        text = _read(root, relative)
        if text is not None:
            found = _os_release_value(text, "PRETTY_NAME") or _os_release_value(text, "NAME")
            if found:
                return found
    return platform.system() or None


def _boot_time(root: Path) -> datetime | None:
    for line in (_read(root, "proc/stat") or "").splitlines():
        if line.startswith("btime "):
            try:
                return datetime.fromtimestamp(int(line.split()[1]), UTC)
            except (IndexError, ValueError, OverflowError, OSError):
                return None
    return None


def read_identity(root: Path | str = "/") -> SystemIdentityEvent:
    """Read the host's identity from the files below ``root``.

    Sources, in order of preference: model from ``proc/device-tree/model`` then
    ``sys/class/dmi/id/product_name``; serial from the ``Serial`` line of ``proc/cpuinfo``
    (an all-zero serial counts as absent) then ``etc/machine-id``; OS from ``PRETTY_NAME``
    in ``etc/os-release`` or ``usr/lib/os-release``, else `platform.system`; boot time from
    the ``btime`` line of ``proc/stat``. Never raises for a missing or unreadable file.
    """
    base = Path(root)
    serial, serial_source = _serial(base)
    return SystemIdentityEvent(
        hostname=socket.gethostname() or None,
        model=_model(base),
        serial=serial,
        serial_source=serial_source,
        os=_os(base),
        kernel=platform.release() or None,
        architecture=platform.machine() or None,
        python=platform.python_version(),
        boot_time=_boot_time(base),
    )


def identity_record(identity: SystemIdentityEvent) -> dict[str, Any]:
    """The state form of an identity: its fields as plain data, ``boot_time`` as ISO-8601.

    Processes that project a replayed ``system.identity`` use this too, so live and replayed
    state hold the same record.
    """
    record = identity.to_dict()
    boot_time = record["boot_time"]
    record["boot_time"] = None if boot_time is None else boot_time.isoformat()
    return record


class SystemIdentityService(Service):
    """Emits ``system.identity`` when it starts and stores it at state ``system.identity``.

    The state record is the message's fields as plain data, with ``boot_time`` as an ISO-8601
    string so it serialises as JSON unchanged. After that the service idles: identity does
    not change while the host runs. ``root`` is where the files are read from (see
    `read_identity`).
    """

    name = "identity"
    interval = 86_400.0  # nothing to do after start; a day between idle ticks

    def __init__(self, root: Path | str = "/") -> None:
        self.root = Path(root)
        self.identity: SystemIdentityEvent | None = None

    def start(self, ctx: ContextProtocol) -> None:
        # Read once per service object; a restart (or a new runtime) republishes the same record.
        if self.identity is None:
            self.identity = read_identity(self.root)
        ctx.state.set(IDENTITY_STATE, identity_record(self.identity))
        ctx.emit(self.identity)
