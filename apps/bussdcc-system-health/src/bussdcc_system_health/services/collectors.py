"""Telemetry collectors: the I/O edge that reads psutil, sysfs and vcgencmd and builds messages.

A collector has a ``name`` and ``collect(now)``, where ``now`` is the monotonic time of the
sample in seconds (the service passes its clock's, so tests control it). It returns one
message, or None when it has nothing to report yet, and raises when it cannot read at all.
Each collector takes its reader as a parameter so tests can feed it fixed readings.
"""

from __future__ import annotations

import math
import select
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Generic, Protocol, TypeVar, runtime_checkable

import psutil

from bussdcc.message import Message

from ..message import (
    CoreUsage,
    CpuUsageUpdated,
    DiskUsageUpdated,
    Filesystem,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottlingUpdated,
)
from ..telemetry.cpu import cpu_shares
from ..telemetry.filesystems import Mount, real_filesystems
from ..telemetry.rates import InterfaceCounters, interface_throughput
from ..telemetry.throttling import decode_throttled, parse_throttled

__all__ = [
    "GET_THROTTLED_SYSFS",
    "RECHECK_ABSENT",
    "Collector",
    "CpuCollector",
    "CpuTimes",
    "DiskCollector",
    "LoadCollector",
    "MemoryCollector",
    "MountTable",
    "NetworkCollector",
    "TemperatureCollector",
    "ThrottlingCollector",
    "default_collectors",
]

M = TypeVar("M", bound=Message)

GET_THROTTLED_SYSFS = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
"""Where Raspberry Pi OS kernels expose the firmware's throttle bits (hexadecimal)."""

RECHECK_ABSENT = 60.0
"""Seconds a collector that found nothing to read (no sensors, not a Pi) waits before looking
again. Looking means globbing sysfs and searching PATH: on a host that has none, doing so
every tick is most of what the collector costs. Hardware that appears later (a module
loaded, a sensor plugged in) is reported within this time."""


class _Absence(Generic[M]):
    """The "nothing to read here" message of a collector, repeated for ``recheck`` seconds."""

    def __init__(self, recheck: float) -> None:
        self.recheck = recheck
        self._noted: tuple[float, M] | None = None
        """When the hardware was last found missing, and the message saying so."""

    def recent(self, now: float) -> M | None:
        """The remembered message while it is fresh, else None (look again)."""
        if self._noted is not None and now - self._noted[0] < self.recheck:
            return self._noted[1]
        return None

    def note(self, now: float, msg: M, absent: bool) -> M:
        """Remember ``msg`` if the hardware is ``absent`` (else forget); return ``msg``."""
        self._noted = (now, msg) if absent else None
        return msg


@runtime_checkable
class Collector(Protocol):
    """Reads one category of telemetry."""

    name: str

    def collect(self, now: float) -> Message | None:
        """One sample taken at monotonic time ``now``; None when there is nothing to report."""
        ...


CpuTimes = Mapping[str, float]
"""Cumulative seconds per CPU state, as the fields of `psutil.cpu_times`."""


def _cpu_times() -> tuple[CpuTimes, list[CpuTimes]]:
    return (
        psutil.cpu_times()._asdict(),
        [core._asdict() for core in psutil.cpu_times(percpu=True)],
    )


class CpuCollector:
    """CPU time shares since the previous sample, whole machine and per core.

    Differences the cumulative CPU time counters itself (see `cpu_shares`) rather than use
    psutil's ``cpu_times_percent(interval=None)``, whose "previous call" is one global
    shared by every caller in the process. The first sample only records the counters and
    reports nothing (None), as does a sample taken before any CPU time has passed. A core
    whose share cannot be computed is left out of ``cores``.
    """

    name = "cpu"

    def __init__(
        self, read: Callable[[], tuple[CpuTimes, Sequence[CpuTimes]]] = _cpu_times
    ) -> None:
        self._read = read
        self._previous: tuple[CpuTimes, Sequence[CpuTimes]] | None = None

    def collect(self, now: float) -> CpuUsageUpdated | None:
        current = self._read()
        previous, self._previous = self._previous, current
        if previous is None:
            return None
        total = cpu_shares(previous[0], current[0])
        if total is None:
            return None
        cores = []
        for index, (before, after) in enumerate(zip(previous[1], current[1], strict=False)):
            shares = cpu_shares(before, after)
            if shares is not None:
                cores.append(
                    CoreUsage(
                        index, shares.user, shares.system, shares.iowait, shares.idle, shares.busy
                    )
                )
        return CpuUsageUpdated(
            user=total.user,
            system=total.system,
            iowait=total.iowait,
            idle=total.idle,
            busy=total.busy,
            cores=tuple(cores),
        )


