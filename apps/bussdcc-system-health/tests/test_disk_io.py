"""Disk I/O: rates with resets, device selection from fixture trees, and the collector."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from bussdcc_system_health.collectors import DiskIoCollector
from bussdcc_system_health.collectors.diskio import mounted_devices, whole_disks
from bussdcc_system_health.message import DiskIo, DiskIoUpdated
from bussdcc_system_health.telemetry.blockdevices import (
    counted_in_totals,
    parse_diskstats,
    reported_devices,
)
from bussdcc_system_health.telemetry.filesystems import Mount, real_filesystems
from bussdcc_system_health.telemetry.rates import DiskCounters, busy_percent, disk_throughput

# A Raspberry Pi booted from eMMC with a USB SSD, a mounted disk image, snaps, zram swap and
# device-mapper, in /proc/diskstats's layout (major minor name, then the kernel's fields:
# reads merged sectors ms, writes merged sectors ms, in-flight io_ticks weighted ...).
DISKSTATS = """\
   7       0 loop0 60 0 2216 12 0 0 0 0 0 28 12 0 0 0 0 0 0
   7       1 loop1 1200 0 96000 300 400 0 32000 90 0 250 390 0 0 0 0 0 0
   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 252       0 zram0 40 0 320 0 900 0 7200 10 0 12 10 0 0 0 0 0 0
 179       0 mmcblk0 5000 100 400000 2000 3000 200 240000 9000 0 8000 11000 0 0 0 0 0 0
 179       1 mmcblk0p1 300 0 20000 100 2 0 16 1 0 90 101 0 0 0 0 0 0
 179       2 mmcblk0p2 4600 100 379000 1800 2998 200 239984 8999 0 7800 10799 0 0 0 0 0 0
 179       8 mmcblk0boot0 10 0 80 1 0 0 0 0 0 2 1 0 0 0 0 0 0
   8       0 sda 700 10 56000 400 100 5 8000 300 0 600 700 0 0 0 0 0 0
   8       1 sda1 690 10 55000 395 100 5 8000 300 0 590 695 0 0 0 0 0 0
   8       2 sda2 4 0 32 1 0 0 0 0 0 1 1 0 0 0 0 0 0
 253       0 dm-0 680 0 54000 390 100 0 8000 300 0 580 690 0 0 0 0 0 0
  43       0 nbd0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
