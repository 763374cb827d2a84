"""The job store: jobs and their tasks in one DynamoDB table, every change conditional.

A job item holds its progress counters (``queued``, ``running``, ``succeeded``, ``failed``,
``canceled``) and ``remaining`` (tasks not yet finished). A task moves by one transaction
that changes the task *on the condition that its status is still the one read* and moves
the job's counters with it, so duplicate or concurrent completions of a task count once.
A job is completed by one conditional update (``remaining = 0`` and no ``completed_at``
yet): whoever wins it announces the completion (and confirms with ``announced_at``);
everyone else gets nothing to do. An announcer that fails releases its claim, so the next
event for the job (a redelivery) announces it; one that dies is replaced after
``ANNOUNCE_CLAIM_SECONDS``.

Task status: ``queued`` → ``running`` → ``succeeded`` | ``failed`` | ``canceled``.
Job status: ``queued`` → ``running`` → ``succeeded`` | ``partially_failed`` | ``failed`` |
``canceled``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from jobs_api.dynamo import BATCH_WRITE_SIZE, Dynamo
from jobs_api.exceptions import (
    ConditionFailed,
    IdempotencyKeyReused,
    InvalidRequest,
    JobCompleted,
    JobNotFound,
    TaskFinished,
    TaskNotFound,
    TransactionCanceled,
)
from jobs_api.tables import OWNER_INDEX
from transcription.transcript import utc_now

__all__ = [
    "COUNTERS",
    "FINAL_JOB_STATUSES",
    "TERMINAL",
    "JobStore",
    "Page",
    "StoredJob",
    "StoredTask",
    "decode_cursor",
    "encode_cursor",
]

log = logging.getLogger(__name__)

COUNTERS = ("queued", "running", "succeeded", "failed", "canceled")
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
FINAL_JOB_STATUSES = frozenset({"succeeded", "partially_failed", "failed", "canceled"})
JOB_SK = "job"
TASK_PREFIX = "task#"
WRITERS = 8  # parallel batch writes and transitions (botocore keeps 10 connections)
ANNOUNCE_CLAIM_SECONDS = 300  # an announcer silent this long is taken for dead


def _iso(at: datetime) -> str:
    """As ``utc_now`` writes times, so they compare as strings."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_pk(job_id: str) -> str:
    return f"job#{job_id}"


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, expected: dict[str, str | None]) -> dict[str, Any] | None:
    """The start key in ``cursor``: exactly the ``expected`` attributes, with the values given
    (``None``: any string), so a cursor of another job or owner, or a made-up one, is a 422."""
    if not cursor:
        return None
    refused = InvalidRequest("not a cursor this API returned for this listing", field="cursor")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise refused from None
    if not isinstance(key, dict) or set(key) != set(expected):
        raise refused
    for name, value in key.items():
        if not isinstance(value, str) or not value or len(value) > 1024:
            raise refused
        if expected[name] is not None and value != expected[name]:
            raise refused
    return key


@dataclass(frozen=True)
class StoredJob:
    job_id: str
    owner: str
    key_id: str
    status: str
    job_type: str
    priority: str
    created_at: str
    updated_at: str
    total: int
    progress: dict[str, int]
    remaining: int
    webhook_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False
    completed_at: str | None = None
    announced_at: str | None = None
    enqueued: bool = False
    request_hash: str | None = None
    webhook_attempts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredJob:
        return cls(
            job_id=item["job_id"],
            owner=item["owner"],
            key_id=item["key_id"],
            status=item["status"],
            job_type=item["job_type"],
            priority=item["priority"],
            created_at=item["created_at"],
            updated_at=item["updated_at"],
            total=item["total"],
            progress={c: int(item.get(c, 0)) for c in COUNTERS},
            remaining=item["remaining"],
            webhook_url=item.get("webhook_url"),
            options=item.get("options") or {},
            cancel_requested=bool(item.get("cancel_requested")),
            completed_at=item.get("completed_at"),
            announced_at=item.get("announced_at"),
            enqueued=bool(item.get("enqueued")),
            request_hash=item.get("request_hash"),
            webhook_attempts=item.get("webhook_attempts") or [],
        )

    @property
    def final_status(self) -> str:
        """The status a job with nothing remaining ends in."""
        if self.cancel_requested:
            return "canceled"
        if self.progress["failed"] == 0:
            return "succeeded"
        if self.progress["succeeded"] == 0:
            return "failed"
        return "partially_failed"


