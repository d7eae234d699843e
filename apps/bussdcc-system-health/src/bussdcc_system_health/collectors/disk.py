"""`DiskCollector`: capacity of the real mounted filesystems, and the `MountTable` it polls."""

from __future__ import annotations

import select
from collections.abc import Callable, Sequence
from typing import IO, Any

import psutil

from ..message import DiskUsageUpdated, Filesystem
from ..telemetry.filesystems import Mount, real_filesystems

__all__ = ["DiskCollector", "MountTable"]


def _mounts() -> list[Mount]:
    return [Mount(p.device, p.mountpoint, p.fstype) for p in psutil.disk_partitions(all=False)]


class MountTable:
    """The mounted filesystems, read again only when the kernel says the table changed.

    Reading the mount table is most of what a disk sample costs, and it changes rarely.
    Linux makes ``/proc/self/mounts`` pollable: after a mount or unmount, ``poll`` reports
    ``POLLPRI`` on an open descriptor of it (once per change). Where that is not available,
    the table is read on every call.
    """

    def __init__(
        self,
        read: Callable[[], Sequence[Mount]] = _mounts,
        changes: str | None = "/proc/self/mounts",
    ) -> None:
        self._read = read
        self._cached: Sequence[Mount] | None = None
        self._file: IO[bytes] | None = None
        self._poll: Any = None
        if changes is not None and hasattr(select, "poll"):
            try:
                self._file = open(changes, "rb")  # noqa: SIM115 -- held open to be polled
            except OSError:
                self._file = None
            else:
                self._poll = select.poll()
                self._poll.register(self._file, select.POLLPRI | select.POLLERR)

    def __call__(self) -> Sequence[Mount]:
        if self._poll is None or self._cached is None or self._poll.poll(0):
            self._cached = self._read()
        return self._cached

    def close(self) -> None:
        """Release the polled descriptor (the table is then read on every call)."""
        if self._file is not None:
            self._file.close()
        self._file = self._poll = None


class DiskCollector:
    """Capacity of every real mounted filesystem (see `real_filesystems`).

    A filesystem whose usage cannot be read (a stale network mount, a permission error) is
    left out of that sample; the others are still reported. By default the mount table is
    read again only after a mount or unmount (see `MountTable`).
    """

    name = "disk"

    def __init__(
        self,
        read_mounts: Callable[[], Sequence[Mount]] | None = None,
        read_usage: Callable[[str], Any] = psutil.disk_usage,
    ) -> None:
        self._read_mounts = read_mounts if read_mounts is not None else MountTable()
        self._read_usage = read_usage

    def collect(self, now: float) -> DiskUsageUpdated:
        filesystems = []
        for mount in real_filesystems(self._read_mounts()):
            try:
                usage = self._read_usage(mount.mountpoint)
            except OSError:
                continue
            filesystems.append(
                Filesystem(
                    mountpoint=mount.mountpoint,
                    device=mount.device,
                    fstype=mount.fstype,
                    total=int(usage.total),
                    used=int(usage.used),
                    free=int(usage.free),
                    percent=float(usage.percent),
                )
            )
        return DiskUsageUpdated(filesystems=tuple(filesystems))
