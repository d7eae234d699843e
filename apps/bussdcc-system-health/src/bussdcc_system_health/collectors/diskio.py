"""`DiskIoCollector`: read/write rates and busy share per block device, from kernel counters."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from ..message import DiskIoUpdated
from ..telemetry.blockdevices import counted_in_totals, parse_diskstats, reported_devices
from ..telemetry.filesystems import Mount, real_filesystems
from ..telemetry.rates import DiskCounters, disk_throughput, known_sum
from .disk import MountTable

__all__ = ["DISKSTATS", "DiskIoCollector", "mounted_devices", "whole_disks"]


DISKSTATS = "/proc/diskstats"
"""Where Linux keeps every block device's I/O counters."""


def _disk_counters() -> dict[str, DiskCounters]:
    # One read of /proc/diskstats for every device, parsed here: a third of what psutil's
    # disk_io_counters costs (its wrap bookkeeping is per call). A counter that wraps (32-bit
    # kernels) then reads as a reset: one interval without that rate.
    try:
        with open(DISKSTATS, "rb") as file:
            return parse_diskstats(file.read().decode("ascii", "replace"))
    except FileNotFoundError:  # not Linux
        pass
    counters = psutil.disk_io_counters(perdisk=True, nowrap=True) or {}
    return {
        name: DiskCounters(
            read_bytes=c.read_bytes,
            write_bytes=c.write_bytes,
            reads=c.read_count,
            writes=c.write_count,
            busy_ms=getattr(c, "busy_time", None),  # Linux and FreeBSD only
        )
        for name, c in counters.items()
    }


def whole_disks(sysfs: Path) -> frozenset[str]:
    """The whole disks the kernel lists in ``<sysfs>/block`` (partitions live inside them).

    An unreadable or missing directory gives the empty set: then only mounted devices are
    reported.
    """
    try:
        return frozenset(entry.name for entry in os.scandir(sysfs / "block"))
    except OSError:
        return frozenset()


def mounted_devices(
    mounts: Iterable[Mount],
    sysfs: Path,
    stat: Callable[[str], Any] = os.stat,
) -> frozenset[str]:
    """The kernel names of the block devices that ``mounts`` are mounted from.

    A mount's device number (``stat`` of its mount point) names the device through
    ``<sysfs>/dev/block/<major>:<minor>``, which also works for ``/dev/root`` and for
    ``/dev/mapper/…`` or ``UUID=…`` spellings of a device. Where that fails (btrfs reports an
    anonymous device number, or the mount point cannot be read), the device path is resolved
    through its symlinks instead (``/dev/mapper/vg-root`` -> ``dm-0``).
    """
    names = set()
    for mount in mounts:
        name = None
        try:
            device = stat(mount.mountpoint).st_dev
        except OSError:
            device = None
        if device is not None and os.major(device) != 0:
            link = sysfs / "dev" / "block" / f"{os.major(device)}:{os.minor(device)}"
            try:
                name = link.resolve(strict=True).name
            except OSError:
                name = None
        if name is None and mount.device.startswith("/dev/"):
            name = Path(os.path.realpath(mount.device)).name
        if name:
            names.add(name)
    return frozenset(names)


class DiskIoCollector:
    """Block I/O per device since the previous sample (see `DiskIoUpdated`).

    Each tick reads the kernel's counters once (``/proc/diskstats``; psutil elsewhere). Which
    devices are reported (`reported_devices`) is worked out again only when the mount table
    changes or a device appears or disappears, since that means reading sysfs and the mount
    table. The first sample only records the counters and reports nothing (None), as does a
    sample taken with no time elapsed. A counter that went backwards gives None for that
    figure in that interval (see `counter_rate`).

    ``read`` gives the counters per device name, ``read_mounts`` the mount table (by default
    a `MountTable`, which may be shared with `DiskCollector`), ``sysfs`` the root of sysfs
    and ``stat`` how mount points are looked up; tests pass fakes of each.
    """

    name = "disk_io"

    def __init__(
        self,
        read: Callable[[], Mapping[str, DiskCounters]] = _disk_counters,
        *,
        read_mounts: Callable[[], Sequence[Mount]] | None = None,
        sysfs: Path | str = "/sys",
        stat: Callable[[str], Any] = os.stat,
    ) -> None:
        self._read = read
        self._read_mounts = read_mounts if read_mounts is not None else MountTable()
        self._sysfs = Path(sysfs)
        self._stat = stat
        self._mounts: Sequence[Mount] | None = None
        self._names: Collection[str] = frozenset()
        self._reported: frozenset[str] = frozenset()
        self._partitions: frozenset[str] = frozenset()
        self._previous: Mapping[str, DiskCounters] | None = None
        self._previous_time = 0.0

    def _choose(self, names: Collection[str], mounts: Sequence[Mount]) -> None:
        disks = whole_disks(self._sysfs)
        mounted = mounted_devices(real_filesystems(mounts), self._sysfs, self._stat)
        self._reported = reported_devices(names, disks, mounted)
        # With no /sys/block to go by, nothing can be called a partition.
        self._partitions = self._reported - disks if disks else frozenset()
        self._mounts, self._names = mounts, frozenset(names)

    def collect(self, now: float) -> DiskIoUpdated | None:
        counters = self._read()
        mounts = self._read_mounts()
        # MountTable hands back the same list until the table changes, so the identity test
        # settles most ticks; equality covers readers that build a new list every time.
        changed = mounts is not self._mounts and mounts != self._mounts
        if changed or counters.keys() != self._names:
            self._choose(counters.keys(), mounts)
        current = {name: c for name, c in counters.items() if name in self._reported}
        previous, elapsed = self._previous, now - self._previous_time
        self._previous, self._previous_time = current, now
        if previous is None or elapsed <= 0:
            return None
        devices = disk_throughput(previous, current, elapsed, self._partitions)
        counted = [d for d in devices if counted_in_totals(d.device, d.whole)]
        return DiskIoUpdated(
            interval=elapsed,
            read_bytes_per_s=known_sum(d.read_bytes_per_s for d in counted),
            write_bytes_per_s=known_sum(d.write_bytes_per_s for d in counted),
            devices=devices,
        )
