"""The argument checks: wrong type -> TypeError, bad value -> ValueError, both naming it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bussdcc_system_health import validation
from bussdcc_system_health.collectors import TemperatureCollector, ThrottlingCollector
from bussdcc_system_health.processes import HealthProcess

Check = Callable[[object, str], object]


def minute_to_day(value: object, name: str) -> float:
    return validation.seconds_between(value, name, 60, 86_400)


WRONG_TYPES: list[tuple[Check, object]] = [
    (validation.number, "1"),
    (validation.number, True),
    (validation.number, None),
    (validation.positive_seconds, "1"),
    (validation.positive_seconds, False),
    (validation.non_negative, [0]),
    (validation.positive_int, 1.0),
    (validation.positive_int, True),
    (validation.port, 80.0),
    (validation.port, "80"),
    (minute_to_day, "60"),
    (validation.host, None),
    (validation.host, b"localhost"),
]

BAD_VALUES: list[tuple[Check, object]] = [
    (validation.number, float("nan")),
    (validation.positive_seconds, 0),
    (validation.positive_seconds, -1.5),
    (validation.positive_seconds, float("inf")),
    (validation.positive_seconds, float("nan")),
    (validation.non_negative, -0.001),
    (validation.non_negative, float("inf")),
    (validation.positive_int, 0),
    (validation.port, -1),
    (validation.port, 65536),
    (minute_to_day, 59.9),
    (minute_to_day, 86_400.5),
    (minute_to_day, float("inf")),
    (validation.host, ""),
    (validation.host, "a b"),
    (validation.host, "x\n"),
    (validation.host, "h" * 254),
]

GOOD_VALUES: list[tuple[Check, object, object]] = [
    (validation.number, 3, 3.0),
    (validation.number, float("-inf"), float("-inf")),
    (validation.positive_seconds, 2, 2.0),
    (validation.non_negative, 0, 0.0),
    (validation.positive_int, 1, 1),
    (validation.port, 0, 0),
    (validation.port, 65535, 65535),
    (minute_to_day, 60, 60.0),
    (minute_to_day, 86_400, 86_400.0),
    (validation.host, "0.0.0.0", "0.0.0.0"),
    (validation.host, "::1", "::1"),
]


@pytest.mark.parametrize(("check", "value"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_is_a_type_error_naming_the_argument(
    check: Check, value: object
) -> None:
    with pytest.raises(TypeError, match=r"^the_arg must be "):
        check(value, "the_arg")


@pytest.mark.parametrize(("check", "value"), BAD_VALUES)
def test_a_value_out_of_range_is_a_value_error_naming_the_argument(
    check: Check, value: object
) -> None:
    with pytest.raises(ValueError, match=r"^the_arg must be "):
        check(value, "the_arg")


@pytest.mark.parametrize(("check", "value", "accepted"), GOOD_VALUES)
def test_a_good_value_is_returned_as_the_promised_type(
    check: Check, value: object, accepted: object
) -> None:
    result = check(value, "the_arg")
    assert result == accepted
    assert type(result) is type(accepted)


@pytest.mark.parametrize("collector", [TemperatureCollector, ThrottlingCollector])
def test_collectors_check_recheck_absent(collector: Callable[..., object]) -> None:
    with pytest.raises(ValueError, match=r"^recheck_absent must be a finite number >= 0"):
        collector(recheck_absent=-1)
    with pytest.raises(TypeError, match=r"^recheck_absent must be a number"):
        collector(recheck_absent="60")


def test_health_process_refuses_thresholds_of_another_type() -> None:
    with pytest.raises(TypeError, match=r"^thresholds must be HealthThresholds"):
        HealthProcess(thresholds={"cpu": 90})  # type: ignore[arg-type]


@pytest.mark.parametrize("collector", [TemperatureCollector, ThrottlingCollector])
def test_collectors_check_repeat_unavailable(collector: Callable[..., object]) -> None:
    with pytest.raises(ValueError, match=r"^repeat_unavailable must be a finite number >= 0"):
        collector(repeat_unavailable=-5)
    with pytest.raises(TypeError, match=r"^repeat_unavailable must be a number"):
        collector(repeat_unavailable=None)
