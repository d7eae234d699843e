"""Block devices: their counters as the kernel prints them, which are worth reporting, and
which count towards the totals."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from .rates import DiskCounters

__all__ = [
    "SECTOR",
    "STACKED",
    "VIRTUAL",
    "counted_in_totals",
    "parse_diskstats",
    "reported_devices",
]

SECTOR = 512
"""Bytes per sector in ``/proc/diskstats``, whatever the device's own sector size."""


def parse_diskstats(text: str) -> dict[str, DiskCounters]:
    """Each device's counters from the text of ``/proc/diskstats``.

    A line is ``major minor name`` and then the kernel's fields (Documentation/admin-guide/
    iostats.rst): reads completed, merged, sectors read, ms reading, writes completed, merged,
    sectors written, ms writing, I/O in flight, ms doing I/O (``io_ticks``, the busy time),
    weighted ms, and since Linux 4.18 and 5.5 discard and flush fields. Linux 2.6 printed
    partitions with four fields (reads, sectors read, writes, sectors written) and no busy
    time. A line in any other shape is skipped.
    """
    counters = {}
    for line in text.splitlines():
        fields = line.split()
        try:
            if len(fields) >= 14:  # only the five fields used are converted: this runs every tick
                counters[fields[2]] = DiskCounters(
                    read_bytes=int(fields[5]) * SECTOR,
                    write_bytes=int(fields[9]) * SECTOR,
                    reads=int(fields[3]),
                    writes=int(fields[7]),
                    busy_ms=int(fields[12]),
                )
            elif len(fields) == 7:
                reads, read_sectors, writes, write_sectors = (int(v) for v in fields[3:7])
                counters[fields[2]] = DiskCounters(
                    read_sectors * SECTOR, write_sectors * SECTOR, reads, writes
                )
        except ValueError:
            continue
    return counters


VIRTUAL = re.compile(r"^(loop|ram|zram|nbd|fd|mtdblock)\d+$|^mmcblk\d+(boot\d+|rpmb)$")
"""Whole "disks" that are not storage of their own: loop devices (snap images, mounted files),
RAM disks, compressed RAM (zram swap), unused network block devices, floppies, raw flash
partitions, and an eMMC's hardware boot partitions. Like node_exporter's default device
exclusions, these are left out unless a mounted filesystem lives on one."""

STACKED = re.compile(r"^(dm-|md|loop)\d*")
"""Devices whose I/O is counted again on the devices below them (device-mapper, md RAID, loop
files), so a total that included them would count those bytes twice."""


def reported_devices(
    names: Iterable[str], whole_disks: Collection[str], mounted: Collection[str]
) -> frozenset[str]:
    """The devices among ``names`` whose I/O is reported.

    ``names`` are the devices the kernel counts I/O for (``/proc/diskstats``), ``whole_disks``
    those listed in ``/sys/block`` (everything else is a partition), ``mounted`` the devices
    backing a mounted real filesystem. Reported: every whole disk that is not `VIRTUAL`, and
    every device a filesystem is mounted from, virtual or partition.
    """
    return frozenset(
        name
        for name in names
        if name in mounted or (name in whole_disks and not VIRTUAL.match(name))
    )


def counted_in_totals(name: str, whole: bool) -> bool:
    """Whether a reported device's I/O belongs in the machine's totals: whole and not `STACKED`."""
    return whole and not STACKED.match(name)
