"""Tier arithmetic: bucketing, exact merges and the tier chosen for a range."""

from __future__ import annotations

import itertools

import pytest

from bussdcc_system_health.history.tiers import (
    TIERS,
    Aggregate,
    Tier,
    absorb,
    bucket_start,
    choose_step,
    merge,
    quantize,
    single,
)


def test_quantize_keeps_hundredths_and_refuses_what_is_not_a_reading() -> None:
    assert quantize(12.345) == 1234  # half to even on the binary value
    assert quantize(-0.5) == -50
    assert quantize(7) == 700
    assert quantize(float("nan")) is None
    assert quantize(float("inf")) is None
    with pytest.raises(TypeError, match="value"):
        quantize(True)


def test_merge_is_exact_and_its_order_does_not_matter() -> None:
    parts = [single(q) for q in (1001, -3, 77, 250, 250)]
    results = set()
    for order in itertools.permutations(parts):
        total = order[0]
        for part in order[1:]:
            total = merge(total, part)
        results.add(total)
    assert results == {Aggregate(min=-3, max=1001, sum=1575, samples=5)}
    assert Aggregate(-3, 1001, 1575, 5).avg == 3.15


def test_absorb_is_merge_in_place() -> None:
    into = [10, 20, 30, 2]
    absorb(into, (5, 15, 100, 3))
    assert into == list(merge(Aggregate(10, 20, 30, 2), Aggregate(5, 15, 100, 3)))
    assert into == [5, 20, 130, 5]


@pytest.mark.parametrize(
    ("timestamp", "seconds", "start"),
    [
        (0, 10, 0),
        (9.999, 10, 0),
        (10, 10, 10),
        (1_767_225_599.5, 3600, 1_767_222_000),
        (1_767_225_600, 3600, 1_767_225_600),
        (-0.5, 10, -10),  # before the epoch (a Pi that booted into 1969): still aligned
    ],
)
def test_bucket_start_aligns_to_multiples_of_the_resolution(
    timestamp: float, seconds: int, start: int
) -> None:
    assert bucket_start(timestamp, seconds) == start


def test_bucket_start_rejects_a_bad_resolution() -> None:
    with pytest.raises(ValueError, match="seconds"):
        bucket_start(5, 0)


def test_each_tier_divides_the_next() -> None:
    for finer, coarser in itertools.pairwise(TIERS):
        assert coarser.seconds % finer.seconds == 0
    assert [t.seconds for t in TIERS] == [10, 60, 600, 3600]


@pytest.mark.parametrize(
    ("span", "tier", "step"),
    [
        (300, "10s", 10),  # 5 min: 1 s wanted, the finest tier, 30 points
        (3600, "10s", 20),  # 1 h: 12 s wanted -> 10 s tier, every 2 buckets: 180 points
        (86400, "1m", 300),  # 24 h: 288 s wanted -> 1 min tier, 5 per step: 288 points
        (7 * 86400, "10m", 2400),  # 7 d: 2016 s -> 10 min tier, 4 per step: 252 points
        (30 * 86400, "1h", 10800),  # 30 d: 8640 s -> 1 h tier, 3 per step: 240 points
        (365 * 86400, "1h", 108000),  # 1 y: 105120 s -> 1 h tier, 30 per step: 292 points
    ],
)
def test_choose_step_picks_the_coarsest_tier_giving_about_points(
    span: int, tier: str, step: int
) -> None:
    chosen, chosen_step = choose_step(1_000_000, 1_000_000 + span)
    assert (chosen.name, chosen_step) == (tier, step)
    assert span / chosen_step <= 300


def test_choose_step_with_more_points_goes_finer() -> None:
    tier, step = choose_step(0, 86400, points=1440)
    assert (tier.name, step) == ("1m", 60)


def test_choose_step_skips_tiers_that_no_longer_reach_back_to_the_start() -> None:
    # A day from three months ago: the 1 min tier keeps 30 days, so the 10 min tier answers.
    day = 86400
    start = 1000 * day
    oldest = {"10s": start + 83 * day, "1m": start + 60 * day, "10m": start - day, "1h": 0}
    tier, step = choose_step(start, start + day, oldest=oldest)
    assert (tier.name, step) == ("10m", 600)
    # Data that began after the start everywhere: resolution alone decides.
    recent = dict.fromkeys(oldest, start + day // 2)
    assert choose_step(start, start + day, oldest=recent)[0].name == "1m"


def test_choose_step_rejects_a_reversed_range_and_bad_points() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        choose_step(10, 10)
    with pytest.raises(ValueError, match="points"):
        choose_step(0, 10, points=0)


def test_a_custom_tier_table() -> None:
    tiers = (Tier("1s", 1, None), Tier("1m", 60, None))
    tier, step = choose_step(0, 600, points=100, tiers=tiers)
    assert (tier.name, step) == ("1s", 6)
