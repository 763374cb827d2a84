"""End to end: batch jobs through the jobs API of the local stack (`make up`).

Everything real, on 127.0.0.1: moto's server over HTTP (the resources made by the deploy
steps, 360/361/375 included), the jobs API on uvicorn (``python -m jobs_api``), the router
and the FastAPI server with tiny.en for inline and uploaded items, the one batch worker for
``s3://`` items, and the jobs pump feeding the tracker and the webhook sender their events.
The stack is the one ``test_local_stack.py`` uses (tests/e2e/conftest.py).

The clips are short espeak-ng phrases (tests/support/speech.py), so a task takes well under
a second of the worker's time; the 100-task priority job is canceled once its point is
made, so its remaining tasks are skipped, not transcribed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from batch_worker.cancel import NOT_CANCELED_SECONDS
from local_stack.banner import banner
from local_stack.jobs_client import JobsClient, base64_item
from local_stack.stack import Stack
from tests.jobs_api.test_webhooks import receiver, verify_example
from tests.support.jobs import queue_counts
from tests.support.speech import speak

pytestmark = pytest.mark.slow

TIMEOUT = 180.0
PHRASES = {
    "office": "Please call the office before noon.",
    "weather": "The weather will be cold tonight.",
    "library": "The new library opens next month.",
}
STATUS_COUNTS = ("queued", "running", "succeeded", "failed", "canceled")


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    word: str  # a word tiny.en hears in it

    @property
    def body(self) -> bytes:
        return self.path.read_bytes()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    folder = tmp_path_factory.mktemp("clips")
    return [
        Clip(name, speak("en", folder / f"{name}.wav", text), name)
        for name, text in PHRASES.items()
    ]


@pytest.fixture(scope="module")
def s3(stack: Stack) -> Any:
    return stack.client("s3")


@pytest.fixture(scope="module")
def team(stack: Stack) -> tuple[JobsClient, dict[str, Any]]:
    """A client with a team's key (issued with the stack's admin key), and the key."""
    admin = JobsClient(stack.jobs_api_url, stack.env["JOBS_ADMIN_KEY"])
    issued = admin.issue_key("e2e-team")
    return admin.as_key(issued["key"]), issued


@pytest.fixture(scope="module")
def jobs(team: tuple[JobsClient, dict[str, Any]]) -> JobsClient:
    return team[0]


@pytest.fixture(scope="module")
def library(stack: Stack, s3: Any, clips: list[Clip]) -> dict[str, str]:
    """Each clip as an object outside INPUT_PREFIX (the router never sees it): s3:// URLs."""
    bucket = stack.env["AUDIO_BUCKET"]
    urls = {}
    for clip in clips:
        key = f"library/{clip.name}.wav"
        s3.put_object(Bucket=bucket, Key=key, Body=clip.body)
        urls[clip.name] = f"s3://{bucket}/{key}"
    return urls


def item_counts(job: dict[str, Any]) -> Counter[str]:
    return Counter(item["status"] for item in job["items"])


def check_progress(job: dict[str, Any], total: int) -> None:
    """One poll's counts: they add up, and no count of finished tasks is ahead of the tasks
    themselves (the tasks are read after the job, and a task's move and the job's counts
    change in one transaction)."""
    progress = job["progress"]
    assert progress["total"] == total == len(job["items"])
    assert sum(progress[s] for s in STATUS_COUNTS) == total, progress
    seen = item_counts(job)
    for status in ("succeeded", "failed", "canceled"):
        assert seen[status] >= progress[status], (status, progress, dict(seen))


