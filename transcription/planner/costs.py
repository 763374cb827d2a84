"""Monthly costs of the two ways to transcribe a workload: AWS Transcribe, or our own GPUs.

Managed (Phase 1): Transcribe bills each job per second with a 15 s minimum, at tiered
per-minute prices over the account's minutes in the month (the first 250,000 at one price,
the next 750,000 at a lower one, …). Self-hosted: the always-on GPU server (on-demand, every
hour of the month) plus the autoscaled workers (their billed hours priced between Spot and
on-demand by the Spot share) plus a fixed overhead and a small cost per task. A Bedrock
summary, when asked for, costs the same on both sides (the self-hosted path calls Bedrock too),
so it moves both lines and never the crossover.
"""

from __future__ import annotations

from dataclasses import dataclass

from transcription.planner.figures import Figures, Instance, SummaryPrices, TranscribePrices

__all__ = [
    "SECONDS_PER_DAY",
    "ManagedCost",
    "SelfHostedCost",
    "managed_cost",
    "summary_usd_per_task",
    "transcribe_usd",
    "worker_usd_per_hour",
]

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class ManagedCost:
    billed_minutes: float
    transcribe_usd: float
    summary_usd: float
    total_usd: float


@dataclass(frozen=True)
class SelfHostedCost:
    server_hours: float
    server_usd: float
    worker_hours: float
    worker_usd_per_hour: float
    workers_usd: float
    overhead_usd: float
    summary_usd: float
    total_usd: float


def transcribe_usd(minutes: float, prices: TranscribePrices) -> float:
    """Tiered price of ``minutes`` billed minutes in one month."""
    total = 0.0
    lower = 0.0
    for tier in prices.tiers:
        upper = tier.up_to_minutes
        in_tier = minutes - lower if upper is None else min(minutes, upper) - lower
        if in_tier <= 0:
            break
        total += in_tier * tier.usd_per_minute
        if upper is None:
            break
        lower = upper
    return total


def billed_minutes_per_task(minutes_per_task: float, prices: TranscribePrices) -> float:
    return max(minutes_per_task, prices.minimum_seconds_per_job / 60.0)


def summary_usd_per_task(minutes_per_task: float, prices: SummaryPrices) -> float:
    """One Bedrock summary: the transcript and the instruction in, the summary out."""
    tokens_in = prices.input_tokens_per_audio_minute * minutes_per_task + prices.prompt_tokens
    return (
        tokens_in / 1000.0 * prices.usd_per_1k_input_tokens
        + prices.output_tokens / 1000.0 * prices.usd_per_1k_output_tokens
    )


def summary_usd(
    tasks_per_month: float, minutes_per_task: float, share: float, figures: Figures
) -> float:
    return tasks_per_month * share * summary_usd_per_task(minutes_per_task, figures.summary)


def managed_cost(
    tasks_per_month: float, minutes_per_task: float, summary_share: float, figures: Figures
) -> ManagedCost:
    minutes = tasks_per_month * billed_minutes_per_task(minutes_per_task, figures.transcribe)
    transcribe = transcribe_usd(minutes, figures.transcribe)
    summary = summary_usd(tasks_per_month, minutes_per_task, summary_share, figures)
    return ManagedCost(minutes, transcribe, summary, transcribe + summary)


def worker_usd_per_hour(instance: Instance, spot_share: float) -> float:
    """A worker hour priced by the share of worker hours that run on Spot."""
    return spot_share * instance.spot_usd_per_hour + (1 - spot_share) * (
        instance.on_demand_usd_per_hour
    )
