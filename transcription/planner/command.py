"""``transcription-router plan``: the capacity planner on the command line.

::

    transcription-router plan --tasks-per-month 50000 --minutes-per-task 3
        [--peak-ratio 3] [--latency-target 3600] [--model large-v3]
        [--instance-type g5.xlarge] [--spot-share 0.8] [--summary-share 0]
        [--longest-minutes M] [--json] [--chart out.png] [--calibrate bench.json]

A table on stdout, or with ``--json`` one JSON object (``gpus_peak``, ``gpus_mean``,
``self_hosted_monthly_usd``, ``managed_monthly_usd``, ``savings_fraction``, ``phase``,
``crossover_tasks_per_month`` and the parts behind them). ``--chart`` also draws the cost
crossover chart (needs matplotlib: the ``plan`` extra). A bad value exits with status 2 and a
line naming it. The figures come from ``PLANNER_PRICES`` or the shipped prices.json;
``--calibrate`` puts a bench file's measured speeds in place of theirs.

Nothing here loads an engine: this module and the planner are standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from transcription.exceptions import TranscriptionError
from transcription.planner.crossover import search_top
from transcription.planner.figures import Figures, calibrated, load_figures
from transcription.planner.plan import PHASES, Plan, PlanInputs, make_plan

__all__ = ["add_plan_parser", "format_table", "run_plan"]

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULTS = PlanInputs(tasks_per_month=1, minutes_per_task=1)


def add_plan_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    plan = commands.add_parser(
        "plan",
        help="GPUs and monthly cost of a workload, against AWS Transcribe",
        description="Capacity plan: GPUs at peak and on average, self-hosted and managed "
        "monthly cost, savings, the recommended phase and the crossover volume.",
    )
    plan.add_argument("--tasks-per-month", type=_positive, required=True, metavar="N")
    plan.add_argument(
        "--minutes-per-task",
        type=_positive,
        required=True,
        metavar="MIN",
        help="mean audio minutes per task",
    )
    plan.add_argument(
        "--peak-ratio",
        type=_positive,
        default=DEFAULTS.peak_ratio,
        help="busiest hour's rate ÷ the mean rate, 1–24 (default: %(default)s)",
    )
    plan.add_argument(
        "--latency-target",
        type=_positive,
        metavar="SECONDS",
        default=DEFAULTS.latency_target_seconds,
        help="a task is done within this (default: %(default)s)",
    )
    plan.add_argument("--model", default=DEFAULTS.model, help="default: %(default)s")
    plan.add_argument(
        "--instance-type",
        default=DEFAULTS.instance_type,
        help="GPU (or CPU) instance type (default: %(default)s)",
    )
    plan.add_argument(
        "--spot-share",
        type=_share,
        default=DEFAULTS.spot_share,
        help="share of worker hours on Spot, 0–1 (default: %(default)s)",
    )
    plan.add_argument(
        "--summary-share",
        type=_share,
        default=DEFAULTS.summary_share,
        help="share of tasks with a Bedrock summary, 0–1 (default: %(default)s)",
    )
    plan.add_argument(
        "--longest-minutes",
        type=_positive,
        default=None,
        metavar="MIN",
        help="the longest task's audio minutes (default: --minutes-per-task)",
    )
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.add_argument(
        "--chart",
        type=Path,
        default=None,
        metavar="OUT.png",
        help="draw the cost crossover chart (needs matplotlib)",
    )
    plan.add_argument(
        "--calibrate",
        type=Path,
        default=None,
        metavar="BENCH.json",
        help="speeds measured by bench/bench_engine.py --json",
    )
    return plan


def _positive(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a number > 0")
    return value


def _share(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be between 0 and 1")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: must be finite")
    return value


def run_plan(args: argparse.Namespace, prog: str) -> int:
    inputs = PlanInputs(
        tasks_per_month=args.tasks_per_month,
        minutes_per_task=args.minutes_per_task,
        peak_ratio=args.peak_ratio,
        latency_target_seconds=args.latency_target,
        model=args.model,
        instance_type=args.instance_type,
        spot_share=args.spot_share,
        summary_share=args.summary_share,
        longest_task_minutes=args.longest_minutes,
    )
    try:
        figures = load_figures()
        if args.calibrate is not None:
            figures = calibrated(figures, args.calibrate)
        plan = make_plan(inputs, figures)
    except TranscriptionError as error:
        _error(prog, str(error))
        return EXIT_USAGE
    if args.chart is not None and (status := _chart(plan, figures, args.chart, prog)):
        return status
    text = json.dumps(plan.to_dict(), indent=2) + "\n" if args.json else format_table(plan)
    sys.stdout.write(text)
    return EXIT_OK


def _error(prog: str, message: str) -> None:
    sys.stderr.write(f"{prog}: error: {message}\n")


def _chart(plan: Plan, figures: Figures, path: Path, prog: str) -> int:
    try:
        from transcription.planner.chart import draw_chart
    except ImportError:  # pragma: no cover - the dev environment has matplotlib
        _error(prog, "--chart needs matplotlib (pip install '.[plan]')")
        return EXIT_USAGE
    try:
        draw_chart(plan, figures, path)
    except OSError as error:
        _error(prog, f"--chart {path}: {error.strerror or error}")
        return EXIT_USAGE
    sys.stderr.write(f"{prog}: chart written to {path}\n")
    return EXIT_OK


def format_table(plan: Plan) -> str:
    """The plan as aligned lines for a terminal."""
    inputs, own, managed, sized = plan.inputs, plan.self_hosted, plan.managed, plan.fleet
    crossover = plan.crossover_tasks_per_month
    rows = [
        ("workload", f"{inputs.tasks_per_month:,.0f} tasks/month x {inputs.minutes_per_task:g} "
                     f"min = {plan.audio_minutes_per_month:,.0f} audio min"),
        ("model on instance", f"{inputs.model} on {inputs.instance_type} "
                              f"({plan.instance.accelerator}): {plan.speed.speed:g}x real time "
                              f"({plan.speed.source.kind})"),
        ("GPUs at peak", f"{plan.gpus_peak}  (peak {inputs.peak_ratio:g}x the mean rate, "
                         f"latency target {inputs.latency_target_seconds:g} s)"),
        ("GPUs on average", f"{plan.gpus_mean}"),
        ("self-hosted", f"${own.total_usd:,.2f}/month  (server ${own.server_usd:,.2f}, "
                        f"workers ${own.workers_usd:,.2f} for {own.worker_hours:,.1f} h, "
                        f"overhead ${own.overhead_usd:,.2f}, summaries ${own.summary_usd:,.2f})"),
        ("managed", f"${managed.total_usd:,.2f}/month  (Transcribe "
                    f"${managed.transcribe_usd:,.2f} for {managed.billed_minutes:,.0f} min, "
                    f"summaries ${managed.summary_usd:,.2f})"),
        ("savings", f"{plan.savings_fraction:.1%} of the managed cost"),
        ("crossover", f"none: self-hosting costs more up to "
                      f"{search_top(inputs.tasks_per_month):,} tasks/month" if crossover is None
                      else f"{crossover:,} tasks/month"),
        ("phase", f"{plan.phase}: {PHASES[plan.phase]}"),
        ("figures", f"{plan.figures_path} (version {plan.figures_version}, "
                    f"as of {plan.figures_as_of})"),
    ]  # fmt: skip
    if sized.peak_backlog_audio_seconds > 0:
        rows.insert(3, ("peak backlog", f"{sized.peak_backlog_audio_seconds:,.0f} s of audio at "
                                        "the end of the busiest hour"))  # fmt: skip
    width = max(len(name) for name, _ in rows)
    return "".join(f"{name:<{width}}  {value}\n" for name, value in rows)
