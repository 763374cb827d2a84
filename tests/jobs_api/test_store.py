"""The job store on moto's DynamoDB over HTTP: conditional moves, counted once, completed once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from jobs_api.exceptions import IdempotencyKeyReused, JobCompleted, JobNotFound, TaskFinished
from jobs_api.store import JobStore, StoredJob, StoredTask
from transcription.job_spec import task_id_of
from transcription.transcript import utc_now


def make_job(store: JobStore, items: int, *, owner: str = "team-a", idem: str | None = None,
             request_hash: str = "h1") -> tuple[StoredJob, bool]:  # fmt: skip
    job_id = uuid.uuid4().hex
    job, created = store.create_job(
        job_id=job_id,
        owner=owner,
        key_id="k1",
        job_type="asr",
        priority="normal",
        total=items,
        webhook_url=None,
        options={},
        request_hash=request_hash,
        idempotency_key=idem,
    )
    if created:
        store.put_tasks(
            [
                StoredTask(
                    job_id=job.job_id,
                    item_id=f"item-{i:04d}",
                    task_id=task_id_of(job.job_id, str(i)),
                    status="queued",
                    source="s3",
                    input_bucket="b",
                    input_key=f"audio/{i}.wav",
                    output_key=f"transcripts/jobs/{job.job_id}/item-{i:04d}.json",
                    updated_at=utc_now(),
                )
                for i in range(items)
            ]
        )
    return job, created


def test_a_job_and_its_tasks_are_stored_and_paged(job_store: JobStore) -> None:
    job, created = make_job(job_store, 60)
    assert created
    first = job_store.tasks(job.job_id, limit=25)
    assert [t.item_id for t in first.items][:2] == ["item-0000", "item-0001"]
    assert first.next_cursor
    rest = job_store.tasks(job.job_id, limit=100, cursor=first.next_cursor)
    assert len(first.items) + len(rest.items) == 60
    assert rest.next_cursor is None
    stored = job_store.job(job.job_id)
    assert stored.progress["queued"] == 60 and stored.remaining == 60


def test_the_same_idempotency_key_returns_the_same_job(job_store: JobStore) -> None:
    first, created = make_job(job_store, 2, idem="abc")
    again, created_again = make_job(job_store, 2, idem="abc")
    assert created and not created_again
    assert again.job_id == first.job_id
    with pytest.raises(IdempotencyKeyReused):
        make_job(job_store, 2, idem="abc", request_hash="other body")
    other_owner, created_other = make_job(job_store, 2, idem="abc", owner="team-b")
    assert created_other and other_owner.job_id != first.job_id


def test_ten_concurrent_duplicate_completions_count_once(job_store: JobStore) -> None:
    job, _ = make_job(job_store, 2)
    barrier = threading.Barrier(10)

    def complete(_: int) -> bool:
        barrier.wait()
        return job_store.finish_task(job.job_id, "item-0000", "succeeded")

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(complete, range(10)))
    assert outcomes.count(True) == 1
    stored = job_store.job(job.job_id)
    assert stored.progress == {
        "queued": 1,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "canceled": 0,
    }
    assert stored.remaining == 1
    assert stored.status == "running"


def test_the_job_completes_exactly_once(job_store: JobStore) -> None:
    job, _ = make_job(job_store, 2)
    job_store.finish_task(job.job_id, "item-0000", "succeeded")
    assert job_store.complete_if_done(job.job_id) is None  # one remains
    job_store.finish_task(job.job_id, "item-0001", "failed", details={"error": {"error": "x"}})
    with ThreadPoolExecutor(8) as pool:
        completions = list(pool.map(lambda _: job_store.complete_if_done(job.job_id), range(8)))
    done = [c for c in completions if c is not None]
    assert len(done) == 1
    assert done[0].status == "partially_failed" and done[0].completed_at
    assert job_store.task(job.job_id, "item-0001").error == {"error": "x"}  # type: ignore[union-attr]


def test_final_statuses(job_store: JobStore) -> None:
    ok, _ = make_job(job_store, 1)
    job_store.finish_task(ok.job_id, "item-0000", "succeeded")
    bad, _ = make_job(job_store, 1)
    job_store.finish_task(bad.job_id, "item-0000", "failed")
    assert job_store.complete_if_done(ok.job_id).status == "succeeded"  # type: ignore[union-attr]
    assert job_store.complete_if_done(bad.job_id).status == "failed"  # type: ignore[union-attr]


def test_cancel_marks_queued_tasks_and_leaves_running_ones(job_store: JobStore) -> None:
    job, _ = make_job(job_store, 5)
    job_store.finish_task(job.job_id, "item-0000", "succeeded")
    job_store.start_task(job.job_id, "item-0001")
    canceled = job_store.cancel(job.job_id, "team-a")
    assert canceled.progress == {
        "queued": 0,
        "running": 1,
        "succeeded": 1,
        "failed": 0,
        "canceled": 3,
    }
    assert job_store.is_canceled(job.job_id, "item-0002")
    with pytest.raises(TaskFinished):  # a worker asking to start a canceled task is told no
        job_store.start_task(job.job_id, "item-0003")
    assert job_store.complete_if_done(job.job_id) is None  # the running one finishes first
    assert not job_store.finish_task(job.job_id, "item-0004", "succeeded")  # canceled stays
    assert job_store.finish_task(job.job_id, "item-0001", "succeeded")
    completed = job_store.complete_if_done(job.job_id)
    assert completed is not None and completed.status == "canceled"
    with pytest.raises(JobCompleted):
        job_store.cancel(job.job_id, "team-a")


def test_another_owner_sees_no_job(job_store: JobStore) -> None:
    job, _ = make_job(job_store, 1)
    with pytest.raises(JobNotFound):
        job_store.job(job.job_id, "team-b")
    with pytest.raises(JobNotFound):
        job_store.cancel(job.job_id, "team-b")


def test_jobs_of_an_owner_newest_first_with_cursor_and_status(job_store: JobStore) -> None:
    made = [make_job(job_store, 1, owner="lister")[0] for _ in range(5)]
    make_job(job_store, 1, owner="someone-else")
    job_store.finish_task(made[1].job_id, "item-0000", "succeeded")
    job_store.complete_if_done(made[1].job_id)
    first = job_store.jobs_of("lister", limit=3)
    rest = job_store.jobs_of("lister", limit=3, cursor=first.next_cursor)
    listed = [j.job_id for j in [*first.items, *rest.items]]
    assert listed == [j.job_id for j in reversed(made)]
    done = job_store.jobs_of("lister", limit=10, status="succeeded")
    assert [j.job_id for j in done.items] == [made[1].job_id]


def test_a_duplicate_that_read_the_task_before_the_job_ended_is_a_duplicate(
    job_store: JobStore,
) -> None:
    """The race seen under ten concurrent duplicates, made deterministic with a stale read."""
    job, _ = make_job(job_store, 1)
    stale = job_store.task(job.job_id, "item-0000")  # read while still queued
    assert job_store.finish_task(job.job_id, "item-0000", "succeeded")
    assert job_store.complete_if_done(job.job_id) is not None
    assert not job_store.finish_task(job.job_id, "item-0000", "succeeded", known=stale)
    assert job_store.job(job.job_id).progress["succeeded"] == 1
