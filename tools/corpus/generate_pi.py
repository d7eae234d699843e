"""Generates the Raspberry Pi corpus session (tests/corpus/raspberry-pi.jsonl), deterministically.

    python tools/corpus/generate_pi.py --seed 2025

No Pi is at hand, so this drives the app's own `SystemService` and collectors with simulated
readings (each collector's reader is replaced; parsing, decoding and rate computation are the
app's) on a kernel `ManualClock`, recording through a framework `JsonlSink` exactly as the live
app records. The simulated Pi 4 (4 cores, 4 GB, SD card, eth0 + wlan0) runs idle, then a
three-core workload that heats it from about 45 °C to about 82 °C before it cools again,
writing its build output to the SD card. It has no fan, and an SD card reports no wear, so
the session has no storage-wear readings.
Its `get_throttled` value follows the firmware's sequence for a weak power supply and a hot
SoC: 0x0, then 0x50005 (under-voltage and throttled, now and since boot), 0x50000 (cleared,
but occurred since boot), 0x80008 (soft temperature limit now) and 0x80000 (occurred).

Same seed and same code give byte-identical output: the start time is fixed, every random
draw comes from a generator seeded by (seed, tick, reading), and services are started and
stopped one at a time so no two threads ever race to emit.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from bussdcc.clock import ManualClock
from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource
from bussdcc_framework.message import SystemIdentityEvent
from bussdcc_framework.runtime import Runtime
from bussdcc_framework.service import SystemIdentityService
from bussdcc_system_health.collectors import (
    Collector,
    CpuCollector,
    DiskCollector,
    DiskIoCollector,
    FanCollector,
    LoadCollector,
    MemoryCollector,
    NetworkCollector,
    TemperatureCollector,
    ThrottlingCollector,
)
from bussdcc_system_health.processes import HealthProcess, SystemProcess
from bussdcc_system_health.service import SystemService
from bussdcc_system_health.telemetry.filesystems import Mount
from bussdcc_system_health.telemetry.rates import DiskCounters, InterfaceCounters

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPOSITORY_ROOT / "tests" / "corpus"
MANIFEST_SCRIPT = Path(__file__).resolve().parent / "manifest.py"
SCENARIO = "raspberry-pi"

START = datetime(2025, 7, 14, 13, 5, 0, tzinfo=UTC)
"""When the simulated session begins (a summer afternoon: the Pi has no fan)."""

DEFAULT_SEED = 2025
SECONDS = 180
INTERVAL = 2.0
CORES = 4

# The three-core workload (a compile, say) runs between these times (seconds from START).
WORK_START, WORK_END = 24.0, 132.0
# Under-voltage: the workload's current draw sags a marginal supply.
UNDER_VOLTAGE_START, UNDER_VOLTAGE_END = 36.0, 72.0
SOFT_LIMIT_CELSIUS = 80.0
"""A Pi 4's firmware applies its soft temperature limit from 80 °C."""

IDLE_CELSIUS, HOT_CELSIUS = 45.0, 86.0  # HOT is the asymptote the SoC heads for under load
HEATING_TAU, COOLING_TAU = 45.0, 40.0  # seconds

MEMORY_TOTAL = 3_978_584_064
SWAP_TOTAL = 104_853_504
ROOT_TOTAL, BOOT_TOTAL = 31_042_514_944, 535_805_952

IDENTITY = SystemIdentityEvent(
    hostname="pi-greenhouse-07",
    model="Raspberry Pi 4 Model B Rev 1.4",
    serial="10000000b7e2a94c",
    serial_source="cpuinfo",
    os="Debian GNU/Linux 12 (bookworm)",
    kernel="6.6.51+rpt-rpi-v8",
    architecture="aarch64",
    python="3.11.2",
    boot_time=START - timedelta(hours=2, minutes=13, seconds=41),
)


def _celsius(t: float) -> float:
    """The simulated SoC temperature ``t`` seconds into the session (no sensor noise)."""
    warm = IDLE_CELSIUS + 0.02 * min(t, WORK_START)  # idle drift before the workload
    if t < WORK_START:
        return warm
    if t < WORK_END:
        return HOT_CELSIUS - (HOT_CELSIUS - warm) * math.exp(-(t - WORK_START) / HEATING_TAU)
    peak = _celsius(WORK_END - 1e-9)
    return IDLE_CELSIUS + (peak - IDLE_CELSIUS) * math.exp(-(t - WORK_END) / COOLING_TAU)


