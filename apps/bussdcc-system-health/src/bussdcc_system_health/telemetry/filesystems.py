"""Which mounted filesystems are real storage worth reporting."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PSEUDO_FSTYPES", "Mount", "real_filesystems"]

PSEUDO_FSTYPES = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fuse.gvfsd-fuse",
        "fuse.portal",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "squashfs",  # snap packages and live images: read-only, always 100 % full
        "sysfs",
        "tmpfs",
        "tracefs",
    }
)
"""Filesystem types that hold no user data on a disk (kernel views, RAM, images)."""


@dataclass(slots=True, frozen=True)
class Mount:
    """One line of the mount table."""

    device: str
    mountpoint: str
    fstype: str


def real_filesystems(mounts: Iterable[Mount]) -> list[Mount]:
    """The mounts that are real storage, one per device, in mount-table order.

    Drops pseudo filesystem types (`PSEUDO_FSTYPES`), mounts without a backing device, and
    repeated mounts of one device (bind mounts, a snap's view of the root): of those the one
    with the shortest mount point is kept, since it shows the filesystem's own root.
    """
    # device -> (position in the table, mount); the position keeps table order
    chosen: dict[str, tuple[int, Mount]] = {}
    for position, mount in enumerate(mounts):
        if mount.fstype in PSEUDO_FSTYPES or not mount.device or mount.device == "none":
            continue
        taken = chosen.get(mount.device)
        if taken is None or len(mount.mountpoint) < len(taken[1].mountpoint):
            chosen[mount.device] = (position, mount)
    return [mount for _, mount in sorted(chosen.values(), key=lambda item: item[0])]
