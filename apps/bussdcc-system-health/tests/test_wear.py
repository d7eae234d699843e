"""eMMC wear: decoding the standard's values as sysfs prints them, and the collector's cadence."""

from __future__ import annotations

from pathlib import Path

import pytest

from bussdcc_system_health.collectors import StorageWearCollector
from bussdcc_system_health.message import StorageWear, StorageWearUpdated, WearEstimate
from bussdcc_system_health.telemetry.wear import decode_life_time, decode_pre_eol, parse_hex_fields


@pytest.mark.parametrize(
    ("raw", "used_min", "used_max"),
    [(0x01, 0, 10), (0x02, 10, 20), (0x05, 40, 50), (0x09, 80, 90), (0x0A, 90, 100)],
)
def test_life_time_steps_of_ten_percent(raw: int, used_min: int, used_max: int) -> None:
    assert decode_life_time(raw) == WearEstimate(raw, used_min, used_max)


def test_life_time_exceeded() -> None:
    assert decode_life_time(0x0B) == WearEstimate(0x0B, 100, None, exceeded=True)


@pytest.mark.parametrize("raw", [0x00, 0x0C, 0xFF])
def test_undefined_and_reserved_life_time_has_no_bounds(raw: int) -> None:
    assert decode_life_time(raw) == WearEstimate(raw, None, None)


@pytest.mark.parametrize(
    ("raw", "meaning"),
    [
        (0x00, "undefined"),
        (0x01, "normal"),
        (0x02, "warning"),
        (0x03, "urgent"),
        (0x04, "reserved"),
    ],
)
def test_pre_eol(raw: int, meaning: str) -> None:
    assert decode_pre_eol(raw) == meaning


def test_sysfs_values_as_the_mmc_driver_prints_them() -> None:
    assert parse_hex_fields("0x01 0x02\n", 2) == (1, 2)
    assert parse_hex_fields("0x0b 0x0a\n", 2) == (0x0B, 0x0A)
    assert parse_hex_fields("0x01\n", 1) == (1,)


@pytest.mark.parametrize(
    ("text", "count", "problem"),
    [
        ("0x01\n", 2, "expected 2"),
        ("0x01 0x02 0x03", 2, "expected 2"),
        ("", 1, "expected 1"),
        ("0xzz\n", 1, "not a hexadecimal value: '0xzz'"),
        ("0x100\n", 1, "not a byte"),
    ],
)
def test_malformed_sysfs_values_are_value_errors(text: str, count: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_hex_fields(text, count)


def card(
    sys: Path, name: str, *, life_time: str | None, pre_eol: str | None, model: str = ""
) -> None:
    device = sys / "block" / name / "device"
    device.mkdir(parents=True)
    (device / "type").write_text("MMC\n" if life_time is not None else "SD\n")
    if model:
        (device / "name").write_text(model + "\n")
    if life_time is not None:
        (device / "life_time").write_text(life_time)
    if pre_eol is not None:
        (device / "pre_eol_info").write_text(pre_eol)


def test_emmc_wear_is_decoded_and_sd_cards_and_boot_partitions_are_skipped(tmp_path: Path) -> None:
    sys = tmp_path / "sys"
    card(sys, "mmcblk0", life_time="0x02 0x01\n", pre_eol="0x01\n", model="BJTD4R")
    card(sys, "mmcblk0boot0", life_time="0x02 0x01\n", pre_eol="0x01\n")
    card(sys, "mmcblk1", life_time=None, pre_eol=None)  # an SD card in the other slot
    (sys / "block" / "sda").mkdir()
    msg = StorageWearCollector(sys).collect(0.0)
    assert msg == StorageWearUpdated(
        available=True,
        devices=(
            StorageWear(
                device="mmcblk0",
                life_time_a=WearEstimate(2, 10, 20),
                life_time_b=WearEstimate(1, 0, 10),
                pre_eol="normal",
                pre_eol_raw=1,
                model="BJTD4R",
            ),
        ),
    )


def test_no_emmc_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    sys = tmp_path / "sys"
    card(sys, "mmcblk0", life_time=None, pre_eol=None)
    msg = StorageWearCollector(sys).collect(0.0)
    assert msg is not None and not msg.available and msg.devices == ()
    assert msg.reason is not None and "SD cards" in msg.reason and str(sys / "block") in msg.reason


def test_an_unreadable_value_is_named_in_the_reason(tmp_path: Path) -> None:
    sys = tmp_path / "sys"
    card(sys, "mmcblk0", life_time="garbage\n", pre_eol="0x01\n")
    msg = StorageWearCollector(sys).collect(0.0)
    assert msg is not None and not msg.available
    assert msg.reason is not None and "mmcblk0" in msg.reason and "garbage" in msg.reason


def test_wear_is_emitted_on_change_and_otherwise_hourly(tmp_path: Path) -> None:
    sys = tmp_path / "sys"
    card(sys, "mmcblk0", life_time="0x01 0x01\n", pre_eol="0x01\n")
    collector = StorageWearCollector(sys, check_every=60.0, repeat=3600.0)
    first = collector.collect(0.0)
    assert first is not None
    assert [collector.collect(t) for t in (1.0, 59.0, 60.0, 600.0)] == [None] * 4
    (sys / "block" / "mmcblk0" / "device" / "pre_eol_info").write_text("0x02\n")
    assert collector.collect(630.0) is None  # not looked at again until 660 s
    changed = collector.collect(660.0)
    assert changed is not None and changed.devices[0].pre_eol == "warning"
    assert collector.collect(4259.0) is None
    assert collector.collect(4260.0) == changed  # an hour on, repeated unchanged


@pytest.mark.parametrize(("argument", "value"), [("check_every", 0.0), ("repeat", -1.0)])
def test_bad_cadence_is_a_value_error_naming_it(argument: str, value: float) -> None:
    with pytest.raises(ValueError, match=argument):
        StorageWearCollector(**{argument: value})  # type: ignore[arg-type]
