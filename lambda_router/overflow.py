"""The third route: a batch job the fleet cannot finish in time goes to AWS Transcribe.

Asked only when ``OVERFLOW=transcribe`` and a job would be queued (never for a manual
``queue: true``, nor for work Transcribe cannot do: translation, a text item). The expected
wait is the planner's fleet arithmetic (:mod:`transcription.planner.fleet`, one source of
truth) on the planner's figures (:mod:`transcription.planner.figures`):

* backlog = visible jobs on the priority queues (``GetQueueAttributes``) ×
  ``OVERFLOW_MEAN_JOB_AUDIO_SECONDS``;
* fleet speed = ``MAX_WORKERS`` (the instances running plus those that can still start) ×
  the speed of ``MODEL`` on the first ``WORKER_INSTANCE_TYPES``;
* the job finishes after ``backlog ÷ fleet speed`` (its wait) plus its own audio (estimated
  from its size, ``DIRECT_AUDIO_BYTES_PER_SECOND``) ÷ one instance's speed.

When that passes the deadline (the batch job's own ``deadline``, else
``BATCH_DEADLINE_SECONDS``) the job is started on Transcribe
(:class:`~transcription.managed.ManagedStarter`: quota, ticket, budget); otherwise, or when
the budget or the quota refuses, it is queued, the refusal named as its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from transcription.exceptions import SettingsError
from transcription.managed import ManagedStarter, OverflowSettings
from transcription.managed.budget import MonthlyBudget
from transcription.managed.names import OverflowKeys
from transcription.objects import S3Objects
from transcription.planner.exceptions import UnknownFigure
from transcription.planner.figures import Figures, load_figures
from transcription.planner.fleet import (
    expected_wait_seconds,
    finishes_within,
    fleet_speed,
    processing_seconds,
)

__all__ = ["Overflow", "WaitEstimate", "estimate_wait"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WaitEstimate:
    backlog_jobs: int
    backlog_audio_seconds: float
    fleet_speed: float  # audio seconds per second, all MAX_WORKERS instances
    speed: float  # one instance
    task_audio_seconds: float
    wait_seconds: float
    processing_seconds: float

    @property
    def finish_seconds(self) -> float:
        return self.wait_seconds + self.processing_seconds

    def misses(self, deadline_seconds: float) -> bool:
        return not finishes_within(
            self.backlog_audio_seconds,
            self.fleet_speed,
            self.task_audio_seconds,
            self.speed,
            deadline_seconds,
        )

    def describe(self, deadline_seconds: float) -> str:
        return (
            f"{self.backlog_jobs} queued jobs ({self.backlog_audio_seconds:.0f} s of audio) at "
            f"{self.fleet_speed:g} s/s: wait {self.wait_seconds:.0f} s + "
            f"{self.processing_seconds:.0f} s processing vs deadline {deadline_seconds:g} s"
        )


def estimate_wait(
    backlog_jobs: int,
    task_audio_seconds: float,
    *,
    mean_job_audio_seconds: float,
    max_workers: int,
    speed: float,
) -> WaitEstimate:
    """When a job joining ``backlog_jobs`` queued ones would be done, on the whole fleet."""
    backlog = backlog_jobs * mean_job_audio_seconds
    speed_of_fleet = fleet_speed(max_workers, speed)
    return WaitEstimate(
        backlog_jobs=backlog_jobs,
        backlog_audio_seconds=backlog,
        fleet_speed=speed_of_fleet,
        speed=speed,
        task_audio_seconds=task_audio_seconds,
        wait_seconds=expected_wait_seconds(backlog, speed_of_fleet),
        processing_seconds=processing_seconds(task_audio_seconds, speed),
    )


def fleet_figures(settings: OverflowSettings, figures: Figures) -> tuple[float, float]:
    """One instance's speed and Transcribe's billed minimum per job, from the planner's data."""
    try:
        speed = figures.speed_on(settings.model, settings.instance_type).speed
    except UnknownFigure as error:
        raise SettingsError(f"overflow: MODEL / WORKER_INSTANCE_TYPES: {error}") from error
    return speed, figures.transcribe.minimum_seconds_per_job


class Overflow:
    def __init__(
        self,
        settings: OverflowSettings,
        *,
        sqs: Any,
        queue_urls: Mapping[str, str],
        starter: ManagedStarter,
        speed: float,
    ) -> None:
        self.settings = settings
        self.sqs = sqs
        self.queue_urls = tuple(dict.fromkeys(queue_urls.values()))
        self.starter = starter
        self.speed = speed

    @classmethod
    def build(
        cls,
        settings: OverflowSettings,
        *,
        s3: Any,
        sqs: Any,
        transcribe: Any,
        bucket: str,
        queue_urls: Mapping[str, str],
        figures: Figures | None = None,
    ) -> Overflow:
        speed, minimum = fleet_figures(settings, figures or load_figures())
        objects = S3Objects(s3)
        keys = OverflowKeys(settings.overflow_prefix)
        budget = MonthlyBudget(objects, bucket, keys, settings.overflow_max_minutes_per_month)
        starter = ManagedStarter(
            transcribe,
            objects,
            bucket,
            keys,
            budget,
            max_concurrent_jobs=settings.overflow_max_concurrent_jobs,
            minimum_seconds_per_job=minimum,
        )
        return cls(settings, sqs=sqs, queue_urls=queue_urls, starter=starter, speed=speed)

    def deadline(self, job_deadline: float | None) -> float | None:
        return job_deadline if job_deadline is not None else self.settings.batch_deadline_seconds

    def estimate(self, task_audio_seconds: float) -> WaitEstimate | None:
        """The estimate; ``None`` (logged) when the backlog cannot be read: the job is queued."""
        try:
            backlog = self.backlog_jobs()
        except (ClientError, BotoCoreError) as error:
            log.warning("cannot read the backlog, not overflowing: %s", error)
            return None
        return estimate_wait(
            backlog,
            task_audio_seconds,
            mean_job_audio_seconds=self.settings.overflow_mean_job_audio_seconds,
            max_workers=self.settings.max_workers,
            speed=self.speed,
        )

    def backlog_jobs(self) -> int:
        """Visible jobs on the priority queues (one GetQueueAttributes per distinct queue)."""
        total = 0
        for url in self.queue_urls:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            total += int(attributes.get("ApproximateNumberOfMessages", 0))
        return total