@dataclass(frozen=True)
class StoredTask:
    job_id: str
    item_id: str
    task_id: str
    status: str
    source: str  # s3 | base64 | upload
    input_bucket: str
    input_key: str
    output_key: str
    updated_at: str
    src_lng: str | None = None
    tgt_lng: str | None = None
    result: dict[str, Any] = field(default_factory=dict)  # language, model, timings…
    error: dict[str, Any] | None = None
    result_key: str | None = None  # the key its result (or error record) was found at

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredTask:
        return cls(
            job_id=item["job_id"],
            item_id=item["item_id"],
            task_id=item["task_id"],
            status=item["status"],
            source=item["source"],
            input_bucket=item["input_bucket"],
            input_key=item["input_key"],
            output_key=item["output_key"],
            updated_at=item["updated_at"],
            src_lng=item.get("src_lng"),
            tgt_lng=item.get("tgt_lng"),
            result=item.get("result") or {},
            error=item.get("error"),
            result_key=item.get("result_key"),
        )

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": job_pk(self.job_id),
            "sk": TASK_PREFIX + self.item_id,
            "job_id": self.job_id,
            "item_id": self.item_id,
            "task_id": self.task_id,
            "status": self.status,
            "source": self.source,
            "input_bucket": self.input_bucket,
            "input_key": self.input_key,
            "output_key": self.output_key,
            "updated_at": self.updated_at,
            "src_lng": self.src_lng,
            "tgt_lng": self.tgt_lng,
            "result": self.result or None,
            "error": self.error,
        }


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


class _Contended(Exception):
    """A transition lost a race or a transaction conflict: read again and retry."""


