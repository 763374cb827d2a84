"""The tracker: result objects' "Object Created" events → task and job updates.

For a key ``$OUTPUT_PREFIX jobs/<job_id>/<name>.json`` (or ``.error.json``) whose ``name``
is an item of that job (``<item_id>``, or ``<item_id>.<ext>`` for an item the router routed),
the task becomes ``succeeded`` (language, model, duration and timings read from the
transcript) or ``failed`` (the error record's ``error`` and ``detail``), by the store's
conditional move: a repeated or concurrent event for the same result counts once. Then the
job is completed if nothing remains, also after a duplicate (so an invocation that died
between the two steps is finished by the redelivery); exactly one caller wins the
completion and publishes it (:class:`jobs_api.completion.Notifier`).

Events: EventBridge ``Object Created`` (as AWS sends it, or wrapped in SQS records, as the
local event pump's queue holds it). Keys are decoded once, here (``decode_event_key``); moto
puts raw keys into its EventBridge events, which decode to themselves because job and item
ids hold no ``+`` or ``%`` (an ``OUTPUT_PREFIX`` must not either).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from jobs_api.completion import Notifier, announce_if_done
from jobs_api.dynamo import Dynamo
from jobs_api.exceptions import JobsError, StoreUnavailable
from jobs_api.layout import JobLayout, error_key
from jobs_api.settings import JobsSettings
from jobs_api.store import TERMINAL, JobStore, StoredTask
from jobs_api.tables import TableNames
from transcription.aws import make_client
from transcription.layout import Layout, decode_event_key, has_supported_extension
from transcription.logging import log_context

__all__ = [
    "MalformedEvent",
    "Outcome",
    "ResultObject",
    "Tracker",
    "build_tracker",
    "result_objects",
]

log = logging.getLogger(__name__)

OBJECT_CREATED = "Object Created"
RESULT_FIELDS = ("language", "model", "engine", "duration", "route", "timings")


class MalformedEvent(JobsError):
    """Not an S3 "Object Created" event the tracker understands."""

    code = "malformed_event"


@dataclass(frozen=True)
class ResultObject:
    bucket: str
    key: str  # decoded


def result_objects(event: Any) -> list[ResultObject]:
    """Every created object named in ``event``; raises :class:`MalformedEvent`."""
    try:
        return list(_objects(event))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedEvent(f"unreadable event: {error!r}") from None


def _objects(event: Any) -> Iterator[ResultObject]:
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"an event must be a JSON object, not {type(event).__name__}")
    if "Records" in event:
        for record in event["Records"]:
            if record.get("eventSource") != "aws:sqs":
                raise MalformedEvent(f"unknown record source {record.get('eventSource')!r}")
            yield from _objects(json.loads(record["body"]))
    elif event.get("source") == "aws.s3" and "detail-type" in event:
        if event["detail-type"] == OBJECT_CREATED:
            detail = event["detail"]
            yield ResultObject(
                bucket=str(detail["bucket"]["name"]),
                key=decode_event_key(str(detail["object"]["key"])),
            )
    else:
        raise MalformedEvent("not an S3 EventBridge event")


@dataclass(frozen=True)
class Outcome:
    key: str
    what: str  # ignored | duplicate | counted | completed
    job_id: str | None = None


class Tracker:
    def __init__(
        self, jobs: JobStore, s3: Any, notifier: Notifier, layout: JobLayout, output_bucket: str
    ) -> None:
        self.jobs = jobs
        self.s3 = s3
        self.notifier = notifier
        self.layout = layout
        self.output_bucket = output_bucket

    def handle(self, event: Any) -> list[Outcome]:
        return [self.track(o.bucket, o.key) for o in result_objects(event)]

    def track(self, bucket: str, key: str) -> Outcome:
        result = self.layout.parse_result(key) if bucket == self.output_bucket else None
        if result is None:
            return Outcome(key, "ignored")
        with log_context(job_id=result.job_id, s3_key=key):
            task = self._task_of(result.job_id, result.name)
            if task is None or key not in self._result_keys(task, result.failed):
                log.info("not a result of a task of this job: ignored")
                return Outcome(key, "ignored", result.job_id)
            counted = False
            if task.status not in TERMINAL:
                status = "failed" if result.failed else "succeeded"
                details = {**self._details(bucket, key, result.failed), "result_key": key}
                counted = self.jobs.finish_task(
                    task.job_id, task.item_id, status, details=details, known=task
                )
            if announce_if_done(self.jobs, self.notifier, task.job_id) is not None:
                return Outcome(key, "completed", task.job_id)
            return Outcome(key, "counted" if counted else "duplicate", task.job_id)

    def _result_keys(self, task: StoredTask, failed: bool) -> set[str]:
        """Where the task's result may be: its output key, and for an item that the router
        routes, the job's result key too (``<item_id>.json``, what the core layout's
        ``job_result_key`` names) besides the plain transcript key it writes today."""
        keys = {task.output_key, self.layout.result_key(task.job_id, task.item_id)}
        return {error_key(k) for k in keys} if failed else keys

    def _task_of(self, job_id: str, name: str) -> StoredTask | None:
        task = self.jobs.task(job_id, name)
        if task is None and has_supported_extension(name):  # <item_id>.<ext>: a routed upload
            task = self.jobs.task(job_id, name.rsplit(".", 1)[0])
        return task

    def _details(self, bucket: str, key: str, failed: bool) -> dict[str, Any]:
        """What the task shows of its result: from the transcript or the error record."""
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            data = json.loads(body)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404"}:
                return {}  # deleted since: count it all the same
            raise StoreUnavailable(f"reading {key}: {code}") from error
        except BotoCoreError as error:
            raise StoreUnavailable(f"S3 unreachable: {error}") from error
        except ValueError:
            return {"error": {"code": "unreadable_result", "message": "not JSON"}} if failed else {}
        if not isinstance(data, dict):
            return {}
        if failed:
            return {
                "error": {
                    "code": str(data.get("error") or "failed"),
                    "message": str(data.get("detail") or ""),
                    "source": data.get("source"),
                }
            }
        return {"result": {k: data[k] for k in RESULT_FIELDS if data.get(k) is not None}}


def build_tracker(
    settings: JobsSettings,
    *,
    dynamodb: Any = None,
    s3: Any = None,
    sqs: Any = None,
    events: Any = None,
) -> Tracker:
    """The tracker ``settings`` describe; clients default to the factory's."""
    storage = settings.storage
    s3 = s3 or make_client("s3", settings.aws)
    jobs = JobStore(
        Dynamo(dynamodb or make_client("dynamodb", settings.aws)),
        TableNames.from_prefix(settings.jobs_table_prefix).jobs,
    )
    notifier = Notifier(
        settings,
        events or make_client("events", settings.aws),
        sqs or make_client("sqs", settings.aws),
    )
    layout = JobLayout(Layout(storage.input_prefix, storage.output_prefix))
    return Tracker(jobs, s3, notifier, layout, storage.output_bucket)
