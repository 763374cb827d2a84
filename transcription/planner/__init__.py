"""The capacity planner: GPUs, monthly costs and the crossover against AWS Transcribe.

``transcription-router plan`` is its command (:mod:`transcription.planner.command`); the
library is plain functions over one versioned data file of prices and speeds
(:mod:`transcription.planner.figures`, ``prices.json``). The arithmetic of "can the fleet finish
in time" lives in :mod:`transcription.planner.fleet`, for the planner and for the router's
overflow decision alike.

The three phases it recommends between:

* **managed** (Phase 1): AWS Transcribe and Bedrock, no GPUs; below the crossover.
* **growth** (Phase 2): one always-on GPU server and autoscaled Spot workers; above the
  crossover while the peak needs at most ``growth_max_gpus_peak`` GPUs (8).
* **scale** (Phase 3): a fleet with several models per box and reserved or Savings Plan
  capacity for the base load; beyond that.

Standard library only: matplotlib is imported by :mod:`transcription.planner.chart` when a
chart is drawn, never here.
"""

from transcription.planner.crossover import find_crossover
from transcription.planner.exceptions import FiguresError, PlanInputError, UnknownFigure
from transcription.planner.figures import Figures, calibrated, load_figures
from transcription.planner.plan import Plan, PlanInputs, make_plan, monthly_costs

__all__ = [
    "Figures",
    "FiguresError",
    "Plan",
    "PlanInputError",
    "PlanInputs",
    "UnknownFigure",
    "calibrated",
    "find_crossover",
    "load_figures",
    "make_plan",
    "monthly_costs",
]
