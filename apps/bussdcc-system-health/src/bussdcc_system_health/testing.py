"""Test support for the app: sample telemetry, and the dashboard served without collectors.

For the app's own tests and for tests of code built on it (a fleet hub, a plugin): the
builders make plausible telemetry messages with the one value a test cares about as an
argument, and `start_dashboard` serves the app's processes and `SystemWebInterface` on a
kernel `Runtime` with no services, so the test decides every value the page shows. The
Socket.IO and event recorders are the framework's (`bussdcc_framework.testing`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bussdcc import Runtime
from bussdcc_framework.message.system import SystemIdentityEvent

from .history import RollupReader
from .interfaces import SystemWebInterface
from .message import (
    CoreUsage,
    CpuUsageUpdated,
    DiskIo,
    DiskIoUpdated,
    DiskUsageUpdated,
    Fan,
    FanSpeedUpdated,
    Filesystem,
    InterfaceThroughput,
    LoadAverageUpdated,
    MemoryUsageUpdated,
    NetworkUsageUpdated,
    StorageWear,
    StorageWearUpdated,
    TemperatureSensor,
    TemperatureUpdated,
    ThrottleFlags,
    ThrottlingUpdated,
)
from .processes import HealthProcess, SystemProcess
from .telemetry.wear import decode_life_time, decode_pre_eol

__all__ = [
    "Dashboard",
    "Telemetry",
    "cpu",
    "disk_io",
    "disks",
    "emit_all",
    "fans",
    "identity",
    "load",
    "memory",
    "network",
    "publish_identity",
    "start_dashboard",
    "temperature",
    "throttling",
    "wear",
]

GiB = 1024**3


@dataclass
class Dashboard:
    """A booted runtime with the app's processes and its web interface."""

    runtime: Runtime
    web: SystemWebInterface

    @property
    def url(self) -> str:
        """Where the dashboard is served (``http://127.0.0.1:<bound port>``)."""
        return self.web.url


def start_dashboard(port: int = 0, history: RollupReader | None = None) -> Dashboard:
    """Boot the app's processes and dashboard (on ``port``; 0 = a free one) without the host
    collectors; the caller shuts ``Dashboard.runtime`` down. ``history`` answers the
    dashboard's ``/api/history`` (none: history is not recorded).

    Raises:
        BootError: if the dashboard cannot listen on ``port``.
    """
    rt = Runtime()
    rt.register_process(SystemProcess())
    rt.register_process(HealthProcess())
    web = SystemWebInterface(port=port)
    web.history = history
    rt.register_interface(web)
    rt.boot()
    return Dashboard(rt, web)


def cpu(
    user: float = 10.0, system: float = 5.0, iowait: float = 1.0, cores: int = 0
) -> CpuUsageUpdated:
    """A CPU reading with these shares (idle takes the rest); with ``cores``, that many
    cores busy from 0 % up to 100 %."""
    idle = 100.0 - user - system - iowait
    per_core = tuple(
        CoreUsage(i, busy * 0.8, busy * 0.2, 0.0, 100.0 - busy, busy)
        for i in range(cores)
        for busy in [round(100.0 * i / max(1, cores - 1), 1)]
    )
    return CpuUsageUpdated(
        user=user,
        system=system,
        iowait=iowait,
        idle=idle,
        busy=100.0 - idle - iowait,
        cores=per_core,
    )


def memory(percent: float = 40.0, total: int = 4 * GiB) -> MemoryUsageUpdated:
    """A memory reading at ``percent`` of ``total``."""
    used = int(total * percent / 100)
    return MemoryUsageUpdated(
        total=total,
        available=total - used,
        used=used,
        percent=percent,
        swap_total=0,
        swap_used=0,
        swap_percent=0.0,
    )


def disks(percent: float = 30.0) -> DiskUsageUpdated:
    """A disk reading of one root filesystem at ``percent``."""
    total = 32 * GiB
    used = int(total * percent / 100)
    return DiskUsageUpdated(
        filesystems=(
            Filesystem(
                mountpoint="/",
                device="/dev/mmcblk0p2",
                fstype="ext4",
                total=total,
                used=used,
                free=total - used,
                percent=percent,
            ),
        )
    )


def load(load1: float = 0.5, cores: int = 4, processes: int | None = 180) -> LoadAverageUpdated:
    """A load reading on a ``cores``-core host with ``processes`` processes."""
    return LoadAverageUpdated(
        processes=processes,
        load1=load1,
        load5=0.4,
        load15=0.3,
        cores=cores,
        load1_per_core=load1 / cores,
        load5_per_core=0.4 / cores,
        load15_per_core=0.3 / cores,
    )


