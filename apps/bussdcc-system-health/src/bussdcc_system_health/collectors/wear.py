"""`StorageWearCollector`: eMMC wear estimates from sysfs, reported on change and hourly."""

from __future__ import annotations

import re
from pathlib import Path

from ..message import StorageWear, StorageWearUpdated
from ..telemetry.wear import decode_life_time, decode_pre_eol, parse_hex_fields
from ..validation import positive_seconds
from .absence import RECHECK_ABSENT
from .cadence import EVERY_HOUR, OnChange

__all__ = ["StorageWearCollector"]

_CARD = re.compile(r"^mmcblk\d+$")  # not mmcblk0boot0 & co: they share the card's device/

NO_EMMC = (
    "no eMMC device reports wear (looked for device/life_time and device/pre_eol_info "
    "under {block}/mmcblk*; SD cards and other disks do not report it)"
)


class StorageWearCollector:
    """Wear of every eMMC device that exposes ``device/life_time`` and ``device/pre_eol_info``.

    Reads sysfs every ``check_every`` seconds (two small files per card; the first tick
    always reads) and returns the message when it differs from the last one returned, or
    ``repeat`` seconds after it; otherwise None. With no such device the message is
    ``available=False`` with a reason; a card whose files cannot be read or parsed is named
    in the reason and left out.

    Raises:
        TypeError: if ``check_every`` or ``repeat`` is not a number.
        ValueError: if ``check_every`` is not positive and finite, or ``repeat`` is negative,
            NaN or infinite.
    """

    name = "storage_wear"

    def __init__(
        self,
        sysfs: Path | str = "/sys",
        *,
        check_every: float = RECHECK_ABSENT,
        repeat: float = EVERY_HOUR,
    ) -> None:
        self._block = Path(sysfs) / "block"
        self.check_every = positive_seconds(check_every, "check_every")
        self._news: OnChange[StorageWearUpdated] = OnChange(repeat)
        self._checked: float | None = None
        self._latest: StorageWearUpdated | None = None

    def collect(self, now: float) -> StorageWearUpdated | None:
        if self._latest is None or self._checked is None or now - self._checked >= self.check_every:
            self._latest, self._checked = self._read(), now
        return self._news(now, self._latest)

    def _read(self) -> StorageWearUpdated:
        devices, problems = [], []
        try:
            cards = sorted(p for p in self._block.iterdir() if _CARD.match(p.name))
        except OSError:
            cards = []
        for card in cards:
            device = card / "device"
            if not (device / "life_time").exists() or not (device / "pre_eol_info").exists():
                continue  # an SD card, or a kernel older than 4.15
            try:
                type_a, type_b = parse_hex_fields((device / "life_time").read_text(), 2)
                (pre_eol,) = parse_hex_fields((device / "pre_eol_info").read_text(), 1)
            except (OSError, ValueError) as exc:
                problems.append(f"{card.name}: {exc}")
                continue
            devices.append(
                StorageWear(
                    device=card.name,
                    life_time_a=decode_life_time(type_a),
                    life_time_b=decode_life_time(type_b),
                    pre_eol=decode_pre_eol(pre_eol),
                    pre_eol_raw=pre_eol,
                    model=_model(device),
                )
            )
        if devices:
            return StorageWearUpdated(available=True, devices=tuple(devices))
        if problems:
            return StorageWearUpdated(
                available=False, reason="eMMC wear unreadable: " + "; ".join(problems)
            )
        return StorageWearUpdated(available=False, reason=NO_EMMC.format(block=self._block))


def _model(device: Path) -> str | None:
    try:
        return (device / "name").read_text().strip() or None
    except OSError:
        return None