class MemoryCollector:
    """RAM and swap usage."""

    name = "memory"

    def __init__(
        self,
        read_memory: Callable[[], Any] = psutil.virtual_memory,
        read_swap: Callable[[], Any] = psutil.swap_memory,
    ) -> None:
        self._read_memory = read_memory
        self._read_swap = read_swap

    def collect(self, now: float) -> MemoryUsageUpdated:
        memory, swap = self._read_memory(), self._read_swap()
        return MemoryUsageUpdated(
            total=int(memory.total),
            available=int(memory.available),
            used=int(memory.used),
            percent=float(memory.percent),
            swap_total=int(swap.total),
            swap_used=int(swap.used),
            swap_percent=float(swap.percent),
        )


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


def _logical_cpus() -> int:
    return psutil.cpu_count(logical=True) or 1


class LoadCollector:
    """1/5/15-minute load averages, whole and per logical CPU."""

    name = "load"

    def __init__(
        self,
        read_load: Callable[[], tuple[float, float, float]] = psutil.getloadavg,
        read_cores: Callable[[], int] = _logical_cpus,
    ) -> None:
        self._read_load = read_load
        self._read_cores = read_cores

    def collect(self, now: float) -> LoadAverageUpdated:
        load1, load5, load15 = self._read_load()
        cores = max(1, int(self._read_cores()))
        return LoadAverageUpdated(
            load1=float(load1),
            load5=float(load5),
            load15=float(load15),
            cores=cores,
            load1_per_core=load1 / cores,
            load5_per_core=load5 / cores,
            load15_per_core=load15 / cores,
        )


def _sensors() -> Mapping[str, Sequence[Any]] | None:
    read = getattr(psutil, "sensors_temperatures", None)
    return None if read is None else read()


def _limit(value: Any) -> float | None:
    # psutil reports an absent limit as None; some drivers report 0 or nonsense instead.
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


class TemperatureCollector:
    """Every temperature sensor psutil can read (hwmon, thermal zones).

    With no sensors the message says so (``available=False`` and a reason), never a number;
    the next ``recheck_absent`` seconds repeat that message without looking again.
    """

    name = "temperature"

    def __init__(
        self,
        read: Callable[[], Mapping[str, Sequence[Any]] | None] = _sensors,
        *,
        recheck_absent: float = RECHECK_ABSENT,
    ) -> None:
        self._read = read
        self._absence: _Absence[TemperatureUpdated] = _Absence(recheck_absent)

    def collect(self, now: float) -> TemperatureUpdated:
        remembered = self._absence.recent(now)
        if remembered is not None:
            return remembered
        chips = self._read()
        # Only "nothing there" is remembered: a sensor that exists but read badly is read
        # again next tick.
        return self._absence.note(now, self._message(chips), absent=not chips)

    @staticmethod
    def _message(chips: Mapping[str, Sequence[Any]] | None) -> TemperatureUpdated:
        if chips is None:
            return TemperatureUpdated(
                available=False, reason="psutil cannot read temperatures on this platform"
            )
        sensors = tuple(
            TemperatureSensor(
                name=chip,
                label=reading.label or "",
                current=float(reading.current),
                high=_limit(reading.high),
                critical=_limit(reading.critical),
            )
            for chip, readings in sorted(chips.items())
            for reading in readings
            if reading.current is not None and math.isfinite(reading.current)
        )
        if not sensors:
            return TemperatureUpdated(
                available=False,
                reason="no temperature sensors found (nothing readable in /sys/class/hwmon "
                "or /sys/class/thermal)",
            )
        return TemperatureUpdated(available=True, sensors=sensors)


def _interface_counters() -> dict[str, InterfaceCounters]:
    # nowrap=True (the default, stated for the reader): psutil folds a counter that restarts
    # from zero into an ever-increasing total, so a reset yields the bytes counted since.
    counters = psutil.net_io_counters(pernic=True, nowrap=True)
    return {name: InterfaceCounters(c.bytes_recv, c.bytes_sent) for name, c in counters.items()}