def network(rx: float = 2048.0, tx: float = 1024.0, name: str = "eth0") -> NetworkUsageUpdated:
    """A network reading of one interface, in bytes per second."""
    return NetworkUsageUpdated(
        interval=1.0,
        rx_bytes_per_s=rx,
        tx_bytes_per_s=tx,
        interfaces=(
            InterfaceThroughput(
                interface=name, rx_bytes_per_s=rx, tx_bytes_per_s=tx, rx_bytes=10, tx_bytes=20
            ),
        ),
    )


def temperature(current: float | None = 48.5) -> TemperatureUpdated:
    """A temperature reading of one sensor (None: no sensor readable)."""
    if current is None:
        return TemperatureUpdated(available=False, reason="no temperature sensors found")
    return TemperatureUpdated(
        available=True, sensors=(TemperatureSensor(name="cpu_thermal", label="", current=current),)
    )


def throttling(under_voltage_now: bool | None = False) -> ThrottlingUpdated:
    """A Raspberry Pi throttling reading (None: unavailable)."""
    if under_voltage_now is None:
        return ThrottlingUpdated(available=False, reason="no Raspberry Pi firmware interface")
    flags = ThrottleFlags(
        under_voltage=under_voltage_now,
        frequency_capped=False,
        throttled=False,
        soft_temperature_limit=False,
    )
    return ThrottlingUpdated(
        available=True,
        raw=0x1 if under_voltage_now else 0,
        now=flags,
        since_boot=flags,
        source="vcgencmd",
    )


def disk_io(
    read: float = 4096.0, write: float = 2 * 1024 * 1024, busy: float | None = 12.5
) -> DiskIoUpdated:
    """An SD card (``mmcblk0``) and its root partition, doing the same I/O."""
    return DiskIoUpdated(
        interval=1.0,
        read_bytes_per_s=read,
        write_bytes_per_s=write,
        devices=(
            DiskIo("mmcblk0", read, write, read / 4096, write / 65536, busy, 10 * GiB, 4 * GiB),
            DiskIo(
                "mmcblk0p2", read, write, read / 4096, write / 65536, busy, 10 * GiB, 4 * GiB,
                whole=False,
            ),
        ),
    )  # fmt: skip


def wear(pre_eol: int | None = 0x01, life_a: int = 0x02, life_b: int = 0x01) -> StorageWearUpdated:
    """An eMMC's wear as sysfs reports it; ``pre_eol=None`` for a host without eMMC."""
    if pre_eol is None:
        return StorageWearUpdated(available=False, reason="no eMMC device reports wear")
    card = StorageWear(
        device="mmcblk0",
        life_time_a=decode_life_time(life_a),
        life_time_b=decode_life_time(life_b),
        pre_eol=decode_pre_eol(pre_eol),
        pre_eol_raw=pre_eol,
        model="BJTD4R",
    )
    return StorageWearUpdated(available=True, devices=(card,))


def fans(rpm: int | None = 2950) -> FanSpeedUpdated:
    """A Raspberry Pi 5's fan; ``rpm=None`` for a host without fans."""
    if rpm is None:
        return FanSpeedUpdated(available=False, reason="no fans found")
    return FanSpeedUpdated(available=True, fans=(Fan("pwmfan", "", rpm),))


def identity(hostname: str = "pi-lab-07") -> SystemIdentityEvent:
    """A host identity as `SystemIdentityService` emits it."""
    return SystemIdentityEvent(
        hostname=hostname,
        model="Raspberry Pi 4 Model B Rev 1.4",
        serial="10000000abcdef01",
        serial_source="cpuinfo",
        os="Debian GNU/Linux 12 (bookworm)",
        kernel="6.6.31",
        architecture="aarch64",
        python="3.11.2",
        boot_time=None,
    )


def emit_all(rt: Runtime, *, cpu_user: float = 10.0, memory_percent: float = 40.0) -> None:
    """One tick's worth of telemetry, as `SystemService` would emit it."""
    for message in (
        cpu(user=cpu_user),
        memory(percent=memory_percent),
        disks(),
        load(),
        network(),
        temperature(),
        throttling(),
    ):
        rt.emit(message)


def publish_identity(rt: Runtime, hostname: str = "pi-lab-07") -> None:
    """What `SystemIdentityService` does at start: store the identity, then emit it."""
    event = identity(hostname)
    rt.ctx.state.set("system.identity", event.to_dict())
    rt.emit(event)


class Telemetry:
    """The builders above as one object, for a fixture (pytest's importlib mode keeps test
    modules from importing their conftest, but not from importing this module)."""

    cpu = staticmethod(cpu)
    memory = staticmethod(memory)
    disks = staticmethod(disks)
    load = staticmethod(load)
    network = staticmethod(network)
    temperature = staticmethod(temperature)
    throttling = staticmethod(throttling)
    disk_io = staticmethod(disk_io)
    wear = staticmethod(wear)
    fans = staticmethod(fans)
    identity = staticmethod(identity)
    emit_all = staticmethod(emit_all)
    publish_identity = staticmethod(publish_identity)
