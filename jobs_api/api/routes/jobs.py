"""``/v1/jobs``: create, read (progress and items), results, list, cancel.

A caller sees only the jobs of its key's owner: any other job id is a 404, as is one that
does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from jobs_api.api.deps import ReaderDep, StateDep, WriterDep
from jobs_api.api.schemas import (
    ErrorResponse,
    ItemResults,
    ItemView,
    JobAccepted,
    JobIn,
    JobList,
    JobSummary,
    JobView,
    Progress,
    ResultLink,
    Results,
)
from jobs_api.completion import announce_if_done
from jobs_api.layout import error_key, sidecar_key
from jobs_api.state import AppState
from jobs_api.store import StoredJob, StoredTask
from jobs_api.submission import expires_at
from transcription.formats import TRANSLATABLE

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/jobs",
    tags=["jobs"],
    responses={
        401: {"model": ErrorResponse, "description": "No key, an unknown or a revoked one."},
        403: {"model": ErrorResponse, "description": "The key lacks the scope."},
        422: {"model": ErrorResponse, "description": "Invalid input; error.field names it."},
        429: {"model": ErrorResponse, "description": "Rate limited; see Retry-After."},
    },
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such job of yours."}
}
Status = Literal["queued", "running", "succeeded", "partially_failed", "failed", "canceled"]
Cursor = Annotated[str | None, Query(max_length=2048)]
Limit = Annotated[int | None, Query(ge=1, le=1000)]
AUDIO_SOURCES = frozenset({"s3", "base64", "upload"})  # items with audio to play (not text)
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="As POST /v1/jobs returned it.")]


def _summary(job: StoredJob) -> JobSummary:
    return JobSummary(
        job_id=job.job_id,
        status=job.status,
        job_type=job.job_type,
        priority=job.priority,
        created_at=job.created_at,
        updated_at=job.updated_at,
        completed_at=job.completed_at,
        progress=Progress(total=job.total, **job.progress),
    )


def _item(task: StoredTask) -> ItemView:
    result = task.result
    return ItemView(
        id=task.item_id,
        task_id=task.task_id,
        status=task.status,
        source=task.source,
        src_lng=task.src_lng,
        language=result.get("language"),
        model=result.get("model"),
        duration=result.get("duration"),
        timings=result.get("timings"),
        error=task.error,
        updated_at=task.updated_at,
    )


@router.post(
    "",
    status_code=202,
    response_model=JobAccepted,
    responses={413: {"model": ErrorResponse, "description": "An audio_base64 item too large."}},
    summary="Create a job: its tasks are queued at once",
)
async def create_job(
    body: JobIn,
    key: WriterDep,
    state: StateDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobAccepted:
    accepted = await run_in_threadpool(state.submission.submit, key, body, idempotency_key)
    if not accepted.created:
        response.headers["Idempotent-Replayed"] = "true"
    return JobAccepted(
        job_id=accepted.job_id, enqueued_tasks=accepted.enqueued_tasks, uploads=accepted.uploads
    )


@router.get("", response_model=JobList, summary="Your jobs, newest first")
async def list_jobs(
    key: ReaderDep,
    state: StateDep,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> JobList:
    page = await run_in_threadpool(
        lambda: state.jobs.jobs_of(
            key.owner, limit=limit or state.settings.jobs_page_size, cursor=cursor, status=status
        )
    )
    return JobList(jobs=[_summary(j) for j in page.items], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobView, responses=NOT_FOUND, summary="A job's progress")
async def get_job(
    job_id: JobId, key: ReaderDep, state: StateDep, cursor: Cursor = None, limit: Limit = None
) -> JobView:
    def read() -> JobView:
        job = state.jobs.job(job_id, key.owner)
        page = state.jobs.tasks(job_id, limit=limit or state.settings.jobs_page_size, cursor=cursor)
        return JobView(
            **_summary(job).model_dump(),
            webhook_attempts=job.webhook_attempts,
            items=[_item(t) for t in page.items],
            next_cursor=page.next_cursor,
        )

    return await run_in_threadpool(read)


@router.get(
    "/{job_id}/results",
    response_model=Results,
    responses=NOT_FOUND,
    summary="Presigned GET URLs of each item's results, per format, and of its audio",
)
async def get_results(
    job_id: JobId, key: ReaderDep, state: StateDep, cursor: Cursor = None, limit: Limit = None
) -> Results:
    def read() -> Results:
        job = state.jobs.job(job_id, key.owner)
        page = state.jobs.tasks(job_id, limit=limit or state.settings.jobs_page_size, cursor=cursor)
        return Results(
            job_id=job.job_id,
            status=job.status,
            items=[_results(state, job, t) for t in page.items],
            next_cursor=page.next_cursor,
        )

    return await run_in_threadpool(read)


def _results(state: AppState, job: StoredJob, task: StoredTask) -> ItemResults:
    seconds = state.settings.jobs_url_seconds
    bucket = state.settings.storage.output_bucket

    def link(object_key: str, in_bucket: str = bucket) -> ResultLink:
        url = state.s3.generate_presigned_url(
            "get_object", Params={"Bucket": in_bucket, "Key": object_key}, ExpiresIn=seconds
        )
        return ResultLink(url=url, expires_at=expires_at(seconds))

    links: dict[str, ResultLink] = {}
    if task.status == "succeeded":
        formats = job.options.get("formats") or ["json"]
        if job.job_type != "asr" and task.tgt_lng:  # the translated sidecars (es.srt…) too
            formats = [*formats, *(f"{task.tgt_lng}.{f}" for f in formats if f in TRANSLATABLE)]
        found = task.result_key or task.output_key
        links = {fmt: link(sidecar_key(found, fmt)) for fmt in formats}
    elif task.status == "failed":
        links = {"error": link(task.result_key or error_key(task.output_key))}
    audio = link(task.input_key, task.input_bucket) if task.source in AUDIO_SOURCES else None
    return ItemResults(
        id=task.item_id, status=task.status, results=links, audio=audio, error=task.error
    )


@router.delete(
    "/{job_id}",
    response_model=JobSummary,
    responses={**NOT_FOUND, 409: {"model": ErrorResponse, "description": "Already ended."}},
    summary="Cancel: queued tasks never run, running ones finish",
)
async def cancel_job(job_id: JobId, key: WriterDep, state: StateDep) -> JobSummary:
    def cancel() -> StoredJob:
        job = state.jobs.cancel(job_id, key.owner)
        state.s3.put_object(
            Bucket=state.settings.storage.output_bucket,
            Key=state.submission.layout.cancel_marker_key(job_id),
            Body=b"",
        )
        state.audit.record("job.canceled", actor=key.key_id, target=job_id, owner=key.owner)
        return announce_if_done(state.jobs, state.notifier, job_id) or job

    return _summary(await run_in_threadpool(cancel))
