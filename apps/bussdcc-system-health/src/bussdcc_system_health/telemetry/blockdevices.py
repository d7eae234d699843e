"""Which block devices' I/O is worth reporting, and which count towards the totals."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

__all__ = ["STACKED", "VIRTUAL", "counted_in_totals", "reported_devices"]

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