FIRST_HOT = next(
    (
        t / 10
        for t in range(int(UNDER_VOLTAGE_END * 10), SECONDS * 10 + 1)
        if _celsius(t / 10) >= SOFT_LIMIT_CELSIUS
    ),
    math.inf,
)
"""When the SoC first reaches the soft limit; from then on bit 19 (occurred) stays set."""


class SimulatedPi:
    """Readings of a Raspberry Pi 4 at the clock's current time.

    Deterministic for a seed and a sequence of sample times: counters (CPU time, network
    bytes, load averages) accumulate between samples, every random draw is seeded by
    (seed, time, reading).
    """

    def __init__(self, clock: ManualClock, seed: int) -> None:
        self.clock = clock
        self.seed = seed
        self._load = (0.08, 0.12, 0.10)
        self._load_time = 0.0
        self._counters = {
            "eth0": [1_843_220_113, 402_117_934],
            "lo": [88_410_232, 88_410_232],
            "wlan0": [12_774_310, 3_118_004],
        }
        self._counters_time = 0.0
        # mmcblk0p2 (root), mmcblk0p1 (boot): read bytes, written bytes, reads, writes, busy ms
        self._disks = {
            "mmcblk0p1": [21_430_272, 1_048_576, 412, 9, 1_880],
            "mmcblk0p2": [611_225_600, 208_470_016, 18_604, 21_377, 402_115],
        }
        self._disks_time = 0.0
        uptime = (START - IDENTITY.boot_time).total_seconds() if IDENTITY.boot_time else 0.0
        self._cpu = [
            {
                "user": round(uptime * 0.031, 2),
                "nice": 0.0,
                "system": round(uptime * 0.009, 2),
                "idle": round(uptime * 0.958, 2),
                "iowait": round(uptime * 0.002, 2),
                "irq": 0.0,
                "softirq": round(uptime * 0.0004, 2),
            }
            for _ in range(CORES)
        ]
        self._cpu_time = 0.0

    # -- the scenario over time --------------------------------------------------------------

    @property
    def t(self) -> float:
        return self.clock.monotonic()

    def rng(self, what: str) -> random.Random:
        """A generator for one reading at this instant: independent of call order."""
        return random.Random(f"{self.seed}:{self.t:.3f}:{what}")

    def working(self) -> bool:
        return WORK_START <= self.t < WORK_END

    def celsius(self) -> float:
        """The SoC temperature without sensor noise."""
        return _celsius(self.t)

    def throttled(self) -> int:
        """The firmware's get_throttled bits at this instant."""
        t = self.t
        if t < UNDER_VOLTAGE_START:
            return 0x0
        if t < UNDER_VOLTAGE_END:
            return 0x50005
        if t < FIRST_HOT:
            return 0x50000
        return 0x80008 if self.celsius() >= SOFT_LIMIT_CELSIUS else 0x80000

    # -- readers the app's collectors call ----------------------------------------------------

    def read_cpu(self) -> tuple[dict[str, float], list[dict[str, float]]]:
        # Cumulative seconds per CPU state, as psutil.cpu_times reads /proc/stat (1/100 s).
        elapsed = self.t - self._cpu_time
        self._cpu_time = self.t
        rng = self.rng("cpu")
        for core, times in enumerate(self._cpu):
            pegged = self.working() and core < 3
            busy = rng.uniform(0.965, 1.0) if pegged else rng.uniform(0.02, 0.09)
            iowait = rng.uniform(0.0, 0.006)
            user = busy * rng.uniform(0.82, 0.9)
            spent = {
                "user": user,
                "system": busy - user,
                "iowait": iowait,
                "idle": max(0.0, 1.0 - busy - iowait),
            }
            for state, share in spent.items():
                times[state] = round(times[state] + share * elapsed, 2)
        total = {state: round(sum(c[state] for c in self._cpu), 2) for state in self._cpu[0]}
        return total, [dict(c) for c in self._cpu]

    def read_memory(self) -> SimpleNamespace:
        rng = self.rng("memory")
        used = (1_310_000_000 if self.working() else 540_000_000) + rng.randrange(0, 24_000_000)
        buffers_cached = 1_120_000_000 + rng.randrange(0, 8_000_000)
        available = MEMORY_TOTAL - used
        free = MEMORY_TOTAL - used - buffers_cached
        return SimpleNamespace(
            total=MEMORY_TOTAL,
            available=available,
            used=used,
            free=free,
            percent=round((MEMORY_TOTAL - available) / MEMORY_TOTAL * 100, 1),
        )

    def read_swap(self) -> SimpleNamespace:
        return SimpleNamespace(total=SWAP_TOTAL, used=0, free=SWAP_TOTAL, percent=0.0)

    def read_mounts(self) -> list[Mount]:
        return [
            Mount("/dev/mmcblk0p2", "/", "ext4"),
            Mount("proc", "/proc", "proc"),
            Mount("sysfs", "/sys", "sysfs"),
            Mount("tmpfs", "/run", "tmpfs"),
            Mount("/dev/mmcblk0p1", "/boot/firmware", "vfat"),
        ]

    def read_usage(self, mountpoint: str) -> SimpleNamespace:
        if mountpoint == "/boot/firmware":
            total, used, reserved = BOOT_TOTAL, 66_617_344, 0
        else:
            # The workload writes build output: the root filesystem fills a little.
            total, reserved = ROOT_TOTAL, ROOT_TOTAL // 20
            written = max(0.0, min(self.t, WORK_END) - WORK_START) * 1_450_000
            used = 9_113_960_448 + int(written)
        free = total - used - reserved
        percent = round(used / (used + free) * 100, 1)
        return SimpleNamespace(total=total, used=used, free=free, percent=percent)

    def read_load(self) -> tuple[float, float, float]:
        # Linux's exponentially damped averages, in its 11-bit fixed point.
        elapsed = self.t - self._load_time
        self._load_time = self.t
        runnable = (3.0 if self.working() else 0.0) + self.rng("load").uniform(0.0, 0.3)
        averaged = []
        for value, period in zip(self._load, (60.0, 300.0, 900.0), strict=True):
            decay = math.exp(-elapsed / period)
            averaged.append(round((value * decay + runnable * (1 - decay)) * 2048) / 2048)
        self._load = (averaged[0], averaged[1], averaged[2])
        return self._load

    def read_cores(self) -> int:
        return CORES

    def read_processes(self) -> int:
        # The build forks compilers: a few dozen more processes while it runs.
        return 158 + (34 if self.working() else 0) + self.rng("processes").randrange(0, 3)

    def read_disks(self) -> dict[str, DiskCounters]:
        elapsed = self.t - self._disks_time
        self._disks_time = self.t
        rng = self.rng("disks")
        if self.working():  # build output (as the root filesystem fills) and some reads
            read, written, busy = rng.uniform(80_000, 400_000), 1_450_000.0, rng.uniform(0.35, 0.6)
        else:  # journald and the app's own history
            read, written, busy = 0.0, rng.uniform(4_000, 12_000), rng.uniform(0.004, 0.02)
        root = self._disks["mmcblk0p2"]
        root[0] += int(read * elapsed) // 4096 * 4096
        root[1] += int(written * elapsed) // 4096 * 4096
        root[2] += int(read * elapsed) // 65_536
        root[3] += int(written * elapsed) // 131_072 + (1 if written else 0)
        root[4] += int(busy * elapsed * 1000)
        parts = {name: DiskCounters(*values) for name, values in self._disks.items()}
        # the whole card counts what its partitions do
        card = DiskCounters(*(sum(column) for column in zip(*self._disks.values(), strict=True)))
        return {**parts, "mmcblk0": card, "ram0": DiskCounters(0, 0, 0, 0, 0)}

    @staticmethod
    def sysfs(root: Path) -> Path:
        """A /sys/block and /sys/dev/block as the Pi has them, for choosing the devices."""
        sysfs = root / "sys"
        for path in ("block/mmcblk0/mmcblk0p1", "block/mmcblk0/mmcblk0p2", "block/ram0"):
            (sysfs / path).mkdir(parents=True)
        (sysfs / "dev" / "block").mkdir(parents=True)
        for minor in (1, 2):
            (sysfs / "dev" / "block" / f"179:{minor}").symlink_to(
                f"../../block/mmcblk0/mmcblk0p{minor}"
            )
        return sysfs

    @staticmethod
    def stat(path: str) -> SimpleNamespace:
        minors = {"/": 2, "/boot/firmware": 1}
        if path not in minors:
            raise FileNotFoundError(path)
        return SimpleNamespace(st_dev=os.makedev(179, minors[path]))

    def read_sensors(self) -> Mapping[str, Sequence[SimpleNamespace]]:
        # The Pi's thermal zone reports millidegrees; it has no high/critical trip in hwmon.
        reading = round(self.celsius() + self.rng("temperature").uniform(-0.2, 0.2), 3)
        return {
            "cpu_thermal": [SimpleNamespace(label="", current=reading, high=None, critical=None)]
        }

    def read_interfaces(self) -> dict[str, InterfaceCounters]:
        elapsed = self.t - self._counters_time
        self._counters_time = self.t
        rng = self.rng("network")
        rates = {
            # eth0: a camera upload while working, telemetry otherwise (bytes/s rx, tx)
            "eth0": (
                (rng.uniform(18_000, 26_000), rng.uniform(380_000, 520_000))
                if self.working()
                else (rng.uniform(1_200, 2_400), rng.uniform(900, 1_800))
            ),
            "lo": (rng.uniform(100, 400),) * 2,
            "wlan0": (rng.uniform(60, 300), rng.uniform(20, 120)),
        }
        for name, (rx, tx) in rates.items():
            self._counters[name][0] += int(rx * elapsed)
            self._counters[name][1] += int(tx * elapsed)
        return {name: InterfaceCounters(rx, tx) for name, (rx, tx) in self._counters.items()}

    def vcgencmd(self, executable: str) -> str:
        return f"throttled=0x{self.throttled():x}\n"

    def collectors(self, missing: Path, scratch: Path) -> tuple[Collector, ...]:
        """The app's collectors, reading this simulation instead of the host."""
        return (
            CpuCollector(self.read_cpu),
            MemoryCollector(self.read_memory, self.read_swap),
            DiskCollector(self.read_mounts, self.read_usage),
            DiskIoCollector(
                self.read_disks,
                read_mounts=self.read_mounts,
                sysfs=self.sysfs(scratch),
                stat=self.stat,
            ),
            LoadCollector(self.read_load, self.read_cores, self.read_processes),
            TemperatureCollector(self.read_sensors),
            FanCollector(dict),  # no fan: the Pi 4 runs passively cooled
            NetworkCollector(self.read_interfaces),
            ThrottlingCollector(
                missing,  # no sysfs file: the collector falls back to vcgencmd, as on Pi OS 11
                which=lambda name: "/usr/bin/vcgencmd",
                run_vcgencmd=self.vcgencmd,
            ),
        )


