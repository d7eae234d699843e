"""Raspberry Pi `get_throttled` bit field: parsing the firmware's text and decoding its bits.

Bits 0-3 describe the state now, bits 16-19 whether the same condition has occurred since
boot: under-voltage (0, 16), ARM frequency capped (1, 17), throttled (2, 18) and soft
temperature limit active (3, 19). E.g. 0x50005 is under-voltage and throttling now and
since boot; 0x50000 is both since boot but not now.
"""

from __future__ import annotations

from ..message import ThrottleFlags

__all__ = ["active_conditions", "decode_throttled", "parse_throttled"]

_UNDER_VOLTAGE = 1 << 0
_FREQUENCY_CAPPED = 1 << 1
_THROTTLED = 1 << 2
_SOFT_TEMPERATURE_LIMIT = 1 << 3
_SINCE_BOOT_SHIFT = 16


def parse_throttled(text: str) -> int:
    """The bit field from ``vcgencmd get_throttled`` (``throttled=0x50005``) or sysfs (``50005``).

    Both print hexadecimal; the ``0x`` prefix is optional.

    Raises:
        ValueError: if ``text`` holds no hexadecimal number (the message quotes it).
    """
    value = text.strip()
    if value.startswith("throttled="):
        value = value[len("throttled=") :]
    try:
        raw = int(value, 16)
    except ValueError:
        raise ValueError(f"not a get_throttled value: {text!r}") from None
    if raw < 0:
        raise ValueError(f"not a get_throttled value: {text!r}")
    return raw


def _flags(bits: int) -> ThrottleFlags:
    return ThrottleFlags(
        under_voltage=bool(bits & _UNDER_VOLTAGE),
        frequency_capped=bool(bits & _FREQUENCY_CAPPED),
        throttled=bool(bits & _THROTTLED),
        soft_temperature_limit=bool(bits & _SOFT_TEMPERATURE_LIMIT),
    )


def decode_throttled(raw: int) -> tuple[ThrottleFlags, ThrottleFlags]:
    """``(now, since_boot)`` decoded from the bit field; other bits are ignored."""
    return _flags(raw), _flags(raw >> _SINCE_BOOT_SHIFT)


def active_conditions(flags: ThrottleFlags) -> list[str]:
    """Human-readable names of the conditions set in ``flags``, in bit order."""
    names = []
    if flags.under_voltage:
        names.append("under-voltage")
    if flags.frequency_capped:
        names.append("ARM frequency capped")
    if flags.throttled:
        names.append("throttled")
    if flags.soft_temperature_limit:
        names.append("soft temperature limit")
    return names
