"""The capacity plan: a workload in, GPUs, monthly costs, savings and the phase out.

How the numbers come about (every figure from :mod:`transcription.planner.figures`):

1. **Rates.** Audio a month = tasks × minutes × 60 s. The mean rate ``a_mean`` is that ÷ the
   seconds of a month (730 h); the peak rate ``a_peak = peak_ratio × a_mean`` holds for one
   peak window a day (1 h); the rest of the day runs evenly at
   ``a_off = (24 h × a_mean − 1 h × a_peak) ÷ 23 h`` (so ``peak_ratio`` is at most 24).
2. **GPUs.** One instance of the model on the instance type's accelerator transcribes
   ``speed`` audio seconds per second. ``gpus_peak``: the fewest instances for which the last
   task of the peak window, waiting behind the window's backlog, still finishes within the
   latency target (:func:`transcription.planner.fleet.gpus_for_deadline`), and no fewer than
   ``gpus_mean = ⌈a_mean ÷ speed⌉`` (so the peak's backlog is gone before the next day's
   peak); the longest task's own processing must fit in the target, else the plan is refused.
   Both are at least the always-on server.
3. **Self-hosted a month.** The always-on server, on-demand, every hour of the month. The
   workers: ``n_off = ⌈a_off ÷ speed⌉`` instances all day, less the server, and the extra
   ``gpus_peak − n_off`` for the peak window, each billed for the window, the time the peak's
   backlog takes to clear after it, its start and its idle wait before it stops (the scale-in
   delay). Worker hours cost ``spot_share × Spot + (1 − spot_share) × on-demand``. Plus the
   fixed overhead and a cost per task (figures' ``overhead``), plus summaries if asked.
4. **Managed a month.** :func:`transcription.planner.costs.managed_cost`.
5. **Savings** ``= (managed − self-hosted) ÷ managed`` (negative when self-hosting costs more).
6. **Crossover** (:mod:`transcription.planner.crossover`) and **phase**: below the crossover
   (or when there is none) ``managed``; above it, ``growth`` while ``gpus_peak`` ≤ the
   figures' ``growth_max_gpus_peak`` (8), else ``scale``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from transcription.planner import fleet
from transcription.planner.costs import (
    SECONDS_PER_DAY,
    ManagedCost,
    SelfHostedCost,
    managed_cost,
    summary_usd,
    worker_usd_per_hour,
)
from transcription.planner.exceptions import PlanInputError
from transcription.planner.figures import Figures, Instance, Speed

__all__ = [
    "PHASES",
    "Fleet",
    "Plan",
    "PlanInputs",
    "at_volume",
    "choose_phase",
    "make_plan",
    "monthly_costs",
    "self_hosted_cost",
    "size_fleet",
]

PHASES = {
    "managed": "Phase 1: managed services, AWS Transcribe (and Bedrock), no GPUs",
    "growth": "Phase 2: one always-on GPU server + autoscaled Spot workers",
    "scale": "Phase 3: a GPU fleet, several models per box, reserved capacity for the base load",
}
MAX_PEAK_RATIO = 24.0  # one peak hour a day cannot hold more than the whole day's work


@dataclass(frozen=True)
class PlanInputs:
    tasks_per_month: float
    minutes_per_task: float
    peak_ratio: float = 3.0
    latency_target_seconds: float = 3600.0
    model: str = "large-v3"
    instance_type: str = "g5.xlarge"
    spot_share: float = 0.8
    summary_share: float = 0.0
    longest_task_minutes: float | None = None  # default: minutes_per_task

    def check(self) -> None:
        """Refuse out-of-range values, naming the field and the value."""
        _positive("tasks_per_month", self.tasks_per_month)
        _positive("minutes_per_task", self.minutes_per_task)
        _positive("latency_target_seconds", self.latency_target_seconds)
        if not 1.0 <= self.peak_ratio <= MAX_PEAK_RATIO:
            raise PlanInputError(
                f"peak_ratio={self.peak_ratio!r}: must be between 1 and {MAX_PEAK_RATIO:g} "
                "(the busiest hour's rate ÷ the mean rate)"
            )
        for name in ("spot_share", "summary_share"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise PlanInputError(f"{name}={value!r}: must be between 0 and 1")
        if self.longest_task_minutes is not None:
            _positive("longest_task_minutes", self.longest_task_minutes)
            if self.longest_task_minutes < self.minutes_per_task:
                raise PlanInputError(
                    f"longest_task_minutes={self.longest_task_minutes!r}: shorter than "
                    f"minutes_per_task={self.minutes_per_task!r}"
                )

    @property
    def longest_minutes(self) -> float:
        return self.longest_task_minutes or self.minutes_per_task


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise PlanInputError(f"{name}={value!r}: must be a number > 0")
    if math.isinf(value):
        raise PlanInputError(f"{name}={value!r}: must be finite")


@dataclass(frozen=True)
class Fleet:
    """The GPU instances a workload needs and the rates they were sized for."""

    speed: float
    mean_rate: float  # audio seconds per second, month average
    peak_rate: float
    off_peak_rate: float
    gpus_peak: int
    gpus_mean: int
    gpus_off_peak: int
    peak_backlog_audio_seconds: float
    backlog_clear_seconds: float  # after the peak window, until the backlog is gone


def size_fleet(inputs: PlanInputs, figures: Figures, speed: float) -> Fleet:
    month_seconds = figures.fleet.hours_per_month * 3600.0
    window = figures.fleet.peak_window_seconds
    servers = figures.fleet.always_on_servers
    mean = inputs.tasks_per_month * inputs.minutes_per_task * 60.0 / month_seconds
    peak = mean * inputs.peak_ratio
    off_peak = max(0.0, (SECONDS_PER_DAY * mean - window * peak) / (SECONDS_PER_DAY - window))
    longest = inputs.longest_minutes * 60.0
    processing = fleet.processing_seconds(longest, speed)
    if processing > inputs.latency_target_seconds:
        raise PlanInputError(
            f"latency_target_seconds={inputs.latency_target_seconds:g}: shorter than "
            f"processing the longest task ({longest:g} s of audio at {speed:g}x real time "
            f"= {processing:.0f} s on one instance)"
        )
    gpus_off = max(servers, fleet.gpus_for_rate(off_peak, speed))
    gpus_mean = max(servers, fleet.gpus_for_rate(mean, speed))
    # At least the mean: then the peak's backlog is gone before the next day's peak (a fleet
    # slower than the mean rate would carry a growing backlog from day to day).
    gpus_peak = fleet.gpus_for_deadline(
        peak, speed, window, longest, inputs.latency_target_seconds,
        at_least=max(gpus_off, gpus_mean),
    )  # fmt: skip
    speed_of_fleet = fleet.fleet_speed(gpus_peak, speed)
    backlog = fleet.peak_backlog_audio_seconds(peak, speed_of_fleet, window)
    # After the window the backlog clears at the fleet's speed less the off-peak arrivals; the
    # extra peak workers are billed until then (never past the next day's peak).
    clear = 0.0
    if backlog > 0:
        outrun = speed_of_fleet - off_peak
        clear = SECONDS_PER_DAY - window if outrun <= 0 else backlog / outrun
        clear = min(clear, SECONDS_PER_DAY - window)
    return Fleet(
        speed=speed,
        mean_rate=mean,
        peak_rate=peak,
        off_peak_rate=off_peak,
        gpus_peak=gpus_peak,
        gpus_mean=gpus_mean,
        gpus_off_peak=gpus_off,
        peak_backlog_audio_seconds=backlog,
        backlog_clear_seconds=clear,
    )


def self_hosted_cost(
    inputs: PlanInputs, sized: Fleet, instance: Instance, figures: Figures
) -> SelfHostedCost:
    assumptions = figures.fleet
    days = assumptions.hours_per_month / 24.0
    servers = assumptions.always_on_servers
    server_hours = servers * assumptions.hours_per_month
    peak_run = (
        assumptions.peak_window_seconds
        + sized.backlog_clear_seconds
        + assumptions.worker_start_seconds
        + assumptions.worker_idle_seconds
    )
    worker_seconds_a_day = (sized.gpus_off_peak - servers) * SECONDS_PER_DAY + (
        sized.gpus_peak - sized.gpus_off_peak
    ) * peak_run
    worker_hours = worker_seconds_a_day * days / 3600.0
    per_hour = worker_usd_per_hour(instance, inputs.spot_share)
    overhead = figures.overhead.fixed_total + figures.overhead.usd_per_task * inputs.tasks_per_month
    summary = summary_usd(
        inputs.tasks_per_month, inputs.minutes_per_task, inputs.summary_share, figures
    )
    server = server_hours * instance.on_demand_usd_per_hour
    workers = worker_hours * per_hour
    return SelfHostedCost(
        server_hours=server_hours,
        server_usd=server,
        worker_hours=worker_hours,
        worker_usd_per_hour=per_hour,
        workers_usd=workers,
        overhead_usd=overhead,
        summary_usd=summary,
        total_usd=server + workers + overhead + summary,
    )


def monthly_costs(
    inputs: PlanInputs, figures: Figures
) -> tuple[Fleet, SelfHostedCost, ManagedCost]:
    """The fleet and both monthly costs for ``inputs`` (checked); no crossover search."""
    inputs.check()
    instance = figures.instance(inputs.instance_type)
    sized = size_fleet(inputs, figures, figures.speed_on(inputs.model, inputs.instance_type).speed)
    own = self_hosted_cost(inputs, sized, instance, figures)
    managed = managed_cost(
        inputs.tasks_per_month, inputs.minutes_per_task, inputs.summary_share, figures
    )
    return sized, own, managed


def choose_phase(
    tasks_per_month: float, crossover: int | None, gpus_peak: int, figures: Figures
) -> str:
    """managed below the crossover; growth up to growth_max_gpus_peak GPUs at peak; scale."""
    if crossover is None or tasks_per_month < crossover:
        return "managed"
    return "growth" if gpus_peak <= figures.growth_max_gpus_peak else "scale"


@dataclass(frozen=True)
class Plan:
    inputs: PlanInputs
    instance: Instance
    speed: Speed
    fleet: Fleet
    self_hosted: SelfHostedCost
    managed: ManagedCost
    crossover_tasks_per_month: int | None
    phase: str
    figures_version: int
    figures_as_of: str
    figures_path: str

    @property
    def gpus_peak(self) -> int:
        return self.fleet.gpus_peak

    @property
    def gpus_mean(self) -> int:
        return self.fleet.gpus_mean

    @property
    def self_hosted_monthly_usd(self) -> float:
        return self.self_hosted.total_usd

    @property
    def managed_monthly_usd(self) -> float:
        return self.managed.total_usd

    @property
    def savings_fraction(self) -> float:
        return (self.managed_monthly_usd - self.self_hosted_monthly_usd) / self.managed_monthly_usd

    @property
    def audio_minutes_per_month(self) -> float:
        return self.inputs.tasks_per_month * self.inputs.minutes_per_task

    def to_dict(self) -> dict[str, Any]:
        """One JSON object: the headline figures at the top, every part below them."""
        return {
            "gpus_peak": self.gpus_peak,
            "gpus_mean": self.gpus_mean,
            "self_hosted_monthly_usd": round(self.self_hosted_monthly_usd, 2),
            "managed_monthly_usd": round(self.managed_monthly_usd, 2),
            "savings_fraction": round(self.savings_fraction, 4),
            "phase": self.phase,
            "phase_description": PHASES[self.phase],
            "crossover_tasks_per_month": self.crossover_tasks_per_month,
            "audio_minutes_per_month": self.audio_minutes_per_month,
            "inputs": asdict(self.inputs),
            "instance": asdict(self.instance),
            "speed": asdict(self.speed),
            "fleet": asdict(self.fleet),
            "self_hosted": asdict(self.self_hosted),
            "managed": asdict(self.managed),
            "figures": {
                "version": self.figures_version,
                "as_of": self.figures_as_of,
                "path": self.figures_path,
            },
        }


def make_plan(inputs: PlanInputs, figures: Figures) -> Plan:
    from transcription.planner.crossover import find_crossover

    sized, own, managed = monthly_costs(inputs, figures)
    instance = figures.instance(inputs.instance_type)
    crossover = find_crossover(inputs, figures)
    return Plan(
        inputs=inputs,
        instance=instance,
        speed=figures.speed_on(inputs.model, inputs.instance_type),
        fleet=sized,
        self_hosted=own,
        managed=managed,
        crossover_tasks_per_month=crossover,
        phase=choose_phase(inputs.tasks_per_month, crossover, sized.gpus_peak, figures),
        figures_version=figures.version,
        figures_as_of=figures.as_of,
        figures_path=figures.path,
    )


def at_volume(inputs: PlanInputs, tasks_per_month: float) -> PlanInputs:
    """The same workload at another volume (the crossover search and the chart's lines)."""
    return replace(inputs, tasks_per_month=tasks_per_month)
