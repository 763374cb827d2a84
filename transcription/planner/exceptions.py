"""Named errors of the capacity planner; each message names the field and the value."""

from __future__ import annotations

from transcription.exceptions import TranscriptionError

__all__ = ["FiguresError", "PlanInputError", "UnknownFigure"]


class PlanInputError(TranscriptionError):
    """A planner input is out of range (``tasks_per_month=-1``, ``spot_share=1.5``)."""

    code = "invalid_plan_input"


class FiguresError(TranscriptionError):
    """The price data file or a calibration file is unreadable or malformed."""

    code = "invalid_figures"


class UnknownFigure(PlanInputError):
    """No price or speed for the instance type or model asked; the message lists the known."""

    code = "unknown_figure"
