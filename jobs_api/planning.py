"""``POST /v1/plan``'s work: the capacity plan ``transcription-router plan --json`` prints
(:func:`transcription.planner.make_plan`, same figures), and the chart's lines.

The answer is ``{"plan": <the --json object>, "chart": {...}, "choices": {...}}``: the chart
holds the self-hosted and managed monthly costs at log-spaced volumes around the plan (the
range ``--chart`` draws), the crossover point and the plan's volume, so the console draws the
chart itself; ``choices`` lists the models and instance types the figures know.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jobs_api.exceptions import InvalidRequest
from transcription.planner import Figures, PlanInputError, PlanInputs, load_figures, make_plan
from transcription.planner.chart import volume_range
from transcription.planner.crossover import volumes
from transcription.planner.plan import at_volume, monthly_costs

__all__ = ["InvalidPlanInput", "figures", "plan_answer"]

CHART_POINTS_PER_DECADE = 12
_FIELD = re.compile(r"^([a-z_]+)=")


class InvalidPlanInput(InvalidRequest):
    """The planner refused an input (its message names the field and the value)."""

    code = "invalid_plan_input"


@functools.cache
def figures() -> Figures:
    """The planner's figures (PLANNER_PRICES, else the shipped prices.json), read once."""
    return load_figures()


def plan_answer(inputs: PlanInputs, figures: Figures) -> dict[str, Any]:
    """The plan, its chart's lines and the known choices; bad input raises InvalidPlanInput."""
    try:
        plan = make_plan(inputs, figures)
    except PlanInputError as error:
        found = _FIELD.match(str(error))
        raise InvalidPlanInput(str(error), field=found.group(1) if found else "body") from None
    low, high = volume_range(plan)
    points = []
    for volume in volumes(low, high, per_decade=CHART_POINTS_PER_DECADE):
        _, own, managed = monthly_costs(at_volume(inputs, volume), figures)
        points.append(
            {
                "tasks_per_month": volume,
                "self_hosted_usd": round(own.total_usd, 2),
                "managed_usd": round(managed.total_usd, 2),
            }
        )
    crossover = None
    if plan.crossover_tasks_per_month is not None:
        at = plan.crossover_tasks_per_month
        _, _, managed = monthly_costs(at_volume(inputs, at), figures)
        crossover = {"tasks_per_month": at, "usd": round(managed.total_usd, 2)}
    return {
        "plan": plan.to_dict(),
        "chart": {
            "points": points,
            "crossover": crossover,
            "plan_tasks_per_month": inputs.tasks_per_month,
        },
        "choices": {
            "models": sorted({model for model, _ in figures.speeds}),
            "instance_types": sorted(figures.instances),
        },
    }