def poll(
    jobs: JobsClient, job_id: str, total: int, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll until ``until``; every poll's counts are checked, and finished counts only grow."""
    polls: list[dict[str, Any]] = []

    def each(job: dict[str, Any]) -> None:
        check_progress(job, total)
        if polls:
            before = polls[-1]["progress"]
            for status in ("succeeded", "failed", "canceled"):
                assert job["progress"][status] >= before[status], (before, job["progress"])
        polls.append(job)

    job = jobs.wait(job_id, TIMEOUT, until=until, each=each, interval=0.3)
    assert len(polls) >= 1
    return job


def ended(job: dict[str, Any]) -> bool:
    return job["status"] in {"succeeded", "partially_failed", "failed", "canceled"}


def download(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def result_keys(stack: Stack, s3: Any, job_id: str) -> set[str]:
    """The job's transcripts (``.json`` results; not sidecars, error records or markers)."""
    prefix = f"{stack.env.get('OUTPUT_PREFIX', 'transcripts/')}jobs/{job_id}/"
    found: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.env["AUDIO_BUCKET"], Prefix=prefix
    ):
        found |= {
            o["Key"]
            for o in page.get("Contents", [])
            if o["Key"].endswith(".json") and not o["Key"].endswith(".error.json")
        }
    return found


def worker_idle(stack: Stack) -> bool:
    sqs = stack.client("sqs")
    urls = [stack.env["QUEUE_URL_HIGH"], stack.env["QUEUE_URL"], stack.env["QUEUE_URL_LOW"]]
    return all(queue_counts(sqs, url) == (0, 0) for url in urls)


def wait_until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {timeout:.0f} s"
        time.sleep(0.5)


# --- tests ------------------------------------------------------------------------------
def test_the_stack_exports_the_jobs_api_and_its_admin_key(stack: Stack) -> None:
    text = banner(stack)  # (it writes .local/env.sh)
    env_file = (stack.root / "env.sh").read_text()
    assert f"export JOBS_API_URL='{stack.jobs_api_url}'" in env_file
    assert f"export JOBS_ADMIN_KEY='{stack.env['JOBS_ADMIN_KEY']}'" in env_file
    assert f"export QUEUE_URL_HIGH='{stack.env['QUEUE_URL_HIGH']}'" in env_file
    assert stack.jobs_api_url in text and stack.env["JOBS_ADMIN_KEY"] in text
    assert httpx.get(f"{stack.jobs_api_url}/v1/health").status_code == 200


def test_twenty_mixed_items_run_to_succeeded_and_their_results_download(
    stack: Stack, jobs: JobsClient, clips: list[Clip], library: dict[str, str]
) -> None:
    items: list[dict[str, Any]] = []
    words: dict[str, str] = {}
    for i in range(20):
        clip = clips[i % len(clips)]
        item_id = f"item-{i:02d}"
        words[item_id] = clip.word
        if i % 3 == 0:
            items.append({"id": item_id, "audio_url": library[clip.name]})
        elif i % 3 == 1:
            items.append(base64_item(item_id, clip.path))
        else:
            items.append({"id": item_id, "upload": True, "ext": "wav"})
    accepted = jobs.submit(items)
    job_id = accepted["job_id"]
    uploads = {u["id"]: u["url"] for u in accepted["uploads"]}
    assert len(uploads) == 6 and accepted["enqueued_tasks"] == 14
    by_id = {f"item-{i:02d}": clips[i % len(clips)] for i in range(20)}
    for item_id, url in uploads.items():
        assert httpx.put(url, content=by_id[item_id].body, timeout=30).status_code == 200

    job = poll(jobs, job_id, 20, ended)

    assert job["status"] == "succeeded", job["progress"]
    assert job["progress"] == {"total": 20, **dict.fromkeys(STATUS_COUNTS, 0), "succeeded": 20}
    assert item_counts(job) == {"succeeded": 20}
    results = jobs.results(job_id)
    assert {item["id"] for item in results["items"]} == set(words)
    for item in results["items"]:
        transcript = json.loads(download(item["results"]["json"]["url"]))
        assert words[item["id"]] in transcript["text"].lower(), (item["id"], transcript["text"])
        assert download(item["results"]["txt"]["url"]).strip()


def test_a_poison_item_makes_the_job_partially_failed_with_its_error(
    jobs: JobsClient, clips: list[Clip]
) -> None:
    poison = {"id": "poison", "audio_base64": "bm90IGF1ZGlv" * 50, "ext": "wav"}  # "not audio"
    accepted = jobs.submit([base64_item("good", clips[0].path), poison])

    job = poll(jobs, accepted["job_id"], 2, ended)

    assert job["status"] == "partially_failed"
    assert job["progress"]["succeeded"] == 1 and job["progress"]["failed"] == 1
    items = {item["id"]: item for item in jobs.results(accepted["job_id"])["items"]}
    assert items["good"]["status"] == "succeeded"
    assert items["poison"]["status"] == "failed"
    assert items["poison"]["error"]["code"] in {"not_audio", "unsupported_media_type"}
    assert set(items["poison"]["results"]) == {"error"}  # its error record, no transcript
    record = json.loads(download(items["poison"]["results"]["error"]["url"]))
    assert record["error"] == items["poison"]["error"]["code"]


def test_one_webhook_delivery_signed_for_the_key(
    team: tuple[JobsClient, dict[str, Any]], clips: list[Clip]
) -> None:
    jobs, issued = team
    with receiver([]) as hook:
        accepted = jobs.submit([base64_item("hello", clips[0].path)], webhook_url=hook.url)
        job = poll(jobs, accepted["job_id"], 1, ended)
        assert job["status"] == "succeeded"
        wait_until(lambda: len(hook.requests) >= 1, "the webhook POST", timeout=60)
        time.sleep(3)  # a second delivery (a completion announced twice) would come now
        assert len(hook.requests) == 1, [h for h, _ in hook.requests]
        headers, body = hook.requests[0]
    payload = verify_example(body, headers, issued["webhook_secret"])
    assert payload["job_id"] == accepted["job_id"]
    assert payload["status"] == "succeeded"
    assert payload["progress"]["succeeded"] == 1
    attempts = jobs.job(accepted["job_id"])["webhook_attempts"]
    assert [a["outcome"] for a in attempts] == ["delivered"]


def started_at(s3: Any, stack: Stack, key: str) -> datetime:
    """When the worker started transcribing the task whose transcript is ``key``."""
    body = s3.get_object(Bucket=stack.env["AUDIO_BUCKET"], Key=key)["Body"].read()
    stamp = json.loads(body)["timings"]["started_at"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_canceled_job_runs_no_more_tasks(
    stack: Stack, s3: Any, jobs: JobsClient, library: dict[str, str]
) -> None:
    wait_until(lambda: worker_idle(stack), "the worker finishing earlier tests' tasks")
    items = [{"id": f"c{i:02d}", "audio_url": library["office"]} for i in range(50)]
    job_id = jobs.submit(items)["job_id"]
    poll(jobs, job_id, 50, lambda job: job["progress"]["succeeded"] >= 1)

    jobs.cancel(job_id)
    canceled_at = datetime.now(UTC)

    poll(jobs, job_id, 50, ended)
    wait_until(lambda: worker_idle(stack), "the worker skipping the canceled tasks")
    time.sleep(2)  # results of tasks that still ran would be written and tracked by now
    job = jobs.job(job_id)
    progress = job["progress"]
    assert job["status"] == "canceled"
    assert progress["succeeded"] + progress["canceled"] + progress["failed"] == 50
    assert item_counts(job) == {
        s: progress[s] for s in ("succeeded", "canceled", "failed") if progress[s]
    }
    # The worker checks the cancel marker before each task and trusts a "not canceled" for
    # NOT_CANCELED_SECONDS: no task starts after that (plus a download's slack), the rest
    # never run and are counted canceled.
    written = result_keys(stack, s3, job_id)
    latest = canceled_at + timedelta(seconds=NOT_CANCELED_SECONDS + 3)
    late = [k for k in written if started_at(s3, stack, k) > latest]
    assert late == [], late
    assert 1 <= len(written) < 50
    assert progress["canceled"] >= 50 - len(written)
    assert progress["succeeded"] <= len(written)


def finished_times(job: dict[str, Any]) -> list[str]:
    """When each succeeded task's transcription ended, as its transcript says (the worker's
    clock, in milliseconds), in order."""
    return sorted(
        str(item["timings"]["finished_at"])
        for item in job["items"]
        if item["status"] == "succeeded"
    )


def test_a_high_priority_task_overtakes_a_hundred_low_ones(
    stack: Stack, jobs: JobsClient, library: dict[str, str]
) -> None:
    wait_until(lambda: worker_idle(stack), "the worker finishing earlier tests' tasks")
    low = jobs.submit(
        [{"id": f"l{i:03d}", "audio_url": library["weather"]} for i in range(100)],
        priority="low",
    )["job_id"]
    poll(jobs, low, 100, lambda job: job["progress"]["succeeded"] >= 1)
    high = jobs.submit([{"id": "urgent", "audio_url": library["library"]}], priority="high")
    # Submitted once the API answered 202: its message is on the high queue from then on
    # (while the POST runs, the worker may still take a low task, as it should).
    submitted = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    high_job = poll(jobs, high["job_id"], 1, ended)
    jobs.cancel(low)  # the point is made: skip the rest
    assert high_job["status"] == "succeeded"

    (high_done,) = finished_times(high_job)
    low_done = finished_times(jobs.job(low))
    overtaken_by = [t for t in low_done if submitted < t < high_done]
    # One worker: the low task it was transcribing and the one it had prefetched may end
    # first; the 3rd low task after the high one's submission may not.
    assert len(overtaken_by) <= 2, (submitted, high_done, overtaken_by)
    assert len(low_done) < 100  # and the low job did not simply run to its end first
    assert poll(jobs, low, 100, ended)["status"] == "canceled"
