"""Command line of the batch worker.

``python -m batch_worker [--exit-when-idle SECONDS] [--max-jobs N] [--once]`` drains
``QUEUE_URL_HIGH``, ``QUEUE_URL`` and ``QUEUE_URL_LOW`` (those set), high first;
``python -m batch_worker redrive [--dry-run] [--max N]`` moves dead-lettered jobs back (a
batch task to the queue of its priority) and prints the count as JSON. Settings come from
the environment (see ``config.env.example``). Exit status: 0 done, 1 a job had to be
returned to the queue at exit or the queue became unreachable, 2 invalid settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from batch_worker.consumer import dead_letter_queue_url
from batch_worker.settings import WorkerSettings
from transcription.aws import READ_TIMEOUT_SECONDS, make_client
from transcription.exceptions import SettingsError
from transcription.logging import configure
from transcription.settings import load

log = logging.getLogger("batch_worker")

READ_TIMEOUT_MARGIN = 10.0  # a long poll's response may take WAIT_TIME_SECONDS plus this


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m batch_worker",
        description=(
            "Drain the transcription jobs queues (QUEUE_URL_HIGH, QUEUE_URL, QUEUE_URL_LOW: "
            "high first) with one loaded engine."
        ),
    )
    parser.add_argument(
        "--exit-when-idle",
        type=_seconds,
        metavar="SECONDS",
        help="exit 0 once every queue has stayed empty this long",
    )
    parser.add_argument("--max-jobs", type=_positive_int, metavar="N", help="take at most N jobs")
    parser.add_argument("--once", action="store_true", help="drain what is there, then exit")
    commands = parser.add_subparsers(dest="command", metavar="{redrive}")
    redrive = commands.add_parser(
        "redrive", help="move dead-lettered jobs (DLQ_URL) back to the jobs queue"
    )
    redrive.add_argument("--dry-run", action="store_true", help="count, move nothing")
    redrive.add_argument("--max", type=_positive_int, metavar="N", dest="max_messages")
    return parser


def _clients(settings: WorkerSettings) -> tuple[Any, Any, str]:
    read_timeout = max(READ_TIMEOUT_SECONDS, settings.wait_time_seconds + READ_TIMEOUT_MARGIN)
    sqs = make_client("sqs", settings.aws, read_timeout=read_timeout)
    s3 = make_client("s3", settings.aws)
    return sqs, s3, dead_letter_queue_url(sqs, settings.queue_url, settings.dlq_url)


def run_worker(args: argparse.Namespace) -> int:
    # Imported here: the engine stack (numpy, PyAV, CTranslate2) is heavy; redrive needs none.
    from batch_worker.lifecycle import InstanceLifecycle
    from batch_worker.prefetch import RunLimits
    from batch_worker.shutdown import Shutdown, handle_signals
    from batch_worker.worker import Worker
    from transcription.inference.engines.pool import ModelPool

    settings = load(WorkerSettings)
    sqs, s3, dlq_url = _clients(settings)
    shutdown = Shutdown(settings.shutdown_grace_seconds)
    lifecycle = InstanceLifecycle.from_settings(  # None off an Auto Scaling group
        settings.instance, shutdown, lambda: make_client("autoscaling", settings.aws)
    )
    # The pool serves the jobs' models (MODELS); MODEL loads now, the others on first use.
    engine = ModelPool(settings.engine)
    engine.preload()
    if lifecycle is not None:
        with handle_signals(shutdown):
            if not lifecycle.await_in_service():  # a warm pool box: no job until in service
                lifecycle.finish()
                return 0
    engine.start_reaper()
    worker = Worker(
        settings, engine, sqs=sqs, s3=s3, dlq_url=dlq_url, shutdown=shutdown, lifecycle=lifecycle
    )
    limits = RunLimits(
        exit_when_idle=0 if args.once else args.exit_when_idle, max_jobs=args.max_jobs
    )
    with handle_signals(worker.shutdown):
        summary = worker.run(limits)
    if summary.returned_at_exit:
        # The engine may still be busy on a thread; its message is back on the queue.
        logging.shutdown()
        os._exit(1)
    return 0 if summary.clean else 1


def run_redrive(args: argparse.Namespace) -> int:
    from batch_worker.redrive import redrive

    settings = load(WorkerSettings)
    sqs, _, dlq_url = _clients(settings)
    result = redrive(
        sqs,
        dlq_url,
        settings.queue_url,
        dry_run=args.dry_run,
        max_messages=args.max_messages,
        by_priority=settings.queues_by_priority,
    )
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure("batch-worker")
    try:
        return run_redrive(args) if args.command == "redrive" else run_worker(args)
    except SettingsError as error:
        log.error("%s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
