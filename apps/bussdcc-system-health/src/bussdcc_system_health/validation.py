"""Argument checks shared by the app's constructors and its command line, one per kind of value.

Every check returns the value it accepted (as the type it promises) and follows one contract:
a value of the wrong type raises `TypeError`, a value of the right type that is out of range
raises `ValueError`; both messages start with the argument's name. ``bool`` is never accepted
as a number, although Python treats it as one, because ``interval=True`` is always a mistake.
The command line adapts the same checks to argparse (see `bussdcc_system_health.cli`).
"""

from __future__ import annotations

import math

__all__ = [
    "host",
    "non_negative",
    "number",
    "port",
    "positive_int",
    "positive_seconds",
    "seconds_between",
]


def number(value: object, name: str) -> float:
    """``value`` as a float: any int or float except NaN (infinities are allowed).

    Raises:
        TypeError: if ``value`` is not an int or float (or is a bool).
        ValueError: if ``value`` is NaN.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    return float(value)


def positive_seconds(value: object, name: str) -> float:
    """``value`` as a float of seconds: finite and greater than zero.

    Raises:
        TypeError: if ``value`` is not an int or float (or is a bool).
        ValueError: if ``value`` is NaN, infinite, zero or negative.
    """
    seconds = number(value, name)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def non_negative(value: object, name: str) -> float:
    """``value`` as a float: finite and zero or more.

    Raises:
        TypeError: if ``value`` is not an int or float (or is a bool).
        ValueError: if ``value`` is NaN, infinite or negative.
    """
    seconds = number(value, name)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return seconds


def positive_int(value: object, name: str) -> int:
    """``value`` as an int of at least 1.

    Raises:
        TypeError: if ``value`` is not an int (or is a bool).
        ValueError: if ``value`` is less than 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def port(value: object, name: str) -> int:
    """``value`` as a TCP port: an int from 0 (any free port) to 65535.

    Raises:
        TypeError: if ``value`` is not an int (or is a bool).
        ValueError: if ``value`` is outside 0-65535.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if not 0 <= value <= 65535:
        raise ValueError(f"{name} must be 0-65535, got {value!r}")
    return value


def seconds_between(value: object, name: str, least: float, most: float) -> float:
    """``value`` as a float of seconds from ``least`` to ``most`` (both inclusive).

    Raises:
        TypeError: if ``value`` is not an int or float (or is a bool).
        ValueError: if ``value`` is NaN or outside the range; the message gives the range.
    """
    seconds = number(value, name)
    if not least <= seconds <= most:
        raise ValueError(f"{name} must be from {least:g} to {most:g} seconds, got {value!r}")
    return seconds


def host(value: object, name: str) -> str:
    """``value`` as a host to serve on: a name or address, non-empty, without spaces.

    Raises:
        TypeError: if ``value`` is not a str.
        ValueError: if it is empty, holds whitespace or control characters, or is longer
            than a DNS name can be (253 characters).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a host name or address, got {value!r}")
    if not value or len(value) > 253 or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError(
            f"{name} must be a host name or address such as 127.0.0.1 or 0.0.0.0, got {value!r}"
        )
    return value