def generate(destination: Path, seed: int = DEFAULT_SEED) -> int:
    """Write the session to ``destination`` (replacing it); return the number of events.

    Raises:
        RuntimeError: if a service does not settle on the manual clock, or the output holds a
            line the framework cannot read back.
    """
    clock = ManualClock(start=START)
    pi = SimulatedPi(clock, seed)
    with tempfile.TemporaryDirectory(prefix="corpus-pi-") as scratch:
        root = Path(scratch)
        rt = Runtime(clock=clock)
        rt.add_sink(JsonlSink(root / "history", interval=86_400))
        rt.add_process(SystemProcess())
        rt.add_process(HealthProcess())
        rt.boot()
        try:
            # Services start one at a time, each settling (asleep on the clock) before the
            # next, so the event order never depends on thread scheduling.
            identity = SystemIdentityService(root / "no-such-root")
            identity.identity = IDENTITY  # what it would have read on the Pi
            rt.add_service(identity)
            _settle(clock, 1)
            rt.add_service(
                SystemService(pi.collectors(root / "no-get_throttled", root), interval=INTERVAL)
            )
            _settle(clock, 2)
            for _ in range(int(SECONDS / INTERVAL)):
                clock.advance(INTERVAL)
            for name in ("system", "identity"):
                rt.services.stop(name)
        finally:
            rt.shutdown("session complete")
        check = JsonlSource(root / "history")
        count = sum(1 for _ in check)
        if check.skipped:
            raise RuntimeError(f"generated unreadable lines: {check.problems[:3]}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_suffix(".jsonl.partial")
        with open(partial, "wb") as out:
            for segment in check.files():
                with open(segment, "rb") as part:
                    shutil.copyfileobj(part, out)
        os.replace(partial, destination)
    return count


def _settle(clock: ManualClock, sleepers: int) -> None:
    if not clock.wait_for_sleepers(sleepers, timeout=30):
        raise RuntimeError(
            f"expected {sleepers} service(s) asleep on the clock; they did not settle"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="default %(default)s")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus directory")
    parser.add_argument("--no-manifest", action="store_true", help="skip writing the manifest")
    args = parser.parse_args(argv)
    destination = args.out / f"{SCENARIO}.jsonl"
    count = generate(destination, args.seed)
    print(f"{destination}: {count} events, {destination.stat().st_size} bytes", flush=True)
    if args.no_manifest:
        return 0
    made_by = f"python tools/corpus/generate_pi.py --seed {args.seed}"
    command = [sys.executable, str(MANIFEST_SCRIPT), str(destination), "--made-by", made_by]
    command += ["--note", "simulated Raspberry Pi 4 (no Pi at hand): app collectors, fake readers"]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
