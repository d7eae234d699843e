"""SystemIdentityService: reads a fake host tree exactly, never invents, publishes once."""

from __future__ import annotations

import platform
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bussdcc import ManualClock, Runtime
from bussdcc.event import Event
from bussdcc.message import lookup
from bussdcc_framework.codec import decode_event, encode_event
from bussdcc_framework.message.system import SystemIdentityEvent
from bussdcc_framework.service import SystemIdentityService, read_identity

PI_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid

Hardware\t: BCM2835
Revision\t: c03114
Serial\t\t: 10000000a1b2c3d4
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
"""


def write(root: Path, relative: str, text: str | bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


@pytest.fixture
def pi(tmp_path: Path) -> Path:
    write(tmp_path, "proc/device-tree/model", b"Raspberry Pi 4 Model B Rev 1.4\x00")
    write(tmp_path, "proc/cpuinfo", PI_CPUINFO)
    write(tmp_path, "etc/machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    write(tmp_path, "etc/os-release", OS_RELEASE)
    write(tmp_path, "proc/stat", "cpu  1 2 3 4\nintr 0\nbtime 1767225600\nprocesses 9\n")
    return tmp_path


def test_raspberry_pi_tree(pi: Path) -> None:
    identity = read_identity(pi)
    assert identity == SystemIdentityEvent(
        hostname=socket.gethostname(),
        model="Raspberry Pi 4 Model B Rev 1.4",
        serial="10000000a1b2c3d4",
        serial_source="cpuinfo",
        os="Debian GNU/Linux 12 (bookworm)",
        kernel=platform.release(),
        architecture=platform.machine(),
        python=platform.python_version(),
        boot_time=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_pc_falls_back_to_dmi_and_machine_id(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/dmi/id/product_name", "ThinkPad X1 Carbon\n")
    write(tmp_path, "proc/cpuinfo", "processor\t: 0\nmodel name\t: Intel(R) Core(TM)\n")
    write(tmp_path, "etc/machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    write(tmp_path, "usr/lib/os-release", 'NAME="Fedora Linux"\n')
    identity = read_identity(tmp_path)
    assert identity.model == "ThinkPad X1 Carbon"
    assert (identity.serial, identity.serial_source) == (
        "3d1219c7c4c5404aaa1f6d2a48adfda4",
        "machine-id",
    )
    assert identity.os == "Fedora Linux"


def test_all_zero_cpu_serial_counts_as_absent(tmp_path: Path) -> None:
    write(tmp_path, "proc/cpuinfo", "Serial\t\t: 0000000000000000\n")
    write(tmp_path, "etc/machine-id", "abc\n")
    assert read_identity(tmp_path).serial == "abc"


def test_dmi_placeholders_are_not_a_model(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/dmi/id/product_name", "To Be Filled By O.E.M.\n")
    assert read_identity(tmp_path).model is None


def test_empty_tree_gives_none_never_guesses(tmp_path: Path) -> None:
    identity = read_identity(tmp_path)
    assert identity.model is None
    assert identity.serial is None
    assert identity.serial_source is None
    assert identity.boot_time is None
    assert identity.os == (platform.system() or None)  # the documented fallback


def test_corrupt_btime_is_none(tmp_path: Path) -> None:
    write(tmp_path, "proc/stat", "btime soon\n")
    assert read_identity(tmp_path).boot_time is None


def test_unreadable_file_is_none(tmp_path: Path) -> None:
    (tmp_path / "proc" / "device-tree" / "model").mkdir(parents=True)  # a dir, not a file
    assert read_identity(tmp_path).model is None


def test_real_machine_types() -> None:
    identity = read_identity()
    for value in (identity.hostname, identity.model, identity.serial, identity.os):
        assert value is None or (isinstance(value, str) and value.strip() == value and value)
    assert identity.kernel == platform.release()
    assert identity.python == platform.python_version()
    if identity.boot_time is not None:
        assert identity.boot_time.tzinfo is not None
        assert identity.boot_time < datetime.now(UTC)


def test_round_trips_through_the_wire_format(pi: Path) -> None:
    assert lookup("system.identity") is SystemIdentityEvent
    evt = Event(time=datetime(2026, 1, 1, tzinfo=UTC), payload=read_identity(pi), seq=3)
    assert decode_event(encode_event(evt)) == evt


def test_service_emits_once_and_stores_in_state(pi: Path) -> None:
    clock = ManualClock()
    rt = Runtime(clock=clock)
    seen: list[Event[Any]] = []
    arrived = threading.Event()

    def record(evt: Event[Any]) -> None:
        seen.append(evt)
        arrived.set()

    rt.ctx.events.subscribe(SystemIdentityEvent, record)
    service = SystemIdentityService(root=pi)
    rt.register_service(service)
    rt.boot()
    try:
        assert arrived.wait(10)
        assert clock.wait_for_sleepers(1, timeout=10)
        clock.advance(3 * 86_400)  # days pass: nothing more is emitted
        assert len(seen) == 1
        assert seen[0].payload == read_identity(pi)
        stored = rt.state.get("system.identity")
        assert stored["model"] == "Raspberry Pi 4 Model B Rev 1.4"
        assert stored["serial_source"] == "cpuinfo"
        assert stored["boot_time"] == "2026-01-01T00:00:00+00:00"
        assert stored["python"] == platform.python_version()
    finally:
        rt.shutdown()


def test_seed_import_path() -> None:
    from bussdcc_framework.message import SystemIdentityEvent as Reexported

    assert Reexported is SystemIdentityEvent
    assert SystemIdentityService().name == "identity"
