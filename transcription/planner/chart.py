"""The cost crossover chart: monthly cost against tasks a month, self-hosted and managed.

matplotlib is imported here, inside :func:`draw_chart`, with the Agg backend (no display): the
planner itself stays standard-library only and ``plan`` without ``--chart`` never loads it
(install the ``plan`` extra for charts). Both axes are logarithmic: the volumes span five
decades and the costs three. The crossover is a marker of its own colour
(:data:`CROSSOVER_COLOUR`, used by nothing else on the chart); :class:`Chart` returns where it
sits in data coordinates and in the PNG's pixels (from the axes' ``transData``), so a test can
look for that colour there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from transcription.planner.crossover import volumes
from transcription.planner.figures import Figures
from transcription.planner.plan import Plan, at_volume, monthly_costs

__all__ = ["CROSSOVER_COLOUR", "MANAGED_COLOUR", "SELF_HOSTED_COLOUR", "Chart", "draw_chart"]

SELF_HOSTED_COLOUR = "#1f77b4"
MANAGED_COLOUR = "#ff7f0e"
CROSSOVER_COLOUR = "#d6006f"  # a magenta nothing else on the chart uses
DPI = 100
SIZE_INCHES = (8.0, 5.0)
MARKER_POINTS = 11


@dataclass(frozen=True)
class Chart:
    path: Path
    width_px: int
    height_px: int
    crossover: tuple[float, float] | None  # (tasks a month, USD a month)
    crossover_px: tuple[float, float] | None  # (column, row) in the PNG, row 0 at the top
    axes_px: tuple[float, float, float, float]  # left, bottom, right, top in display pixels
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def volume_range(plan: Plan) -> tuple[int, int]:
    """Two decades either side of the larger of the plan's volume and its crossover."""
    centre = plan.inputs.tasks_per_month
    if plan.crossover_tasks_per_month is not None:
        centre = math.sqrt(centre * plan.crossover_tasks_per_month)
    return max(1, math.floor(centre / 300)), math.ceil(centre * 300)


def draw_chart(plan: Plan, figures: Figures, path: str | Path) -> Chart:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    low, high = volume_range(plan)
    xs = volumes(low, high, per_decade=60)
    own, managed = [], []
    for volume in xs:
        _, own_cost, managed_cost = monthly_costs(at_volume(plan.inputs, volume), figures)
        own.append(own_cost.total_usd)
        managed.append(managed_cost.total_usd)

    figure, axes = pyplot.subplots(figsize=SIZE_INCHES, dpi=DPI)
    try:
        inputs = plan.inputs
        label = f"self-hosted: {inputs.model} on {inputs.instance_type}"
        axes.plot(xs, own, color=SELF_HOSTED_COLOUR, label=label)
        axes.plot(xs, managed, color=MANAGED_COLOUR, label="managed: AWS Transcribe")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("tasks per month")
        axes.set_ylabel("cost per month (USD)")
        axes.set_title(
            f"Monthly cost at {inputs.minutes_per_task:g} min per task "
            f"(prices as of {plan.figures_as_of})"
        )
        axes.axvline(inputs.tasks_per_month, color="0.6", linestyle=":", label="this plan")
        point = None
        if plan.crossover_tasks_per_month is not None:
            volume = plan.crossover_tasks_per_month
            _, _, managed_cost = monthly_costs(at_volume(inputs, volume), figures)
            point = (float(volume), managed_cost.total_usd)
            axes.plot(
                [point[0]], [point[1]], "o", color=CROSSOVER_COLOUR,
                markersize=MARKER_POINTS, label=f"crossover: {volume:,} tasks/month",
            )  # fmt: skip
        axes.legend(loc="best")  # placed away from the lines and the marker
        axes.grid(True, which="major", color="0.9")
        figure.canvas.draw()  # fix the layout before reading positions
        width, height = figure.canvas.get_width_height()
        pixel = None
        if point is not None:
            x, y = axes.transData.transform(point)
            pixel = (float(x), float(height - y))
        box = axes.get_window_extent()
        figure.savefig(path, dpi=DPI)
        xlim = axes.get_xlim()
        ylim = axes.get_ylim()
    finally:
        pyplot.close(figure)
    return Chart(
        path=Path(path),
        width_px=width,
        height_px=height,
        crossover=point,
        crossover_px=pixel,
        axes_px=(box.x0, box.y0, box.x1, box.y1),
        xlim=(float(xlim[0]), float(xlim[1])),
        ylim=(float(ylim[0]), float(ylim[1])),
    )
