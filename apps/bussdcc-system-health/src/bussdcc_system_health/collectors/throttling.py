"""`ThrottlingCollector`: the Raspberry Pi firmware's throttle state (sysfs, else vcgencmd)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..message import ThrottlingUpdated
from ..telemetry.throttling import decode_throttled, parse_throttled
from .absence import RECHECK_ABSENT, REPEAT_UNAVAILABLE, Absence

__all__ = ["GET_THROTTLED_SYSFS", "ThrottlingCollector"]

GET_THROTTLED_SYSFS = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
"""Where Raspberry Pi OS kernels expose the firmware's throttle bits (hexadecimal)."""


def _run_vcgencmd(executable: str) -> str:
    result = subprocess.run(
        [executable, "get_throttled"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise OSError(f"vcgencmd get_throttled failed: {detail}")
    return result.stdout


class ThrottlingCollector:
    """Raspberry Pi firmware throttle state.

    Reads the sysfs file first (no process per tick) and falls back to ``vcgencmd
    get_throttled``; both report the same firmware value. Where neither exists, or neither
    can be read, the message is ``available=False`` with a reason naming what was tried.
    Where neither exists (not a Pi), the next ``recheck_absent`` seconds reuse that message
    without looking again. An unavailable message is emitted when it changes and every
    ``repeat_unavailable`` seconds (10 minutes), else `collect` returns None.

    Raises:
        TypeError: if ``recheck_absent`` or ``repeat_unavailable`` is not a number.
        ValueError: if either is negative, NaN or infinite.
    """

    name = "throttling"

    def __init__(
        self,
        sysfs_path: Path = GET_THROTTLED_SYSFS,
        *,
        which: Callable[[str], str | None] = shutil.which,
        run_vcgencmd: Callable[[str], str] = _run_vcgencmd,
        recheck_absent: float = RECHECK_ABSENT,
        repeat_unavailable: float = REPEAT_UNAVAILABLE,
    ) -> None:
        self._sysfs_path = sysfs_path
        self._which = which
        self._run_vcgencmd = run_vcgencmd
        self._absence: Absence[ThrottlingUpdated] = Absence(recheck_absent, repeat_unavailable)

    def collect(self, now: float) -> ThrottlingUpdated | None:
        msg = self._absence.recent(now)
        if msg is None:
            # Only "neither source exists" is remembered: a source that exists but failed (a
            # vcgencmd timeout) is tried again next tick.
            msg, absent = self._sample()
            self._absence.note(now, msg, absent)
        return self._absence.due(now, msg, msg.available)

    def _sample(self) -> tuple[ThrottlingUpdated, bool]:
        """The message, and whether it is unavailable because no source exists at all."""
        problems = []
        sysfs_exists = self._sysfs_path.exists()
        if sysfs_exists:
            try:
                raw = parse_throttled(self._sysfs_path.read_text())
                return self._decoded(raw, str(self._sysfs_path)), False
            except (OSError, ValueError) as exc:
                problems.append(f"{self._sysfs_path}: {exc}")
        else:
            problems.append(f"{self._sysfs_path} does not exist")
        executable = self._which("vcgencmd")
        if executable is None:
            problems.append("vcgencmd is not on PATH")
        else:
            try:
                raw = parse_throttled(self._run_vcgencmd(executable))
                return self._decoded(raw, "vcgencmd"), False
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                problems.append(str(exc))
        msg = ThrottlingUpdated(
            available=False,
            reason="no Raspberry Pi throttle information: " + "; ".join(problems),
        )
        return msg, not sysfs_exists and executable is None

    @staticmethod
    def _decoded(raw: int, source: str) -> ThrottlingUpdated:
        now, since_boot = decode_throttled(raw)
        return ThrottlingUpdated(
            available=True, raw=raw, now=now, since_boot=since_boot, source=source
        )
