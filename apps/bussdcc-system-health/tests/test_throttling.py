"""Raspberry Pi get_throttled parsing and decoding, with real bit patterns."""

from __future__ import annotations

import pytest

from bussdcc_system_health.message import ThrottleFlags
from bussdcc_system_health.telemetry.throttling import (
    active_conditions,
    decode_throttled,
    parse_throttled,
)

NONE = ThrottleFlags(False, False, False, False)


def test_vcgencmd_output_is_parsed() -> None:
    assert parse_throttled("throttled=0x50005\n") == 0x50005
    assert parse_throttled("throttled=0x0") == 0


def test_sysfs_output_without_prefix_is_parsed() -> None:
    assert parse_throttled("50000\n") == 0x50000
    assert parse_throttled("80008") == 0x80008


@pytest.mark.parametrize("text", ["", "throttled=", "VCHI initialization failed", "0xZZ"])
def test_garbage_is_rejected_with_the_text_quoted(text: str) -> None:
    with pytest.raises(ValueError, match="not a get_throttled value"):
        parse_throttled(text)


def test_zero_means_nothing_now_or_since_boot() -> None:
    assert decode_throttled(0x0) == (NONE, NONE)


def test_0x50005_is_under_voltage_and_throttled_now_and_since_boot() -> None:
    now, since_boot = decode_throttled(0x50005)
    expected = ThrottleFlags(
        under_voltage=True, frequency_capped=False, throttled=True, soft_temperature_limit=False
    )
    assert now == expected
    assert since_boot == expected


def test_0x50000_is_past_under_voltage_and_throttling_only() -> None:
    now, since_boot = decode_throttled(0x50000)
    assert now == NONE
    assert since_boot == ThrottleFlags(True, False, True, False)


def test_0x80008_is_soft_temperature_limit_now_and_since_boot() -> None:
    now, since_boot = decode_throttled(0x80008)
    assert now == ThrottleFlags(False, False, False, True)
    assert since_boot == ThrottleFlags(False, False, False, True)


def test_frequency_capping_bits() -> None:
    now, since_boot = decode_throttled(0x20002)
    assert now == ThrottleFlags(False, True, False, False)
    assert since_boot == ThrottleFlags(False, True, False, False)


def test_unrelated_bits_are_ignored() -> None:
    assert decode_throttled(0xFFF0_FFF0 & ~0x000F_000F) == (NONE, NONE)


def test_active_conditions_names_in_bit_order() -> None:
    assert active_conditions(ThrottleFlags(True, True, True, True)) == [
        "under-voltage",
        "ARM frequency capped",
        "throttled",
        "soft temperature limit",
    ]
    assert active_conditions(NONE) == []
