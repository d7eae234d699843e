"""Argument validation: one checker per kind of value, one error contract for the kernel.

The contract, everywhere in the kernel: a value of the wrong type raises ``TypeError``, a value
of the right type but out of range (or otherwise unusable) raises ``ValueError``; both messages
start with the argument's name (``"interval must be > 0, got 0"``). ``bool`` is not accepted
where a number is meant, even though it is an ``int`` subclass: ``interval = True`` is a bug.
Each checker returns the value normalised (numbers as ``float``, paths split), so callers use
what it returns.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "aware_datetime",
    "boolean",
    "dotted_path",
    "name_string",
    "non_negative_int",
    "non_negative_number",
    "number",
    "positive_number",
]


def _type_error(name: str, expected: str, value: object) -> TypeError:
    return TypeError(f"{name} must be {expected}, got {type(value).__name__}")


def number(value: object, name: str) -> float:
    """Any real number but NaN (infinities included), as a float.

    Raises:
        TypeError: if ``value`` is not an int or float (or is a bool).
        ValueError: if it is NaN.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(name, "a number", value)
    if value != value:
        raise ValueError(f"{name} must be a number, got NaN")
    return float(value)


def non_negative_number(value: object, name: str) -> float:
    """A number >= 0, as a float.

    Raises:
        TypeError: if ``value`` is not a number.
        ValueError: if it is NaN or negative.
    """
    result = number(value, name)
    if result < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return result


def positive_number(value: object, name: str) -> float:
    """A number > 0, as a float.

    Raises:
        TypeError: if ``value`` is not a number.
        ValueError: if it is NaN, zero or negative.
    """
    result = number(value, name)
    if result <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return result


def non_negative_int(value: object, name: str) -> int:
    """An int >= 0.

    Raises:
        TypeError: if ``value`` is not an int (or is a bool).
        ValueError: if it is negative.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "an int", value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def boolean(value: object, name: str) -> bool:
    """``True`` or ``False`` and nothing else (no truthy stand-ins like 1 or "yes").

    Raises:
        TypeError: if ``value`` is not a bool.
    """
    if not isinstance(value, bool):
        raise _type_error(name, "a bool", value)
    return value


def name_string(value: object, name: str) -> str:
    """A non-blank str: a component's id or name.

    Raises:
        TypeError: if ``value`` is not a str.
        ValueError: if it is empty or only whitespace.
    """
    if not isinstance(value, str):
        raise _type_error(name, "a str", value)
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def dotted_path(value: object, name: str) -> list[str]:
    """A dot-separated path (``"system.cpu.usage"``), split into its segments.

    Raises:
        TypeError: if ``value`` is not a str.
        ValueError: if it is empty or has an empty segment (``"a..b"``, ``".a"``, ``"a."``).
    """
    if not isinstance(value, str):
        raise _type_error(name, "a str", value)
    if not value:
        raise ValueError(f"{name} must not be empty")
    parts = value.split(".")
    if "" in parts:
        raise ValueError(f"{name} {value!r} has an empty segment")
    return parts


def aware_datetime(value: object, name: str) -> datetime:
    """A timezone-aware datetime.

    Raises:
        TypeError: if ``value`` is not a datetime.
        ValueError: if it is naive (no tzinfo).
    """
    if not isinstance(value, datetime):
        raise _type_error(name, "a timezone-aware datetime", value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value
