"""Decoding eMMC wear estimates as Linux's mmc driver prints them in sysfs.

The eMMC standard (JEDEC JESD84-B51, EXT_CSD bytes 267-269) defines three health fields the
kernel exposes per card under ``/sys/block/mmcblkN/device/``:

* ``life_time``: ``DEVICE_LIFE_TIME_EST_TYP_A`` and ``_TYP_B``, printed ``"0x01 0x02"``; each
  0x01-0x0A is 0-10 % ... 90-100 % of the rated life used, 0x0B exceeded, 0x00 not defined.
* ``pre_eol_info``: ``PRE_EOL_INFO``, printed ``"0x01"``; 0x01 normal, 0x02 warning (80 % of
  the reserved blocks consumed), 0x03 urgent (90 %), 0x00 not defined.

SD cards have no such fields (the kernel creates the files only for MMC cards).
"""

from __future__ import annotations

from ..message import PreEol, WearEstimate

__all__ = ["EXCEEDED", "decode_life_time", "decode_pre_eol", "parse_hex_fields"]

EXCEEDED = 0x0B
"""The life-time estimate meaning the device has used more than its rated life."""

_PRE_EOL: dict[int, PreEol] = {0x00: "undefined", 0x01: "normal", 0x02: "warning", 0x03: "urgent"}


def parse_hex_fields(text: str, count: int) -> tuple[int, ...]:
    """The ``count`` hexadecimal bytes of a sysfs value such as ``"0x01 0x02\\n"``.

    Raises:
        ValueError: if ``text`` does not hold exactly ``count`` values of 0x00-0xFF.
    """
    fields = text.split()
    if len(fields) != count:
        raise ValueError(f"expected {count} hexadecimal value(s), got {text.strip()!r}")
    values = []
    for field in fields:
        try:
            value = int(field, 16)
        except ValueError:
            raise ValueError(f"not a hexadecimal value: {field!r}") from None
        if not 0 <= value <= 0xFF:
            raise ValueError(f"not a byte: {field!r}")
        values.append(value)
    return tuple(values)


def decode_life_time(raw: int) -> WearEstimate:
    """One life-time estimate: 0x01 -> 0-10 % used ... 0x0A -> 90-100 %, 0x0B -> exceeded.

    0x00 (not defined) and the values the standard reserves (above 0x0B) have no bounds.
    """
    if 0x01 <= raw <= 0x0A:
        return WearEstimate(raw, (raw - 1) * 10, raw * 10)
    if raw == EXCEEDED:
        return WearEstimate(raw, 100, None, exceeded=True)
    return WearEstimate(raw, None, None)


def decode_pre_eol(raw: int) -> PreEol:
    """``PRE_EOL_INFO``: 0x01 normal, 0x02 warning, 0x03 urgent, 0x00 undefined, else reserved."""
    return _PRE_EOL.get(raw, "reserved")