class JobStore:
    def __init__(self, dynamo: Dynamo, table: str, *, retry_wait: Any = None) -> None:
        self.dynamo = dynamo
        self.table = table
        self.retry_wait = retry_wait or wait_random_exponential(multiplier=0.02, max=0.5)

    # --- creating ------------------------------------------------------------------------
    def create_job(
        self,
        *,
        job_id: str,
        owner: str,
        key_id: str,
        job_type: str,
        priority: str,
        total: int,
        webhook_url: str | None,
        options: dict[str, Any],
        request_hash: str,
        idempotency_key: str | None,
    ) -> tuple[StoredJob, bool]:
        """Claim a new job; with ``idempotency_key``, the job already made for it, if any.

        Returns ``(job, created)``. The same key with a different body is
        :class:`IdempotencyKeyReused`.
        """
        now = utc_now()
        item = {
            "pk": job_pk(job_id),
            "sk": JOB_SK,
            "job_id": job_id,
            "owner": owner,
            "key_id": key_id,
            "created": f"{now}#{job_id}",
            "status": "queued",
            "job_type": job_type,
            "priority": priority,
            "created_at": now,
            "updated_at": now,
            "total": total,
            "queued": total,
            "running": 0,
            "succeeded": 0,
            "failed": 0,
            "canceled": 0,
            "remaining": total,
            "webhook_url": webhook_url,
            "options": options,
            "request_hash": request_hash,
            "enqueued": False,
        }
        new = "attribute_not_exists(pk)"
        if idempotency_key is None:
            self.dynamo.put(self.table, item, condition=new)
            return StoredJob.from_item(item), True
        claim = {
            "pk": f"idem#{owner}#{idempotency_key}",
            "sk": "idem",
            "job_id": job_id,
            "request_hash": request_hash,
            "created_at": now,
        }
        try:
            self.dynamo.transact(
                [
                    self.dynamo.put_op(self.table, item, condition=new),
                    self.dynamo.put_op(self.table, claim, condition=new),
                ]
            )
        except TransactionCanceled as error:
            if error.reasons[1:2] != ["ConditionalCheckFailed"]:
                raise
            existing = self.dynamo.get(self.table, {"pk": claim["pk"], "sk": "idem"})
            if existing is None:  # expired between the two calls: nothing to return
                raise
            if existing["request_hash"] != request_hash:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used with a different body",
                    field="Idempotency-Key",
                ) from None
            return self.job(existing["job_id"]), False
        return StoredJob.from_item(item), True

    def put_tasks(self, tasks: Sequence[StoredTask]) -> None:
        """Write ``tasks`` in BatchWriteItem calls of 25, several at once."""
        chunks = [tasks[i : i + BATCH_WRITE_SIZE] for i in range(0, len(tasks), BATCH_WRITE_SIZE)]
        items = [[t.to_item() for t in chunk] for chunk in chunks]
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(lambda batch: self.dynamo.batch_put(self.table, batch), items))

    def mark_enqueued(self, job_id: str) -> None:
        """Every task is written and every message sent (a retried submission stops here)."""
        self.dynamo.update(
            self.table,
            {"pk": job_pk(job_id), "sk": JOB_SK},
            "SET enqueued = :t",
            values={":t": True},
        )

    # --- reading -------------------------------------------------------------------------
    def job(self, job_id: str, owner: str | None = None) -> StoredJob:
        """The job; :class:`JobNotFound` when missing or, with ``owner``, someone else's."""
        item = self.dynamo.get(self.table, {"pk": job_pk(job_id), "sk": JOB_SK})
        if item is None or (owner is not None and item["owner"] != owner):
            raise JobNotFound(f"no job {job_id!r}")
        return StoredJob.from_item(item)

    def task(self, job_id: str, item_id: str) -> StoredTask | None:
        item = self.dynamo.get(self.table, {"pk": job_pk(job_id), "sk": TASK_PREFIX + item_id})
        return StoredTask.from_item(item) if item else None

    def tasks(self, job_id: str, *, limit: int, cursor: str | None = None) -> Page:
        """One page of the job's tasks, in item id order."""
        items, last = self.dynamo.query(
            self.table,
            "pk = :pk AND begins_with(sk, :t)",
            values={":pk": job_pk(job_id), ":t": TASK_PREFIX},
            limit=limit,
            start=decode_cursor(cursor, {"pk": job_pk(job_id), "sk": None}),
            consistent=True,
        )
        return Page([StoredTask.from_item(i) for i in items], encode_cursor(last))

    def all_tasks(self, job_id: str) -> list[StoredTask]:
        tasks: list[StoredTask] = []
        cursor: str | None = None
        while True:
            page = self.tasks(job_id, limit=1000, cursor=cursor)
            tasks.extend(page.items)
            if page.next_cursor is None:
                return tasks
            cursor = page.next_cursor

    def jobs_of(
        self, owner: str, *, limit: int, cursor: str | None = None, status: str | None = None
    ) -> Page:
        """The owner's jobs, newest first, optionally only those in ``status``."""
        found: list[StoredJob] = []
        start = decode_cursor(cursor, {"pk": None, "sk": None, "owner": owner, "created": None})
        last: dict[str, Any] | None = None
        while True:
            items, last = self.dynamo.query(
                self.table,
                "#o = :o",
                names={"#o": "owner", **({"#s": "status"} if status else {})},
                values={":o": owner, **({":s": status} if status else {})},
                index=OWNER_INDEX,
                limit=limit - len(found),  # evaluated items, so a page never skips any
                start=start,
                forward=False,
                filter_expression="#s = :s" if status else None,
            )
            found.extend(StoredJob.from_item(i) for i in items)
            if last is None or len(found) >= limit:
                return Page(found, encode_cursor(last))
            start = last

    # --- moving tasks --------------------------------------------------------------------
    def finish_task(
        self,
        job_id: str,
        item_id: str,
        status: str,
        *,
        details: dict[str, Any] | None = None,
        known: StoredTask | None = None,
    ) -> bool:
        """Move a task to ``succeeded``/``failed``; False when it was already finished.

        Ten concurrent calls for one task: exactly one returns True and moves the counters.
        ``known`` is the task as the caller just read it (saves a read; re-read on a race).
        """
        if status not in {"succeeded", "failed"}:
            raise ValueError(f"{status!r} is not a result status")
        try:
            self._move(
                job_id, item_id, status, details or {}, allowed=("queued", "running"), known=known
            )
        except TaskFinished:
            return False
        return True

    def start_task(self, job_id: str, item_id: str) -> None:
        """For a worker about to run a task: ``queued`` → ``running``.

        Raises :class:`TaskFinished` when the task was canceled (or already done): then the
        task must not run.
        """
        self._move(job_id, item_id, "running", {}, allowed=("queued",))

    def is_canceled(self, job_id: str, item_id: str) -> bool:
        task = self.task(job_id, item_id)
        return task is not None and task.status == "canceled"

    def cancel(self, job_id: str, owner: str) -> StoredJob:
        """Ask to cancel: every queued task becomes ``canceled``; running ones finish.

        Raises :class:`JobNotFound` (not the owner's) and :class:`JobCompleted` (too late).
        """
        job = self.job(job_id, owner)
        if job.completed_at:
            raise JobCompleted(f"job {job_id} already ended {job.status}")
        try:
            self.dynamo.update(
                self.table,
                {"pk": job_pk(job_id), "sk": JOB_SK},
                "SET cancel_requested = :t, updated_at = :now",
                condition="attribute_not_exists(completed_at)",
                values={":t": True, ":now": utc_now()},
            )
        except ConditionFailed:
            raise JobCompleted(f"job {job_id} already ended") from None
        queued = [t.item_id for t in self.all_tasks(job_id) if t.status == "queued"]

        def cancel_one(item_id: str) -> None:
            # started or finished meanwhile: it runs to its end
            with contextlib.suppress(TaskFinished):
                self._move(job_id, item_id, "canceled", {}, allowed=("queued",))

        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(cancel_one, queued))
        return self.job(job_id)

    def _move(
        self,
        job_id: str,
        item_id: str,
        new: str,
        details: dict[str, Any],
        *,
        allowed: Iterable[str],
        known: StoredTask | None = None,
    ) -> None:
        allowed = tuple(allowed)
        for attempt in Retrying(
            retry=retry_if_exception_type(_Contended),
            stop=stop_after_attempt(8),
            wait=self.retry_wait,
            reraise=True,
        ):
            with attempt:
                task, known = known or self.task(job_id, item_id), None
                if task is None:
                    raise TaskNotFound(f"job {job_id} has no item {item_id!r}")
                if task.status not in allowed:
                    raise TaskFinished(f"task {job_id}/{item_id} is {task.status}")
                self._transition(task, new, details)

    def _transition(self, task: StoredTask, new: str, details: dict[str, Any]) -> None:
        now = utc_now()
        sets = ", ".join(f"#d_{k} = :d_{k}" for k in details)
        task_update = self.dynamo.update_op(
            self.table,
            {"pk": job_pk(task.job_id), "sk": TASK_PREFIX + task.item_id},
            "SET #s = :new, updated_at = :now" + (f", {sets}" if sets else ""),
            condition="#s = :old",
            names={"#s": "status", **{f"#d_{k}": k for k in details}},
            values={
                ":new": new,
                ":old": task.status,
                ":now": now,
                **{f":d_{k}": v for k, v in details.items()},
            },
        )
        finished = 1 if new in TERMINAL else 0
        job_update = self.dynamo.update_op(
            self.table,
            {"pk": job_pk(task.job_id), "sk": JOB_SK},
            "SET updated_at = :now, #s = :running ADD #old :minus, #new :one, remaining :fin",
            condition="attribute_not_exists(completed_at)",
            names={"#s": "status", "#old": task.status, "#new": new},
            values={":now": now, ":running": "running", ":minus": -1, ":one": 1, ":fin": -finished},
        )
        try:
            self.dynamo.transact([task_update, job_update])
        except TransactionCanceled as error:
            # the task moved since it was read (a duplicate won): read again; only a task that
            # did not move in a job that ended means the counts and the job disagree
            if error.reasons[:1] != ["ConditionalCheckFailed"] and error.reasons[1:2] == [
                "ConditionalCheckFailed"
            ]:
                raise JobCompleted(f"job {task.job_id} already ended") from None
            raise _Contended(str(error)) from error

    # --- completing ----------------------------------------------------------------------
    def complete_if_done(self, job_id: str) -> StoredJob | None:
        """The job its caller must announce now, or None; concurrent callers: one gets it.

        That is the job this call completed (final status given, nothing remaining), or a job
        completed earlier whose announcement was never confirmed: its announcer released its
        claim on failing (:meth:`release_announcement`) or died ``ANNOUNCE_CLAIM_SECONDS``
        ago. The caller confirms with :meth:`mark_announced`.
        """
        job = self.job(job_id)
        if job.remaining > 0 or job.announced_at:
            return None
        now = datetime.now(UTC)
        values: dict[str, Any] = {":now": _iso(now)}
        if not job.completed_at:
            update = (
                "SET #s = :final, completed_at = :now, updated_at = :now, announce_claim = :now"
            )
            condition = "remaining = :zero AND attribute_not_exists(completed_at)"
            values.update({":final": job.final_status, ":zero": 0})
        else:
            update = "SET announce_claim = :now"
            condition = (
                "attribute_exists(completed_at) AND attribute_not_exists(announced_at) AND "
                "(attribute_not_exists(announce_claim) OR announce_claim < :stale)"
            )
            values[":stale"] = _iso(now - timedelta(seconds=ANNOUNCE_CLAIM_SECONDS))
        try:
            item = self.dynamo.update(
                self.table,
                {"pk": job_pk(job_id), "sk": JOB_SK},
                update,
                condition=condition,
                names={"#s": "status"} if "#s" in update else None,
                values=values,
                returns="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return StoredJob.from_item(item)

    def mark_announced(self, job_id: str) -> None:
        self.dynamo.update(
            self.table,
            {"pk": job_pk(job_id), "sk": JOB_SK},
            "SET announced_at = :now REMOVE announce_claim",
            values={":now": utc_now()},
        )

    def release_announcement(self, job_id: str) -> None:
        """The announcement failed: the next call of :meth:`complete_if_done` may claim it."""
        self.dynamo.update(
            self.table, {"pk": job_pk(job_id), "sk": JOB_SK}, "REMOVE announce_claim"
        )

    def record_webhook_attempt(self, job_id: str, attempt: dict[str, Any]) -> None:
        """Append one delivery attempt (number, time, outcome) to the job."""
        self.dynamo.update(
            self.table,
            {"pk": job_pk(job_id), "sk": JOB_SK},
            "SET webhook_attempts = list_append(if_not_exists(webhook_attempts, :empty), :a)",
            values={":empty": [], ":a": [attempt]},
        )
