"""CPU shares from cumulative CPU time counters: exact values and honest edge cases."""

from __future__ import annotations

from bussdcc_system_health.telemetry.cpu import CpuShares, cpu_shares


def test_shares_of_the_time_that_passed() -> None:
    before = {"user": 10.0, "nice": 0.0, "system": 5.0, "idle": 80.0, "iowait": 5.0}
    after = {"user": 40.0, "nice": 10.0, "system": 15.0, "idle": 120.0, "iowait": 15.0}
    # deltas: user 30, nice 10, system 10, idle 40, iowait 10 -> total 100
    assert cpu_shares(before, after) == CpuShares(
        user=30.0, system=10.0, iowait=10.0, idle=40.0, busy=50.0
    )


def test_guest_time_is_not_counted_twice() -> None:
    before = {"user": 0.0, "idle": 0.0, "guest": 0.0, "guest_nice": 0.0}
    after = {"user": 50.0, "idle": 50.0, "guest": 50.0, "guest_nice": 10.0}
    shares = cpu_shares(before, after)
    assert shares is not None
    assert (shares.user, shares.idle, shares.busy) == (50.0, 50.0, 50.0)


def test_counter_going_backwards_contributes_nothing() -> None:
    before = {"user": 10.0, "idle": 100.0, "iowait": 50.0}
    after = {"user": 20.0, "idle": 130.0, "iowait": 49.0}  # iowait stepped back
    assert cpu_shares(before, after) == CpuShares(25.0, 0.0, 0.0, 75.0, 25.0)


def test_no_time_passed_gives_no_shares() -> None:
    same = {"user": 1.0, "system": 1.0, "idle": 1.0}
    assert cpu_shares(same, same) is None


def test_states_missing_on_this_platform_count_as_zero() -> None:
    # macOS has no iowait
    assert cpu_shares({"user": 0.0, "idle": 0.0}, {"user": 1.0, "idle": 3.0}) == CpuShares(
        25.0, 0.0, 0.0, 75.0, 25.0
    )


def test_shares_are_rounded_to_a_tenth() -> None:
    shares = cpu_shares({"user": 0.0, "idle": 0.0}, {"user": 1.0, "idle": 2.0})
    assert shares == CpuShares(33.3, 0.0, 0.0, 66.7, 33.3)
