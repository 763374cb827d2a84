"""The crossover: the monthly volume from which self-hosting stays cheaper than Transcribe.

The two monthly costs are not smooth in the volume: GPU counts are whole numbers (the
self-hosted line steps up when a worker is added) and Transcribe's tiers bend the managed
line, so the lines can touch more than once. The crossover is therefore defined as the
**smallest whole number of tasks a month from which self-hosting is cheaper or equal at
every volume up to the top of the searched range** (``MAX_TASKS_PER_MONTH``, or ten times the
planned volume if that is more), and found numerically:

1. evaluate ``self-hosted − managed`` on a log-spaced grid (``POINTS_PER_DECADE`` a decade)
   from one task a month to the top;
2. the last grid point where self-hosting costs more brackets the answer with the next one;
3. bisect that bracket down to one task.

``None`` when self-hosting still costs more at the top of the range; ``1`` when it is never
dearer. A step narrower than the grid's spacing above the bracket could hide a later dip;
at 40 points a decade the spacing is 6 %, narrower than the figures' own uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from transcription.planner.figures import Figures
from transcription.planner.plan import PlanInputs, at_volume, monthly_costs

__all__ = [
    "MAX_TASKS_PER_MONTH",
    "POINTS_PER_DECADE",
    "cost_gap",
    "find_crossover",
    "search_top",
    "volumes",
]

MAX_TASKS_PER_MONTH = 100_000_000
POINTS_PER_DECADE = 40


def cost_gap(inputs: PlanInputs, figures: Figures) -> Callable[[float], float]:
    """``v ↦ self-hosted(v) − managed(v)`` in USD a month, all other inputs fixed."""

    def gap(tasks_per_month: float) -> float:
        _, own, managed = monthly_costs(at_volume(inputs, tasks_per_month), figures)
        return own.total_usd - managed.total_usd

    return gap


def volumes(low: int, high: int, per_decade: int = POINTS_PER_DECADE) -> list[int]:
    """Whole volumes, log-spaced from ``low`` to ``high`` (both included), without repeats."""
    steps = max(1, math.ceil(math.log10(high / low) * per_decade))
    return sorted({round(low * (high / low) ** (i / steps)) for i in range(steps + 1)})


def search_top(tasks_per_month: float) -> int:
    """The top of the searched range: 100 million tasks, or ten times the plan's volume."""
    return max(MAX_TASKS_PER_MONTH, math.ceil(10 * tasks_per_month))


def find_crossover(inputs: PlanInputs, figures: Figures) -> int | None:
    gap = cost_gap(inputs, figures)
    grid = volumes(1, search_top(inputs.tasks_per_month))
    dearer = [i for i, v in enumerate(grid) if gap(v) > 0]
    if not dearer:
        return 1
    if dearer[-1] == len(grid) - 1:
        return None
    low, high = grid[dearer[-1]], grid[dearer[-1] + 1]  # dearer at low, not at high
    while high - low > 1:
        middle = (low + high) // 2
        if gap(middle) > 0:
            low = middle
        else:
            high = middle
    return high
