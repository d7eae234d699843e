"""Counter rates: exact values, and no negative rate when a counter resets."""

from __future__ import annotations

import pytest

from bussdcc_system_health.message import InterfaceThroughput
from bussdcc_system_health.telemetry.rates import (
    InterfaceCounters,
    counter_rate,
    interface_throughput,
)


def test_rate_is_the_increase_divided_by_the_interval() -> None:
    assert counter_rate(1_000, 3_500, 2.0) == 1250.0
    assert counter_rate(0, 0, 1.0) == 0.0


def test_rate_over_a_fractional_interval() -> None:
    assert counter_rate(10, 60, 0.5) == 100.0


def test_counter_that_went_backwards_is_a_reset_and_gives_no_rate() -> None:
    assert counter_rate(5_000_000, 1_200, 1.0) is None


def test_64_bit_counter_near_its_limit_still_gives_exact_rate() -> None:
    top = 2**64 - 1_000
    assert counter_rate(top - 4_000, top, 4.0) == 1000.0


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_no_rate_without_a_positive_interval(seconds: float) -> None:
    assert counter_rate(0, 100, seconds) is None


def test_interface_throughput_per_interface_sorted_by_name() -> None:
    previous = {"wlan0": InterfaceCounters(100, 200), "eth0": InterfaceCounters(1_000, 2_000)}
    current = {"wlan0": InterfaceCounters(300, 260), "eth0": InterfaceCounters(5_000, 2_000)}
    assert interface_throughput(previous, current, 2.0) == (
        InterfaceThroughput("eth0", 2000.0, 0.0, 5_000, 2_000),
        InterfaceThroughput("wlan0", 100.0, 30.0, 300, 260),
    )


def test_new_interface_has_unknown_rates_and_removed_one_is_dropped() -> None:
    previous = {"eth0": InterfaceCounters(0, 0), "usb0": InterfaceCounters(9, 9)}
    current = {"eth0": InterfaceCounters(10, 20), "wg0": InterfaceCounters(50, 60)}
    assert interface_throughput(previous, current, 1.0) == (
        InterfaceThroughput("eth0", 10.0, 20.0, 10, 20),
        InterfaceThroughput("wg0", None, None, 50, 60),
    )


def test_reset_of_one_direction_leaves_the_other_rate_known() -> None:
    previous = {"eth0": InterfaceCounters(10_000, 500)}
    current = {"eth0": InterfaceCounters(42, 1_500)}
    (eth0,) = interface_throughput(previous, current, 1.0)
    assert eth0.rx_bytes_per_s is None
    assert eth0.tx_bytes_per_s == 1000.0
