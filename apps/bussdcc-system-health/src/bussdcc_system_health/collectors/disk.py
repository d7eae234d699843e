"""`DiskCollector`: capacity of the real mounted filesystems, and the `MountTable` it polls."""

from __future__ import annotations

import select
from collections.abc import Callable, Sequence
from typing import IO, Any

import psutil

from ..message import DiskUsageUpdated, Filesystem
from ..telemetry.filesystems import Mount, real_filesystems
from .cadence import EVERY_MINUTE, OnChange

__all__ = ["MEANINGFUL_CHANGE", "DiskCollector", "MountTable", "same_usage"]


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


MEANINGFUL_CHANGE = 0.001
"""A change of used bytes worth reporting at once: a thousandth of the filesystem's size,
the resolution of the percentage the dashboard shows (0.1 %)."""


def same_usage(previous: DiskUsageUpdated, current: DiskUsageUpdated) -> bool:
    """Whether ``current`` is no news after ``previous``: the same filesystems, mounted the
    same way with the same size, each with used bytes within `MEANINGFUL_CHANGE` of its size."""
    if len(previous.filesystems) != len(current.filesystems):
        return False
    for before, after in zip(previous.filesystems, current.filesystems, strict=True):
        if (before.mountpoint, before.device, before.fstype, before.total) != (
            after.mountpoint,
            after.device,
            after.fstype,
            after.total,
        ):
            return False
        if abs(after.used - before.used) >= after.total * MEANINGFUL_CHANGE:
            return False
    return True


class DiskCollector:
    """Capacity of every real mounted filesystem (see `real_filesystems`).

    A filesystem whose usage cannot be read (a stale network mount, a permission error) is
    left out of that sample; the others are still reported. By default the mount table is
    read again only after a mount or unmount (see `MountTable`).

    Capacity changes slowly: a sample is reported when a filesystem appears, goes or is
    resized, or its used bytes moved by a thousandth of its size since the last report
    (`same_usage`), and at least every ``repeat`` seconds (default a minute); in between
    `collect` returns None and the state keeps the last report.

    Raises:
        TypeError: if ``repeat`` is not a number.
        ValueError: if ``repeat`` is negative, NaN or infinite.
    """

    name = "disk"

    def __init__(
        self,
        read_mounts: Callable[[], Sequence[Mount]] | None = None,
        read_usage: Callable[[str], Any] = psutil.disk_usage,
        *,
        repeat: float = EVERY_MINUTE,
    ) -> None:
        self._news: OnChange[DiskUsageUpdated] = OnChange(
            repeat, argument="repeat", same=same_usage
        )
        self._read_mounts = read_mounts if read_mounts is not None else MountTable()
        self._read_usage = read_usage

    def collect(self, now: float) -> DiskUsageUpdated | None:
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
        return self._news(now, DiskUsageUpdated(filesystems=tuple(filesystems)))