"""


diskstats = parse_diskstats


def sysfs_tree(root: Path) -> Path:
    """A /sys with /sys/block and /sys/dev/block as the Pi above has them."""
    sys = root / "sys"
    disks = {
        "loop0": [], "loop1": [], "ram0": [], "zram0": [], "mmcblk0": ["mmcblk0p1", "mmcblk0p2"],
        "mmcblk0boot0": [], "sda": ["sda1", "sda2"], "dm-0": [], "nbd0": [],
    }  # fmt: skip
    numbers = {"mmcblk0p1": "179:1", "mmcblk0p2": "179:2", "loop1": "7:1", "dm-0": "253:0"}
    (sys / "dev" / "block").mkdir(parents=True)
    for disk, parts in disks.items():
        (sys / "block" / disk).mkdir(parents=True)
        for part in parts:
            (sys / "block" / disk / part).mkdir()
    for name, number in numbers.items():
        disk = next(d for d, parts in disks.items() if name == d or name in parts)
        target = Path("../../block") / disk / (name if name != disk else "")
        (sys / "dev" / "block" / number).symlink_to(target)
    return sys


MOUNTS = [
    Mount("/dev/mmcblk0p2", "/", "ext4"),
    Mount("/dev/mmcblk0p1", "/boot/firmware", "vfat"),
    Mount("/dev/mapper/data-vol", "/srv", "ext4"),
    Mount("/dev/loop1", "/mnt/image", "ext4"),
    Mount("/dev/loop0", "/snap/core22/1", "squashfs"),
    Mount("tmpfs", "/run", "tmpfs"),
]

DEVICE_NUMBERS = {
    "/": (179, 2),
    "/boot/firmware": (179, 1),
    "/srv": (253, 0),
    "/mnt/image": (7, 1),
    "/snap/core22/1": (7, 0),
    "/run": (0, 25),
}


def fake_stat(numbers: Mapping[str, tuple[int, int]]) -> Callable[[str], Any]:
    def stat(path: str) -> Any:
        if path not in numbers:
            raise FileNotFoundError(path)
        return NS(st_dev=os.makedev(*numbers[path]))

    return stat


# --- parsing ------------------------------------------------------------------------------------


def test_diskstats_fields_become_bytes_operations_and_busy_time() -> None:
    parsed = parse_diskstats(DISKSTATS)
    assert len(parsed) == 13
    assert parsed["mmcblk0"] == DiskCounters(
        read_bytes=400000 * 512, write_bytes=240000 * 512, reads=5000, writes=3000, busy_ms=8000
    )
    assert parsed["sda1"] == DiskCounters(55000 * 512, 8000 * 512, 690, 100, busy_ms=590)


def test_diskstats_of_older_kernels_and_odd_lines() -> None:
    text = (
        "   8       0 sda 8 8 8 8 8 8 8 8 0 8 8\n"  # 2.6-4.17: 14 fields
        "   8       1 sda1 4 16 2 32\n"  # 2.6 partition: 7 fields, no busy time
        "   8       2 sdb2 x y z\n"  # garbled: skipped
        "   8       3 sdb3 1 2 three 4 5 6 7 8 9 10 11\n"  # not numbers: skipped
        "\n"
    )
    assert parse_diskstats(text) == {
        "sda": DiskCounters(8 * 512, 8 * 512, 8, 8, busy_ms=8),
        "sda1": DiskCounters(16 * 512, 32 * 512, 4, 2),
    }


# --- rates --------------------------------------------------------------------------------------


def test_disk_rates_over_the_interval() -> None:
    before = {"sda": DiskCounters(1000, 2000, 10, 20, busy_ms=5000)}
    after = {"sda": DiskCounters(5000, 2000 + 8192, 14, 22, busy_ms=5500)}
    assert disk_throughput(before, after, 2.0) == (
        DiskIo("sda", 2000.0, 4096.0, 2.0, 1.0, 25.0, 5000, 10192),
    )


def test_a_device_reset_gives_no_rate_for_what_went_backwards_only() -> None:
    before = {"sdb": DiskCounters(9000, 9000, 90, 90, busy_ms=900)}
    after = {"sdb": DiskCounters(100, 9500, 1, 95, busy_ms=10)}  # re-plugged: reads restarted
    (sdb,) = disk_throughput(before, after, 1.0)
    assert sdb == DiskIo("sdb", None, 500.0, None, 5.0, None, 100, 9500)


def test_new_device_has_no_rates_removed_one_is_dropped_partitions_are_marked() -> None:
    before = {"sda": DiskCounters(0, 0, 0, 0), "sdb": DiskCounters(0, 0, 0, 0)}
    after = {"sda1": DiskCounters(512, 0, 1, 0), "sda": DiskCounters(512, 0, 1, 0)}
    assert disk_throughput(before, after, 1.0, partitions={"sda1"}) == (
        DiskIo("sda", 512.0, 0.0, 1.0, 0.0, None, 512, 0),
        DiskIo("sda1", None, None, None, None, None, 512, 0, whole=False),
    )


@pytest.mark.parametrize(
    ("before", "after", "seconds", "percent"),
    [
        (0, 1000, 1.0, 100.0),
        (0, 1500, 2.0, 75.0),
        (100, 1110, 1.0, 100.0),  # a completion counted a little late: capped, not 101 %
        (500, 400, 1.0, None),  # reset
        (None, 400, 1.0, None),  # not counted on this platform
        (0, 10, 0.0, None),
    ],
)
def test_busy_percent(
    before: int | None, after: int | None, seconds: float, percent: float | None
) -> None:
    assert busy_percent(before, after, seconds) == percent


# --- which devices ------------------------------------------------------------------------------


def test_whole_disks_and_mounted_devices_from_a_fixture_tree(tmp_path: Path) -> None:
    sys = sysfs_tree(tmp_path)
    assert whole_disks(sys) == {
        "loop0", "loop1", "ram0", "zram0", "mmcblk0", "mmcblk0boot0", "sda", "dm-0", "nbd0"
    }  # fmt: skip
    mounted = mounted_devices(MOUNTS[:4], sys, fake_stat(DEVICE_NUMBERS))
    assert mounted == {"mmcblk0p2", "mmcblk0p1", "dm-0", "loop1"}


def test_a_mount_without_a_device_number_is_named_by_its_device_path(tmp_path: Path) -> None:
    sys = sysfs_tree(tmp_path)
    btrfs = Mount("/dev/vdb1", "/data", "btrfs")  # btrfs reports an anonymous device number
    gone = Mount("/dev/sdz1", "/media/usb", "vfat")  # mount point unreadable
    mounted = mounted_devices([btrfs, gone], sys, fake_stat({"/data": (0, 48)}))
    assert mounted == {"vdb1", "sdz1"}


def test_reported_devices_from_diskstats_and_sysfs(tmp_path: Path) -> None:
    sys = sysfs_tree(tmp_path)
    mounted = mounted_devices(real_filesystems(MOUNTS), sys, fake_stat(DEVICE_NUMBERS))
    reported = reported_devices(diskstats(DISKSTATS), whole_disks(sys), mounted)
    # whole disks, mounted partitions and the mounted disk image; not the snap's squashfs
    # loop (not a real filesystem), RAM, zram, unused nbd, eMMC boot partitions or the
    # unmounted sda2.
    assert reported == {"mmcblk0", "mmcblk0p1", "mmcblk0p2", "sda", "dm-0", "loop1"}


def test_only_whole_unstacked_disks_count_towards_totals() -> None:
    assert counted_in_totals("sda", whole=True)
    assert counted_in_totals("mmcblk0", whole=True)
    assert counted_in_totals("nvme0n1", whole=True)
    assert not counted_in_totals("sda1", whole=False)
    assert not counted_in_totals("dm-0", whole=True)
    assert not counted_in_totals("md0", whole=True)
    assert not counted_in_totals("loop1", whole=True)


# --- the collector ------------------------------------------------------------------------------


def _grown(counters: dict[str, DiskCounters], **extra: tuple[int, int, int]) -> dict[str, Any]:
    """``counters`` with (read, written, busy ms) added to the named devices."""
    result = dict(counters)
    for name, (read, written, busy) in extra.items():
        c = counters[name]
        result[name] = DiskCounters(
            c.read_bytes + read,
            c.write_bytes + written,
            c.reads + (1 if read else 0),
            c.writes + (1 if written else 0),
            None if c.busy_ms is None else c.busy_ms + busy,
        )
    return result


def test_collector_reports_the_chosen_devices_with_totals(tmp_path: Path) -> None:
    first = diskstats(DISKSTATS)
    second = _grown(
        first,
        mmcblk0=(0, 4096, 500),
        mmcblk0p2=(0, 4096, 500),
        sda=(8192, 0, 250),
        sda1=(8192, 0, 250),
        **{"dm-0": (8192, 0, 250)},
        zram0=(0, 1 << 20, 10),
    )
    readings = iter([first, second])
    collector = DiskIoCollector(
        lambda: next(readings),
        read_mounts=lambda: MOUNTS,
        sysfs=sysfs_tree(tmp_path),
        stat=fake_stat(DEVICE_NUMBERS),
    )
    assert collector.collect(10.0) is None  # the baseline
    msg = collector.collect(12.0)
    assert isinstance(msg, DiskIoUpdated)
    assert msg.interval == 2.0
    by_name = {d.device: d for d in msg.devices}
    assert list(by_name) == sorted(["dm-0", "loop1", "mmcblk0", "mmcblk0p1", "mmcblk0p2", "sda"])
    assert by_name["mmcblk0"] == DiskIo(
        "mmcblk0", 0.0, 2048.0, 0.0, 0.5, 25.0, 400000 * 512, 240000 * 512 + 4096
    )
    assert by_name["mmcblk0p2"].whole is False
    assert by_name["dm-0"].whole is True and by_name["dm-0"].read_bytes_per_s == 4096.0
    # totals: mmcblk0 and sda only -- not the partitions, dm-0 or the loop file again,
    # and zram's megabyte not at all
    assert (msg.read_bytes_per_s, msg.write_bytes_per_s) == (4096.0, 2048.0)


def test_devices_are_chosen_again_only_when_mounts_or_devices_change(tmp_path: Path) -> None:
    sys = sysfs_tree(tmp_path)
    stats = diskstats(DISKSTATS)
    mounts = list(MOUNTS)
    looked_up: list[str] = []
    stat = fake_stat(DEVICE_NUMBERS)

    def counting_stat(path: str) -> Any:
        looked_up.append(path)
        return stat(path)

    current: dict[str, Any] = {"stats": stats, "mounts": mounts}
    collector = DiskIoCollector(
        lambda: current["stats"],
        read_mounts=lambda: current["mounts"],
        sysfs=sys,
        stat=counting_stat,
    )
    collector.collect(0.0)
    chosen_once = len(looked_up)
    assert chosen_once == 4  # the real filesystems' mount points
    collector.collect(1.0)
    current["mounts"] = list(MOUNTS)  # a new list, same table (a reader without polling)
    collector.collect(2.0)
    assert len(looked_up) == chosen_once
    # a USB stick appears: a new device in the counters, so the choice is made again
    (sys / "block" / "sdb").mkdir()
    current["stats"] = {**stats, "sdb": DiskCounters(0, 0, 0, 0, 0)}
    msg = collector.collect(3.0)
    assert len(looked_up) == 2 * chosen_once
    assert msg is not None and "sdb" in {d.device for d in msg.devices}
    # it is mounted: the table changed, chosen again
    current["mounts"] = [*MOUNTS, Mount("/dev/sdb", "/media/stick", "vfat")]
    collector.collect(4.0)
    assert len(looked_up) == 3 * chosen_once + 1


def test_without_sysfs_only_mounted_devices_are_reported(tmp_path: Path) -> None:
    stats = diskstats(DISKSTATS)
    collector = DiskIoCollector(
        lambda: stats,
        read_mounts=lambda: [Mount("/dev/sda1", "/", "ext4")],
        sysfs=tmp_path / "no-sys",
        stat=fake_stat({"/": (8, 1)}),
    )
    collector.collect(0.0)
    msg = collector.collect(1.0)
    assert msg is not None
    assert [(d.device, d.whole) for d in msg.devices] == [("sda1", True)]


def test_no_time_elapsed_reports_nothing(tmp_path: Path) -> None:
    stats = diskstats(DISKSTATS)
    collector = DiskIoCollector(lambda: stats, read_mounts=list, sysfs=sysfs_tree(tmp_path))
    assert collector.collect(5.0) is None
    assert collector.collect(5.0) is None


def test_real_disk_io_counters_are_plausible() -> None:
    collector = DiskIoCollector()
    assert collector.collect(0.0) is None
    msg = collector.collect(1.0)
    assert isinstance(msg, DiskIoUpdated)
    for device in msg.devices:
        assert not device.device.startswith(("ram", "zram"))
        for rate in (device.read_bytes_per_s, device.write_bytes_per_s, device.busy):
            assert rate is None or rate >= 0.0
        assert device.busy is None or device.busy <= 100.0
