"""Collectors: built from fixed readings exactly, and from the real host by shape and range."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any, TypeVar

import psutil
import pytest

from bussdcc.message import Message
from bussdcc_system_health.collectors import (
    Collector,
    CpuCollector,
    DiskCollector,
    FanCollector,
    LoadCollector,
    MemoryCollector,
    MountTable,
    NetworkCollector,
    TemperatureCollector,
    ThrottlingCollector,
    default_collectors,
)
from bussdcc_system_health.collectors.memory import SwapUsage, parse_swap, read_swap
from bussdcc_system_health.message import (
    CoreUsage,
    CpuUsageUpdated,
    DiskUsageUpdated,
    Fan,
    FanSpeedUpdated,
    Filesystem,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)
from bussdcc_system_health.telemetry.filesystems import Mount, real_filesystems
from bussdcc_system_health.telemetry.rates import InterfaceCounters

# --- CPU, memory, load ------------------------------------------------------------------------


def test_cpu_first_sample_is_a_baseline_then_shares_per_interval() -> None:
    readings = [
        (
            {"user": 100.0, "system": 50.0, "idle": 800.0, "iowait": 50.0},
            [
                {"user": 60.0, "system": 20.0, "idle": 400.0, "iowait": 20.0},
                {"user": 40.0, "system": 30.0, "idle": 400.0, "iowait": 30.0},
            ],
        ),
        (
            {"user": 130.0, "system": 60.0, "idle": 850.0, "iowait": 60.0},
            [
                {"user": 87.0, "system": 21.0, "idle": 400.0, "iowait": 22.0},
                {"user": 43.0, "system": 39.0, "idle": 450.0, "iowait": 38.0},
            ],
        ),
    ]
    collector = CpuCollector(read=lambda: readings.pop(0))
    assert collector.collect(0.0) is None
    msg = collector.collect(1.0)
    assert msg == CpuUsageUpdated(
        user=30.0,
        system=10.0,
        iowait=10.0,
        idle=50.0,
        busy=40.0,
        cores=(
            CoreUsage(0, 90.0, 3.3, 6.7, 0.0, 93.3),
            CoreUsage(1, 4.3, 12.9, 11.4, 71.4, 17.2),
        ),
    )


def test_cpu_reading_with_no_elapsed_time_is_not_reported_as_busy() -> None:
    same = {"user": 5.0, "system": 5.0, "idle": 5.0}
    collector = CpuCollector(read=lambda: (same, [same]))
    collector.collect(0.0)
    assert collector.collect(0.0) is None


def test_memory_and_swap() -> None:
    mem = NS(total=4000, available=1000, used=2800, percent=75.0)
    swap = NS(total=100, used=25, percent=25.0)
    msg = MemoryCollector(read_memory=lambda: mem, read_swap=lambda: swap).collect(0.0)
    assert msg == MemoryUsageUpdated(4000, 1000, 2800, 75.0, 100, 25, 25.0)


MEMINFO_WITH_SWAP = b"""MemTotal:        3884428 kB
MemFree:          187220 kB
MemAvailable:    2533404 kB
SwapCached:         2048 kB
SwapTotal:        102396 kB
SwapFree:          76796 kB
Zswap:                 0 kB
"""


def test_swap_is_read_from_meminfo_as_psutil_reports_it() -> None:
    assert parse_swap(MEMINFO_WITH_SWAP) == SwapUsage(102396 * 1024, 25600 * 1024, 25.0)
    no_swap = b"MemTotal: 3884428 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"
    assert parse_swap(no_swap) == SwapUsage(0, 0, 0.0)
    assert parse_swap(b"MemTotal: 3884428 kB\n") is None


def test_swap_from_this_machine_agrees_with_psutil(tmp_path: Path) -> None:
    ours, theirs = read_swap(), psutil.swap_memory()
    assert ours.total == theirs.total
    assert abs(ours.used - theirs.used) <= max(theirs.total // 100, 1 << 20)
    # Without a readable /proc/meminfo (not Linux), psutil's reading is used.
    fallback = read_swap(tmp_path / "absent")
    assert isinstance(fallback, type(theirs)) and fallback.total == theirs.total


def test_load_per_core_and_process_count() -> None:
    msg = LoadCollector(
        read_load=lambda: (2.0, 1.0, 0.5), read_cores=lambda: 4, read_processes=lambda: 213
    ).collect(0.0)
    assert msg == LoadAverageUpdated(2.0, 1.0, 0.5, 4, 0.5, 0.25, 0.125, processes=213)


def test_processes_are_counted_only_for_a_reported_load_sample() -> None:
    load = (2.0, 1.0, 0.5)
    counts = iter(range(100, 200))
    listings: list[int] = []

    def processes() -> int:
        listings.append(next(counts))
        return listings[-1]

    collector = LoadCollector(
        read_load=lambda: load, read_cores=lambda: 4, read_processes=processes
    )
    first = collector.collect(0.0)
    assert first is not None and first.processes == 100
    assert [collector.collect(float(t)) for t in range(1, 5)] == [None] * 4
    assert listings == [100]  # unchanged averages: /proc is not listed
    load = (2.5, 1.1, 0.5)
    changed = collector.collect(5.0)
    assert changed is not None and (changed.load1, changed.processes) == (2.5, 101)
    repeated = collector.collect(65.0)  # a minute on: repeated, with a fresh count
    assert repeated is not None and repeated.processes == 102
    assert listings == [100, 101, 102]


# --- disks ------------------------------------------------------------------------------------


def test_real_filesystems_skip_pseudo_snaps_and_repeated_devices() -> None:
    mounts = [
        Mount("/dev/sda2", "/", "ext4"),
        Mount("proc", "/proc", "proc"),
        Mount("tmpfs", "/run", "tmpfs"),
        Mount("/dev/loop3", "/snap/core/123", "squashfs"),
        Mount("/dev/sda2", "/var/lib/docker/bind", "ext4"),
        Mount("/dev/sda1", "/boot/firmware", "vfat"),
        Mount("overlay", "/var/lib/docker/overlay2/x/merged", "overlay"),
        Mount("", "/mnt/nothing", "ext4"),
    ]
    assert real_filesystems(mounts) == [
        Mount("/dev/sda2", "/", "ext4"),
        Mount("/dev/sda1", "/boot/firmware", "vfat"),
    ]


def test_repeated_device_keeps_its_shortest_mountpoint() -> None:
    mounts = [Mount("/dev/sdb1", "/srv/data/bind", "xfs"), Mount("/dev/sdb1", "/srv", "xfs")]
    assert real_filesystems(mounts) == [Mount("/dev/sdb1", "/srv", "xfs")]


def test_disk_usage_per_filesystem_and_unreadable_one_is_left_out() -> None:
    def usage(mountpoint: str) -> NS:
        if mountpoint == "/mnt/stale":
            raise PermissionError(13, "Permission denied")
        return NS(total=1000, used=250, free=750, percent=25.0)

    mounts = [Mount("/dev/sda2", "/", "ext4"), Mount("/dev/sdc1", "/mnt/stale", "ext4")]
    msg = DiskCollector(read_mounts=lambda: mounts, read_usage=usage).collect(0.0)
    assert msg == DiskUsageUpdated(
        filesystems=(Filesystem("/", "/dev/sda2", "ext4", 1000, 250, 750, 25.0),)
    )


def counting_reader(mounts: list[Mount]) -> tuple[list[int], Callable[[], list[Mount]]]:
    reads: list[int] = []

    def read() -> list[Mount]:
        reads.append(1)
        return list(mounts)

    return reads, read


@pytest.mark.skipif(not Path("/proc/self/mounts").exists(), reason="Linux's mount table")
def test_the_mount_table_is_read_again_only_when_the_kernel_reports_a_change() -> None:
    reads, read = counting_reader([Mount("/dev/sda2", "/", "ext4")])
    table = MountTable(read)
    try:
        assert table() == [Mount("/dev/sda2", "/", "ext4")]
        table()
        table()
        assert len(reads) == 1  # nothing was mounted meanwhile: one read serves all
    finally:
        table.close()
    table()
    assert len(reads) == 2  # closed: back to reading on every call


def test_without_change_notification_the_mount_table_is_read_every_time() -> None:
    reads, read = counting_reader([])
    table = MountTable(read, changes=None)
    table()
    table()
    assert len(reads) == 2
    missing = MountTable(read, changes="/nonexistent/mounts")  # cannot be opened: same
    missing()
    missing()
    assert len(reads) == 4


# --- temperature ------------------------------------------------------------------------------


def test_temperature_sensors_with_known_limits() -> None:
    chips = {
        "cpu_thermal": [NS(label="", current=51.5, high=None, critical=None)],
        "coretemp": [NS(label="Core 0", current=60.0, high=82.0, critical=100.0)],
    }
    msg = TemperatureCollector(read=lambda: chips).collect(0.0)
    assert msg == TemperatureUpdated(
        available=True,
        sensors=(
            TemperatureSensor("coretemp", "Core 0", 60.0, 82.0, 100.0),
            TemperatureSensor("cpu_thermal", "", 51.5, None, None),
        ),
    )


def test_no_sensors_is_stated_never_faked() -> None:
    msg = said(TemperatureCollector(read=dict).collect(0.0))
    assert msg.available is False
    assert msg.sensors == ()
    assert msg.reason is not None
    assert "no temperature sensors" in msg.reason


def test_platform_without_sensor_support_is_stated() -> None:
    msg = said(TemperatureCollector(read=lambda: None).collect(0.0))
    assert msg.available is False
    assert msg.reason == "psutil cannot read temperatures on this platform"


def test_a_host_without_sensors_is_looked_at_again_only_after_a_while() -> None:
    reads: list[int] = []
    chips: dict[str, list[NS]] = {}

    def read() -> dict[str, list[NS]]:
        reads.append(1)
        return chips

    collector = TemperatureCollector(read=read, recheck_absent=60.0)
    first = collector.collect(100.0)
    assert collector.collect(159.0) is None  # said already: nothing new, and no read
    assert len(reads) == 1
    assert first is not None
    chips["cpu_thermal"] = [NS(label="", current=48.0, high=None, critical=None)]
    appeared = said(collector.collect(160.0))  # a sensor loaded meanwhile: found on the recheck
    assert appeared.available is True
    assert len(reads) == 2
    collector.collect(161.0)  # present sensors are read every tick
    assert len(reads) == 3


def test_unreadable_sensor_values_are_dropped() -> None:
    chips = {"acpitz": [NS(label="", current=float("nan"), high=0.0, critical=None)]}
    assert said(TemperatureCollector(read=lambda: chips).collect(0.0)).available is False


# --- network ----------------------------------------------------------------------------------


class Counters:
    """A counter table the test changes between samples."""

    def __init__(self) -> None:
        self.table: dict[str, InterfaceCounters] = {}

    def __call__(self) -> dict[str, InterfaceCounters]:
        return dict(self.table)


def test_first_sample_only_records_a_baseline() -> None:
    counters = Counters()
    counters.table = {"eth0": InterfaceCounters(100, 100)}
    assert NetworkCollector(read=counters).collect(10.0) is None


def test_rates_cover_the_time_since_the_previous_sample() -> None:
    counters = Counters()
    collector = NetworkCollector(read=counters)
    counters.table = {"eth0": InterfaceCounters(1_000, 500), "lo": InterfaceCounters(0, 0)}
    collector.collect(10.0)
    counters.table = {"eth0": InterfaceCounters(5_000, 1_500), "lo": InterfaceCounters(9, 9)}
    msg = collector.collect(12.0)
    assert msg == NetworkUsageUpdated(
        interval=2.0,
        rx_bytes_per_s=2000.0,
        tx_bytes_per_s=500.0,
        interfaces=(InterfaceThroughput("eth0", 2000.0, 500.0, 5_000, 1_500),),
    )


def test_counter_reset_gives_no_rate_and_is_left_out_of_totals() -> None:
    counters = Counters()
    collector = NetworkCollector(read=counters)
    counters.table = {"eth0": InterfaceCounters(9_000, 9_000), "wlan0": InterfaceCounters(0, 0)}
    collector.collect(0.0)
    counters.table = {"eth0": InterfaceCounters(100, 200), "wlan0": InterfaceCounters(50, 10)}
    msg = collector.collect(1.0)
    assert msg is not None
    assert msg.interfaces[0] == InterfaceThroughput("eth0", None, None, 100, 200)
    assert (msg.rx_bytes_per_s, msg.tx_bytes_per_s) == (50.0, 10.0)
    # after the reset the new counter is the baseline again
    counters.table = {"eth0": InterfaceCounters(1_100, 200), "wlan0": InterfaceCounters(50, 10)}
    msg = collector.collect(2.0)
    assert msg is not None
    assert msg.interfaces[0].rx_bytes_per_s == 1000.0


def test_loopback_can_be_included() -> None:
    counters = Counters()
    collector = NetworkCollector(read=counters, include_loopback=True)
    counters.table = {"lo": InterfaceCounters(0, 0)}
    collector.collect(0.0)
    counters.table = {"lo": InterfaceCounters(10, 10)}
    msg = collector.collect(1.0)
    assert msg is not None
    assert [i.interface for i in msg.interfaces] == ["lo"]


# --- throttling -------------------------------------------------------------------------------


M = TypeVar("M", bound=Message)


def said(msg: M | None) -> M:
    """The message a collector emitted (failing the test if it emitted nothing)."""
    assert msg is not None, "the collector emitted nothing"
    return msg


def no_vcgencmd(name: str) -> str | None:
    return None


def test_throttling_read_from_sysfs(tmp_path: Path) -> None:
    sysfs = tmp_path / "get_throttled"
    sysfs.write_text("50005\n")
    msg = ThrottlingCollector(sysfs, which=no_vcgencmd).collect(0.0)
    flags = ThrottleFlags(True, False, True, False)
    assert msg == ThrottlingUpdated(
        available=True, raw=0x50005, now=flags, since_boot=flags, source=str(sysfs)
    )


def test_throttling_falls_back_to_vcgencmd(tmp_path: Path) -> None:
    calls: list[str] = []

    def run(executable: str) -> str:
        calls.append(executable)
        return "throttled=0x80008\n"

    collector = ThrottlingCollector(
        tmp_path / "absent", which=lambda name: "/usr/bin/vcgencmd", run_vcgencmd=run
    )
    msg = said(collector.collect(0.0))
    assert calls == ["/usr/bin/vcgencmd"]
    assert (msg.available, msg.raw, msg.source) == (True, 0x80008, "vcgencmd")
    assert msg.now == ThrottleFlags(False, False, False, True)


def test_throttling_unavailable_off_a_pi_says_what_was_looked_for(tmp_path: Path) -> None:
    msg = said(ThrottlingCollector(tmp_path / "absent", which=no_vcgencmd).collect(0.0))
    assert (msg.available, msg.raw, msg.now, msg.since_boot) == (False, None, None, None)
    assert msg.reason is not None
    assert "absent does not exist" in msg.reason
    assert "vcgencmd is not on PATH" in msg.reason


def test_off_a_pi_throttling_is_looked_for_again_only_after_a_while(tmp_path: Path) -> None:
    looked: list[str] = []

    def which(name: str) -> str | None:
        looked.append(name)
        return None

    sysfs = tmp_path / "get_throttled"
    collector = ThrottlingCollector(sysfs, which=which, recheck_absent=60.0)
    first = collector.collect(10.0)
    assert first is not None and first.available is False
    assert collector.collect(69.0) is None  # said already, and not looked for again
    assert looked == ["vcgencmd"]
    sysfs.write_text("0x0\n")  # the firmware file appears (a driver loaded late)
    appeared = collector.collect(70.0)
    assert appeared is not None and appeared.available is True


def test_a_failing_source_is_tried_again_next_tick(tmp_path: Path) -> None:
    outcomes: list[str | Exception] = [subprocess.TimeoutExpired(["vcgencmd"], 5), "0x0\n"]

    def run(executable: str) -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    collector = ThrottlingCollector(
        tmp_path / "absent", which=lambda name: "/usr/bin/vcgencmd", run_vcgencmd=run
    )
    assert said(collector.collect(0.0)).available is False
    assert said(collector.collect(1.0)).available is True  # not held back for a minute


def test_failing_vcgencmd_is_reported_as_the_reason(tmp_path: Path) -> None:
    def run(executable: str) -> str:
        raise subprocess.TimeoutExpired([executable, "get_throttled"], 5)

    collector = ThrottlingCollector(
        tmp_path / "absent", which=lambda name: "/usr/bin/vcgencmd", run_vcgencmd=run
    )
    msg = said(collector.collect(0.0))
    assert msg.available is False
    assert msg.reason is not None
    assert "timed out" in msg.reason


def test_corrupt_sysfs_value_falls_back_and_is_named(tmp_path: Path) -> None:
    sysfs = tmp_path / "get_throttled"
    sysfs.write_text("garbage")
    msg = said(ThrottlingCollector(sysfs, which=no_vcgencmd).collect(0.0))
    assert msg.available is False
    assert msg.reason is not None
    assert "'garbage'" in msg.reason


# --- fans -------------------------------------------------------------------------------------


def test_fans_are_reported_every_tick() -> None:
    chips = {"pwmfan": [NS(label="", current=2950)], "thinkpad": [NS(label="fan1", current=0)]}
    collector = FanCollector(lambda: chips)
    expected = FanSpeedUpdated(
        available=True, fans=(Fan("pwmfan", "", 2950), Fan("thinkpad", "fan1", 0))
    )
    assert [collector.collect(t) for t in (0.0, 1.0)] == [expected, expected]


def test_no_fans_is_stated_on_change_and_every_ten_minutes() -> None:
    reads: list[float] = []
    chips: dict[str, list[NS]] = {}

    def read() -> dict[str, list[NS]]:
        reads.append(0.0)
        return chips

    collector = FanCollector(read, recheck_absent=60.0, repeat_unavailable=600.0)
    first = collector.collect(0.0)
    assert first is not None and not first.available and first.reason
    assert [collector.collect(t) for t in (1.0, 59.0, 60.0, 599.0)] == [None] * 4
    assert len(reads) == 3  # looked again at 60 s and 599 s, not every tick
    assert collector.collect(600.0) == first
    chips["pwmfan"] = [NS(label="", current=1200)]
    assert collector.collect(630.0) is None  # not looked for until 659 s
    found = collector.collect(660.0)
    assert found == FanSpeedUpdated(available=True, fans=(Fan("pwmfan", "", 1200),))
    chips.clear()
    assert collector.collect(661.0) == first  # the loss is news at once


def test_platform_without_fan_support_is_stated() -> None:
    msg = FanCollector(lambda: None).collect(0.0)
    assert msg is not None and not msg.available
    assert msg.reason == "psutil cannot read fans on this platform"


# --- the real host ----------------------------------------------------------------------------


def test_real_collectors_report_plausible_values() -> None:
    collectors = default_collectors()
    assert all(isinstance(c, Collector) for c in collectors)
    assert len({c.name for c in collectors}) == len(collectors)
    by_type = {}
    for now in (0.0, 0.5):  # the second round gives the network collector an interval
        if now:
            time.sleep(0.2)  # let the kernel account some CPU time: rates need real time
        for collector in collectors:
            msg = collector.collect(now)
            if msg is not None:
                by_type[type(msg)] = msg

    cpu = by_type[CpuUsageUpdated]
    assert isinstance(cpu, CpuUsageUpdated)
    for value in (cpu.user, cpu.system, cpu.iowait, cpu.idle, cpu.busy):
        assert 0.0 <= value <= 100.0
    assert len(cpu.cores) >= 1

    mem = by_type[MemoryUsageUpdated]
    assert isinstance(mem, MemoryUsageUpdated)
    assert 0 < mem.available <= mem.total
    assert 0.0 <= mem.percent <= 100.0

    disks = by_type[DiskUsageUpdated]
    assert isinstance(disks, DiskUsageUpdated)
    assert len(disks.filesystems) >= 1
    for fs in disks.filesystems:
        assert fs.fstype not in {"tmpfs", "proc", "squashfs", "overlay"}
        assert fs.total > 0
        assert 0.0 <= fs.percent <= 100.0
    assert len({fs.device for fs in disks.filesystems}) == len(disks.filesystems)

    load = by_type[LoadAverageUpdated]
    assert isinstance(load, LoadAverageUpdated)
    assert load.cores >= 1
    assert load.load1 >= 0.0
    assert math.isclose(load.load1_per_core, load.load1 / load.cores, abs_tol=0.001)
    assert load.processes is not None and load.processes >= 1

    temp = by_type[TemperatureUpdated]
    assert isinstance(temp, TemperatureUpdated)
    assert temp.available == bool(temp.sensors)
    assert temp.available or temp.reason

    net = by_type[NetworkUsageUpdated]
    assert isinstance(net, NetworkUsageUpdated)
    assert net.interval == pytest.approx(0.5)
    assert "lo" not in {i.interface for i in net.interfaces}
    for iface in net.interfaces:
        assert iface.rx_bytes_per_s is None or iface.rx_bytes_per_s >= 0.0
        assert iface.tx_bytes_per_s is None or iface.tx_bytes_per_s >= 0.0

    throttling = by_type[ThrottlingUpdated]
    assert isinstance(throttling, ThrottlingUpdated)
    assert throttling.available == (throttling.raw is not None)
    assert throttling.available or throttling.reason


# --- "unavailable" cadence -----------------------------------------------------------------


def test_unavailable_temperature_is_said_on_change_and_every_ten_minutes() -> None:
    chips: dict[str, list[NS]] | None = {}
    collector = TemperatureCollector(read=lambda: chips)
    said = {t: collector.collect(float(t)) for t in range(1801)}
    emitted = [t for t, msg in said.items() if msg is not None]
    assert emitted == [0, 600, 1200, 1800]
    chips = None  # another reason: said at once
    changed = collector.collect(1801.0)
    assert changed is None  # the remembered absence holds for a minute: no look, no change
    changed = collector.collect(1860.0)
    assert changed is not None and "psutil cannot read" in (changed.reason or "")


def test_a_reading_is_emitted_every_tick_and_unavailable_again_at_once() -> None:
    chips: dict[str, list[NS]] = {
        "cpu_thermal": [NS(label="", current=48.0, high=None, critical=None)]
    }
    collector = TemperatureCollector(read=lambda: chips, recheck_absent=0.0)
    assert all(collector.collect(float(t)) is not None for t in range(5))
    bad = {"cpu_thermal": [NS(label="", current=float("nan"), high=None, critical=None)]}
    chips = bad  # present but unreadable
    lost = collector.collect(5.0)
    assert lost is not None and lost.available is False
    assert collector.collect(6.0) is None
    chips = {"cpu_thermal": [NS(label="", current=49.0, high=None, critical=None)]}
    back = collector.collect(7.0)
    assert back is not None and back.available is True
    chips = bad
    again = collector.collect(8.0)  # unavailable after a reading: a change, said at once
    assert again is not None and again.available is False


def test_unavailable_throttling_is_said_every_ten_minutes_off_a_pi(tmp_path: Path) -> None:
    collector = ThrottlingCollector(tmp_path / "absent", which=no_vcgencmd)
    emitted = [t for t in range(3600) if collector.collect(float(t)) is not None]
    assert emitted == [0, 600, 1200, 1800, 2400, 3000]


def test_a_clock_stepping_back_says_unavailable_again_rather_than_never(tmp_path: Path) -> None:
    collector = ThrottlingCollector(tmp_path / "absent", which=no_vcgencmd, recheck_absent=0.0)
    assert collector.collect(1000.0) is not None
    assert collector.collect(10.0) is not None  # "now" before the last emission
    assert collector.collect(11.0) is None


def test_repeat_unavailable_zero_says_it_every_tick(tmp_path: Path) -> None:
    collector = ThrottlingCollector(tmp_path / "absent", which=no_vcgencmd, repeat_unavailable=0)
    assert all(collector.collect(float(t)) is not None for t in range(3))


def test_load_is_reported_on_change_and_every_minute() -> None:
    from bussdcc_system_health.collectors import LoadCollector

    reading = [(0.5, 0.4, 0.3)]
    collector = LoadCollector(read_load=lambda: reading[0], read_cores=lambda: 3)
    first = collector.collect(0.0)
    assert first is not None and first.load1_per_core == 0.167  # rounded, no float noise
    assert collector.collect(1.0) is None  # Linux has not recomputed it yet
    reading[0] = (0.6, 0.4, 0.3)
    changed = collector.collect(5.0)
    assert changed is not None and changed.load1 == 0.6
    assert collector.collect(64.9) is None
    assert collector.collect(65.0) is not None  # a minute since the last report


def test_disk_is_reported_on_a_meaningful_change_a_mount_change_and_every_minute() -> None:
    from types import SimpleNamespace

    from bussdcc_system_health.collectors import DiskCollector
    from bussdcc_system_health.telemetry.filesystems import Mount

    total = 1_000_000_000
    used = [400_000_000]
    mounts = [Mount("/dev/sda1", "/", "ext4")]

    def usage(mountpoint: str) -> Any:
        return SimpleNamespace(
            total=total, used=used[0], free=total - used[0], percent=used[0] / total * 100
        )

    collector = DiskCollector(read_mounts=lambda: list(mounts), read_usage=usage)
    assert collector.collect(0.0) is not None
    used[0] += 999_999  # below a thousandth of the size
    assert collector.collect(1.0) is None
    used[0] += 1  # now a thousandth since the last report
    assert collector.collect(2.0) is not None
    mounts.append(Mount("/dev/sdb1", "/data", "ext4"))
    report = collector.collect(3.0)
    assert report is not None and len(report.filesystems) == 2
    assert collector.collect(62.9) is None
    assert collector.collect(63.0) is not None
