"""What the host did during a benchmark: the share of CPU time the hypervisor stole.

On these VMs steal swings between 0 and ~45 % and slows every process alike, so the benchmarks
print it next to their timings."""

from __future__ import annotations


def cpu_times() -> list[int] | None:
    """The aggregate ``cpu`` line of /proc/stat (None where there is none)."""
    try:
        with open("/proc/stat") as fh:
            return [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def steal_pct(before: list[int] | None, after: list[int] | None) -> float | None:
    """Percent of CPU time stolen between two ``cpu_times()`` readings."""
    if not before or not after or len(after) <= 7:
        return None
    delta = [a - b for a, b in zip(after, before)]
    return 100.0 * delta[7] / max(1, sum(delta[:8]))