class NetworkCollector:
    """Receive and transmit rates per interface, from byte counters differenced between ticks.

    The first sample only records the counters and reports nothing (None): a rate needs an
    interval. Afterwards each sample covers the time since the previous one. Counters that
    go backwards give no rate for that interval (see `counter_rate`). Loopback is left out
    unless ``include_loopback``.
    """

    name = "network"

    def __init__(
        self,
        read: Callable[[], Mapping[str, InterfaceCounters]] = _interface_counters,
        *,
        include_loopback: bool = False,
    ) -> None:
        self._read = read
        self._include_loopback = include_loopback
        self._previous: Mapping[str, InterfaceCounters] | None = None
        self._previous_time = 0.0

    def collect(self, now: float) -> NetworkUsageUpdated | None:
        current = {
            name: counters
            for name, counters in self._read().items()
            if self._include_loopback or name != "lo"
        }
        previous, elapsed = self._previous, now - self._previous_time
        self._previous, self._previous_time = current, now
        if previous is None or elapsed <= 0:
            return None
        interfaces = interface_throughput(previous, current, elapsed)
        return NetworkUsageUpdated(
            interval=elapsed,
            rx_bytes_per_s=sum(i.rx_bytes_per_s or 0.0 for i in interfaces),
            tx_bytes_per_s=sum(i.tx_bytes_per_s or 0.0 for i in interfaces),
            interfaces=interfaces,
        )


def _run_vcgencmd(executable: str) -> str:
    result = subprocess.run(
        [executable, "get_throttled"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise OSError(f"vcgencmd get_throttled failed: {detail}")
    return result.stdout


class ThrottlingCollector:
    """Raspberry Pi firmware throttle state.

    Reads the sysfs file first (no process per tick) and falls back to ``vcgencmd
    get_throttled``; both report the same firmware value. Where neither exists, or neither
    can be read, the message is ``available=False`` with a reason naming what was tried.
    Where neither exists (not a Pi), the next ``recheck_absent`` seconds repeat that message
    without looking again.
    """

    name = "throttling"

    def __init__(
        self,
        sysfs_path: Path = GET_THROTTLED_SYSFS,
        *,
        which: Callable[[str], str | None] = shutil.which,
        run_vcgencmd: Callable[[str], str] = _run_vcgencmd,
        recheck_absent: float = RECHECK_ABSENT,
    ) -> None:
        self._sysfs_path = sysfs_path
        self._which = which
        self._run_vcgencmd = run_vcgencmd
        self._absence: _Absence[ThrottlingUpdated] = _Absence(recheck_absent)

    def collect(self, now: float) -> ThrottlingUpdated:
        remembered = self._absence.recent(now)
        if remembered is not None:
            return remembered
        # Only "neither source exists" is remembered: a source that exists but failed (a
        # vcgencmd timeout) is tried again next tick.
        msg, absent = self._sample()
        return self._absence.note(now, msg, absent)

    def _sample(self) -> tuple[ThrottlingUpdated, bool]:
        """The message, and whether it is unavailable because no source exists at all."""
        problems = []
        sysfs_exists = self._sysfs_path.exists()
        if sysfs_exists:
            try:
                raw = parse_throttled(self._sysfs_path.read_text())
                return self._decoded(raw, str(self._sysfs_path)), False
            except (OSError, ValueError) as exc:
                problems.append(f"{self._sysfs_path}: {exc}")
        else:
            problems.append(f"{self._sysfs_path} does not exist")
        executable = self._which("vcgencmd")
        if executable is None:
            problems.append("vcgencmd is not on PATH")
        else:
            try:
                raw = parse_throttled(self._run_vcgencmd(executable))
                return self._decoded(raw, "vcgencmd"), False
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                problems.append(str(exc))
        msg = ThrottlingUpdated(
            available=False,
            reason="no Raspberry Pi throttle information: " + "; ".join(problems),
        )
        return msg, not sysfs_exists and executable is None

    @staticmethod
    def _decoded(raw: int, source: str) -> ThrottlingUpdated:
        now, since_boot = decode_throttled(raw)
        return ThrottlingUpdated(
            available=True, raw=raw, now=now, since_boot=since_boot, source=source
        )


def default_collectors() -> tuple[Collector, ...]:
    """A fresh set of the real collectors, one per telemetry category."""
    return (
        CpuCollector(),
        MemoryCollector(),
        DiskCollector(),
        LoadCollector(),
        TemperatureCollector(),
        NetworkCollector(),
        ThrottlingCollector(),
    )
