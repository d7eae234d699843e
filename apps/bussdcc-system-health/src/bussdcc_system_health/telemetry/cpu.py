"""CPU time shares from two readings of the cumulative per-state CPU time counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CpuShares", "cpu_shares"]

# On Linux guest time is already counted in user (and guest_nice in nice): adding it again
# would inflate the total, so it is left out as psutil and top do.
_COUNTED_ELSEWHERE = frozenset({"guest", "guest_nice"})


@dataclass(slots=True, frozen=True)
class CpuShares:
    """Percent of the interval spent in each state; ``busy`` is 100 - idle - iowait."""

    user: float
    system: float
    iowait: float
    idle: float
    busy: float


def cpu_shares(previous: Mapping[str, float], current: Mapping[str, float]) -> CpuShares | None:
    """Each state's share of the CPU time that passed between two readings, in percent.

    The readings map state names (``user``, ``system``, ``idle``, ``iowait``, ``nice``,
    ``irq``, ...; as `psutil.cpu_times` fields) to cumulative seconds. A state missing from
    a reading counts as 0. A counter that went backwards (the kernel occasionally does this
    for idle and iowait) contributes nothing rather than a negative share. Shares are
    rounded to 0.1.

    Returns None when no CPU time passed between the readings: then there is no share to
    report, and reporting zeros would read as 100 % busy.
    """
    deltas = {
        state: max(0.0, current[state] - previous.get(state, 0.0))
        for state in current
        if state not in _COUNTED_ELSEWHERE
    }
    total = sum(deltas.values())
    if total <= 0:
        return None

    def share(state: str) -> float:
        return round(100.0 * deltas.get(state, 0.0) / total, 1)

    idle, iowait = share("idle"), share("iowait")
    return CpuShares(
        user=share("user"),
        system=share("system"),
        iowait=iowait,
        idle=idle,
        busy=round(max(0.0, 100.0 - idle - iowait), 1),
    )
