"""Fleet arithmetic shared by the planner and, later, the router's overflow decision.

One source of truth for "can the GPUs finish this in time": work is measured in seconds of
audio, a GPU instance transcribes ``speed`` seconds of audio per second (its realtime factor),
a fleet of ``n`` instances ``n × speed``. Work waiting in the queue (the backlog) is cleared
first-in first-out, so a task that joins it now starts after ``backlog ÷ fleet speed`` seconds
and finishes ``audio ÷ speed`` seconds later, on one instance. The planner sizes the fleet so
that the last task of the busiest hour still finishes within the latency target; the router's
overflow will send a job to AWS Transcribe when :func:`finishes_within` says no for the fleet
that can still start.

A fluid model: below full load nothing queues; the peak's excess queues and is worked off
after it. It ignores the queueing of whole tasks below full load, which the headroom between
the busiest-hour rate and the fleet's speed covers in practice.
"""

from __future__ import annotations

import math

__all__ = [
    "expected_wait_seconds",
    "finishes_within",
    "fleet_speed",
    "gpus_for_deadline",
    "gpus_for_rate",
    "peak_backlog_audio_seconds",
    "processing_seconds",
]


def fleet_speed(gpus: int, speed: float) -> float:
    """Audio seconds per second that ``gpus`` instances of ``speed`` transcribe together."""
    return gpus * speed


def processing_seconds(audio_seconds: float, speed: float) -> float:
    """Wall time of one task on one instance (a task is not split across instances)."""
    return audio_seconds / speed


def expected_wait_seconds(backlog_audio_seconds: float, speed_of_fleet: float) -> float:
    """How long a task joining the queue now waits before it starts: backlog ÷ fleet speed."""
    if speed_of_fleet <= 0:
        return math.inf
    return backlog_audio_seconds / speed_of_fleet


def finishes_within(
    backlog_audio_seconds: float,
    speed_of_fleet: float,
    task_audio_seconds: float,
    speed: float,
    deadline_seconds: float,
) -> bool:
    """Whether a task joining ``backlog`` now is transcribed within ``deadline_seconds``."""
    wait = expected_wait_seconds(backlog_audio_seconds, speed_of_fleet)
    return wait + processing_seconds(task_audio_seconds, speed) <= deadline_seconds


def peak_backlog_audio_seconds(
    arrival_rate: float, speed_of_fleet: float, window_seconds: float
) -> float:
    """Audio queued at the end of a window in which work arrives faster than the fleet works."""
    return max(0.0, (arrival_rate - speed_of_fleet) * window_seconds)


def gpus_for_rate(rate: float, speed: float) -> int:
    """The fewest instances whose speed together keeps up with ``rate`` (audio s per s)."""
    return max(0, math.ceil(rate / speed - 1e-9))


def gpus_for_deadline(
    peak_rate: float,
    speed: float,
    window_seconds: float,
    longest_task_audio_seconds: float,
    deadline_seconds: float,
    *,
    at_least: int = 1,
) -> int:
    """The fewest instances for which the last task of the peak window meets the deadline.

    A fleet slower than the peak rate ends the window with a backlog ``(rate − S) × window``;
    the longest task joining it then must wait ``backlog ÷ S`` and run ``audio ÷ speed``. With
    ``slack = deadline − processing`` that holds when ``S ≥ rate × window ÷ (window + slack)``:
    a long deadline lets a smaller fleet ride out the peak. The closed form gives the count;
    :func:`finishes_within` (the router's own test) confirms it.
    """
    slack = deadline_seconds - processing_seconds(longest_task_audio_seconds, speed)
    if slack < 0:
        raise ValueError("the deadline is shorter than processing the longest task")
    gpus = max(
        at_least, gpus_for_rate(peak_rate * window_seconds / (window_seconds + slack), speed)
    )
    while not _meets(peak_rate, gpus, speed, window_seconds, longest_task_audio_seconds,
                     deadline_seconds):  # fmt: skip
        gpus += 1  # rounding at the boundary; at most a step or two
    return gpus


def _meets(
    rate: float, gpus: int, speed: float, window: float, audio: float, deadline: float
) -> bool:
    speed_of_fleet = fleet_speed(gpus, speed)
    backlog = peak_backlog_audio_seconds(rate, speed_of_fleet, window)
    return finishes_within(backlog, speed_of_fleet, audio, speed, deadline)
