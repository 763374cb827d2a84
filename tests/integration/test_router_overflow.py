"""Managed overflow against moto's Transcribe, over HTTP: the router's third route.

moto's Transcribe accepts jobs and takes them QUEUED → IN_PROGRESS → COMPLETED (one step per
GetTranscriptionJob, set through moto's state manager) but writes no output document. The
test plays Transcribe's part there: once moto reports a job COMPLETED, it places
``tests/stand_ins/transcribe/output-two-speakers.json`` (a stand-in for Transcribe's output,
hand-written in AWS's published format; see its README) at the key the job was told to write.

The fleet is the local one of the planner's figures: ``tiny.en`` on ``c7i.large`` (18.6 x real
time per instance). The backlog is real jobs on the real queue; the server is down, so every
upload would be queued (reason ``server_down``) unless it overflows.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import Request, urlopen

import pytest
from tenacity import wait_none

from lambda_router.handler import handle, process
from lambda_router.metrics import Metrics
from lambda_router.pump import Pump
from lambda_router.router import Router
from lambda_router.settings import PumpSettings
from tests.support import router_kit
from tests.support.aws_calls import AwsCalls
from tests.support.router_kit import RouterKit, context
from tests.support.sample_events import load_event
from transcription.aws import make_client
from transcription.job import Job
from transcription.job_spec import JobSpec
from transcription.managed import Collector, OverflowSettings
from transcription.managed.names import OverflowKeys, job_name
from transcription.transcript import Transcript

server, clients, kit = router_kit.server, router_kit.clients, router_kit.kit  # shared fixtures

STAND_IN = Path(__file__).resolve().parents[1] / "stand_ins" / "transcribe"
DOCUMENT = (STAND_IN / "output-two-speakers.json").read_bytes()
JOB_MODEL = "transcribe::transcriptionjob"
KEYS = OverflowKeys()
# 40 queued jobs x 300 s = 12,000 s of audio. One worker (18.6 s/s) needs 645 s to reach a new
# job: past a 300 s deadline. Forty workers (744 s/s) need 16 s: well within it.
BACKLOG = 40
DEADLINE = 300.0


@pytest.fixture(scope="module", autouse=True)
def transcribe_steps(moto_url: str) -> Iterator[None]:
    """moto's jobs go one state per GetTranscriptionJob (its default jumps to COMPLETED at
    once, without an output URI), as a real job is seen QUEUED, then IN_PROGRESS."""
    manual = {"progression": "manual", "times": 1}
    moto_api(moto_url, "set-transition", {"model_name": JOB_MODEL, "transition": manual})
    yield
    moto_api(moto_url, "unset-transition", {"model_name": JOB_MODEL})


def moto_api(moto_url: str, action: str, body: dict[str, Any]) -> None:
    request = Request(
        f"{moto_url}/moto-api/state-manager/{action}", data=json.dumps(body).encode(), method="POST"
    )
    with urlopen(request, timeout=10) as response:  # moto's server on 127.0.0.1
        assert response.status in (200, 201)


@pytest.fixture
def transcribe(kit: RouterKit) -> Any:
    return make_client("transcribe", kit.aws)


class Overflowing:
    """A router with the overflow on, its Transcribe calls counted, and the test's helpers."""

    def __init__(self, kit: RouterKit, transcribe: Any, **overflow: Any) -> None:
        self.kit = kit
        self.transcribe = transcribe
        self.calls = AwsCalls()
        values: dict[str, Any] = {
            "overflow": "transcribe",
            "batch_deadline_seconds": DEADLINE,
            "max_workers": 1,
            "worker_instance_types": ("c7i.large",),
            "model": "tiny.en",
            "overflow_max_minutes_per_month": 10.0,
            "overflow_max_concurrent_jobs": 10_000,  # moto's jobs outlive the tests
        }
        values.update(overflow)
        self.router = Router(
            kit.settings(overflow=OverflowSettings(**values)),
            s3=kit.clients.s3,
            sqs=kit.clients.sqs,
            ssm=lambda: kit.clients.ssm,
            metrics=Metrics("Test", stream=kit.emf),
            wait=wait_none(),
            transcribe=self.calls.watch(make_client("transcribe", kit.aws)),
        )

    def send(self, key: str, body: bytes | None = None) -> tuple[dict[str, Any], str]:
        etag, size = self.kit.upload(key, body)
        [result] = handle(self.router, self.kit.event(key, etag, size), context())
        return result, etag

    def complete(self, name: str) -> None:
        """Step moto's job to COMPLETED, then write the stand-in document where it says."""
        for _ in range(5):
            job = self.transcribe.get_transcription_job(TranscriptionJobName=name)
            if job["TranscriptionJob"]["TranscriptionJobStatus"] == "COMPLETED":
                break
        else:
            raise AssertionError(f"moto never completed {name}")
        uri = job["TranscriptionJob"]["Transcript"]["TranscriptFileUri"]
        bucket, key = urlparse(uri).path.lstrip("/").split("/", 1)
        assert (bucket, key) == (self.kit.bucket, KEYS.output(name))
        self.kit.s3.put_object(Bucket=bucket, Key=key, Body=DOCUMENT)

    def collect_event(self, name: str, status: str = "COMPLETED") -> dict[str, Any]:
        event = load_event("transcribe-job-state-change")
        event["detail"].update(TranscriptionJobName=name, TranscriptionJobStatus=status)
        [result] = process(self.router, event, context()).results
        return result

    def budget(self) -> dict[str, Any]:
        [key] = self.kit.s3.list_objects_v2(Bucket=self.kit.bucket, Prefix=f"{KEYS.prefix}budget/")[
            "Contents"
        ]
        body = self.kit.s3.get_object(Bucket=self.kit.bucket, Key=key["Key"])["Body"].read()
        return dict(json.loads(body))


def fill_backlog(kit: RouterKit, jobs: int) -> None:
    for i in range(jobs):
        job = Job(
            bucket=kit.bucket,
            key=f"audio/backlog/{i}.wav",
            etag=f"{i:032x}",
            size=4_800_000,
            output_bucket=kit.bucket,
            output_key=f"transcripts/backlog/{i}.wav.json",
            reason="server_down",
        )
        kit.sqs.send_message(QueueUrl=kit.queue_url, MessageBody=job.to_json())


def our_jobs(kit: RouterKit) -> list[Job]:
    return [job for job, _ in kit.jobs() if not job.key.startswith("audio/backlog/")]


def shape(value: Any) -> Any:
    """The keys of a JSON value, nested (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


# --- the decision -----------------------------------------------------------------------------
def test_a_saturated_fleet_sends_jobs_to_transcribe_until_the_budget_is_spent(
    kit: RouterKit, transcribe: Any
) -> None:
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    # Each upload is a few bytes: Transcribe bills its 15 s minimum, 0.25 min a job.
    overflow = Overflowing(kit, transcribe, overflow_max_minutes_per_month=0.5)
    results = [overflow.send(f"audio/rush/{i}.wav") for i in range(3)]
    routes = [(r["route"], r["reason"]) for r, _ in results]
    assert routes == [("managed", "deadline"), ("managed", "deadline"),
                      ("queued", "budget_exhausted")]  # fmt: skip
    assert "645 s" in results[0][0]["detail"] and "deadline 300 s" in results[0][0]["detail"]
    assert "OVERFLOW_MAX_MINUTES_PER_MONTH=0.5" in results[2][0]["detail"]
    names = [r["managed_job"] for r, _ in results[:2]]
    assert names == [job_name(kit.bucket, f"audio/rush/{i}.wav", results[i][1]) for i in (0, 1)]
    for name, i in zip(names, (0, 1), strict=True):
        job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
        assert job["Media"]["MediaFileUri"] == f"s3://{kit.bucket}/audio/rush/{i}.wav"
        assert job["TranscriptionJobName"] == name
    assert overflow.budget() | {"month": "-"} == {"month": "-", "minutes": 0.5, "jobs": 2}
    [queued] = our_jobs(kit)
    assert (queued.key, queued.reason) == ("audio/rush/2.wav", "budget_exhausted")
    assert overflow.calls.counts() == {"ListTranscriptionJobs": 6, "StartTranscriptionJob": 2}


def test_an_unsaturated_fleet_never_overflows(kit: RouterKit, transcribe: Any) -> None:
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    # The same backlog, but up to 40 workers may start: 12,000 / 744 = 16 s of wait.
    overflow = Overflowing(kit, transcribe, max_workers=40)
    result, _ = overflow.send("audio/calm/a.wav")
    assert (result["route"], result["reason"]) == ("queued", "server_down")
    assert [j.key for j in our_jobs(kit)] == ["audio/calm/a.wav"]  # the backlog is received too
    # A short backlog with one worker: 2 x 300 / 18.6 = 32 s.
    fill_backlog(kit, 2)
    one = Overflowing(kit, transcribe, max_workers=1)
    result, _ = one.send("audio/calm/b.wav")
    assert (result["route"], result["reason"]) == ("queued", "server_down")
    assert overflow.calls.names == one.calls.names == []  # Transcribe never asked
    assert [j.key for j in our_jobs(kit)] == ["audio/calm/b.wav"]
    assert kit.s3.list_objects_v2(Bucket=kit.bucket, Prefix=KEYS.prefix)["KeyCount"] == 0


def test_without_a_deadline_or_with_overflow_off_nothing_overflows(
    kit: RouterKit, transcribe: Any
) -> None:
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    for overflow in (
        Overflowing(kit, transcribe, batch_deadline_seconds=None),
        Overflowing(kit, transcribe, overflow=""),
    ):
        result, _ = overflow.send("audio/none/a.wav")
        assert (result["route"], result["reason"]) == ("queued", "server_down")
        assert overflow.calls.names == []


def test_a_full_transcribe_quota_queues_the_job_with_its_reason(
    kit: RouterKit, transcribe: Any
) -> None:
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    probe = Overflowing(kit, transcribe)
    active = probe.router.overflow.starter.active_jobs()  # type: ignore[union-attr]
    overflow = Overflowing(kit, transcribe, overflow_max_concurrent_jobs=active + 1)
    first, _ = overflow.send("audio/quota/1.wav")
    # moto lists a new job under no state until it is first read; a real one is QUEUED at once.
    transcribe.get_transcription_job(TranscriptionJobName=first["managed_job"])
    second, _ = overflow.send("audio/quota/2.wav")
    assert (first["route"], second["route"], second["reason"]) == (
        "managed",
        "queued",
        "managed_quota",
    )
    assert f"OVERFLOW_MAX_CONCURRENT_JOBS={active + 1}" in second["detail"]
    assert overflow.budget()["jobs"] == 1  # the refused job reserved nothing


# --- exactly once ----------------------------------------------------------------------------
def test_the_transcript_is_written_once_in_our_shape(kit: RouterKit, transcribe: Any) -> None:
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    overflow = Overflowing(kit, transcribe)
    key, out = "audio/once/talk.wav", "transcripts/once/talk.wav.json"
    result, etag = overflow.send(key)
    assert result["route"] == "managed"
    name = result["managed_job"]
    # The same upload event again (EventBridge delivers at least once): nothing new starts.
    [again] = handle(overflow.router, kit.event(key, etag, len(f"not really audio: {key}")),
                     context())  # fmt: skip
    assert (again["route"], again["reason"]) == ("skipped", "managed_started")
    assert overflow.calls.counts()["StartTranscriptionJob"] == 1
    assert overflow.budget()["jobs"] == 1

    assert overflow.collect_event(name, "IN_PROGRESS")["reason"] == "pending"  # moto: QUEUED
    assert kit.transcript(out) is None
    overflow.complete(name)
    written = overflow.collect_event(name)
    assert (written["route"], written["reason"], written["output_key"]) == (
        "managed",
        "written",
        out,
    )

    stored = kit.transcript(out)
    assert stored is not None
    assert stored["route"] == "managed" and stored["engine"] == "aws-transcribe"
    assert stored["source"] == {"bucket": kit.bucket, "key": key, "etag": etag,
                                "size": len(f"not really audio: {key}")}  # fmt: skip
    assert stored["text"].startswith("Hello, this is the overflow test.")
    assert [s["text"] for s in stored["segments"]][-1] == "Yes, I can hear you."
    assert stored["speakers"] is None  # not asked for
    # Our shape: it reads back through our model unchanged, and has the keys (nested) of a
    # transcript the direct path wrote with the same code.
    assert json.loads(Transcript.from_dict(stored).to_json()) == stored
    kit.server.set_mode("healthy")
    direct = kit.send(kit.router(), "audio/once/direct.wav")  # the direct path's own router
    assert direct["route"] == "direct"
    reference = kit.transcript("transcripts/once/direct.wav.json")
    assert reference is not None
    assert shape(stored) == shape(reference) | {"segments": shape(stored["segments"])}
    assert shape(stored["segments"][0])["words"][0].keys() == {
        "word", "start", "end", "probability", "speaker"
    }  # fmt: skip
    for fmt in ("txt", "srt", "vtt"):
        sidecar = kit.s3.get_object(Bucket=kit.bucket, Key=out.replace(".json", f".{fmt}"))
        assert b"hear you" in sidecar["Body"].read()

    # Written once: a second event for the job, and the local poll, write nothing new.
    head = kit.s3.head_object(Bucket=kit.bucket, Key=out)
    assert overflow.collect_event(name)["reason"] == "unknown"  # its ticket is gone
    assert overflow.router.collector is not None
    assert overflow.router.collector.collect_pending() == []
    assert kit.s3.head_object(Bucket=kit.bucket, Key=out)["ETag"] == head["ETag"]
    # And the upload's event once more: the transcript is current, nothing routed.
    [late] = handle(overflow.router, kit.event(key, etag, 1), context())
    assert (late["route"], late["reason"]) == ("skipped", "transcript_current")
    assert overflow.calls.counts()["StartTranscriptionJob"] == 1  # talk.wav, once


def completed(kit: RouterKit, transcribe: Any, key: str) -> tuple[Overflowing, str, Collector]:
    """``key`` overflowed on a saturated fleet and its job COMPLETED, not collected yet."""
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    overflow = Overflowing(kit, transcribe)
    result, _ = overflow.send(key)
    name = result["managed_job"]
    overflow.complete(name)
    assert overflow.router.collector is not None
    return overflow, name, overflow.router.collector


def test_two_collectors_racing_keep_one_transcript(kit: RouterKit, transcribe: Any) -> None:
    """A collector that read the ticket before the other wrote still cannot write twice."""
    _, name, collector = completed(kit, transcribe, "audio/race/a.wav")
    ticket = collector.tickets.read(name)
    assert ticket is not None
    job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    first = collector._write(ticket, job)  # both past their checks at once
    second = collector._write(ticket, job)
    assert (first.outcome, second.outcome) == ("written", "exists")


def test_the_local_poll_collects_a_completed_job(kit: RouterKit, transcribe: Any) -> None:
    _, name, collector = completed(kit, transcribe, "audio/poll/a.wav")
    outcomes = {c.job_name: c.outcome for c in collector.collect_pending()}
    assert outcomes == {name: "written"}
    assert kit.transcript("transcripts/poll/a.wav.json") is not None


def test_the_local_event_pump_polls_the_overflow(kit: RouterKit, transcribe: Any) -> None:
    """Locally the pump stands in for the "Transcribe Job State Change" rule."""
    overflow, _, collector = completed(kit, transcribe, "audio/pump/a.wav")
    events = kit.sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    settings = PumpSettings(events_queue_url=events, aws=kit.aws, pump_wait_seconds=0,
                            pump_concurrency=1, overflow="transcribe")  # fmt: skip
    pump = Pump(settings, kit.sqs, handler=lambda e, c: handle(overflow.router, e, c),
                collect=collector.collect_pending)  # fmt: skip
    pump.run(threading.Event(), exit_when_idle=1.0)
    assert pump.collected >= 1
    stored = kit.transcript("transcripts/pump/a.wav.json")
    assert stored is not None and stored["route"] == "managed"


def test_a_batch_jobs_own_deadline_and_speakers_go_with_it(kit: RouterKit, transcribe: Any) -> None:
    """An uploaded item of a job with a deadline (none deployment-wide) that asked for
    speakers: Transcribe labels them, and the transcript names them as our diarization does."""
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    spec = JobSpec(job_id=uuid.uuid4().hex, diarize={"max_speakers": 3}, deadline=DEADLINE)
    kit.s3.put_object(Bucket=kit.bucket, Key=f"transcripts/jobs/{spec.job_id}/spec",
                      Body=spec.to_json().encode())  # fmt: skip
    overflow = Overflowing(kit, transcribe, batch_deadline_seconds=None)
    result, _ = overflow.send(f"audio/jobs/{spec.job_id}/item-1.wav")
    assert (result["route"], result["reason"]) == ("managed", "deadline")
    name = result["managed_job"]
    job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    assert job["Settings"]["ShowSpeakerLabels"] is True
    assert job["Settings"]["MaxSpeakerLabels"] == 3
    overflow.complete(name)
    assert overflow.collect_event(name)["reason"] == "written"
    assert result["output_key"] == f"transcripts/jobs/{spec.job_id}/item-1.wav.json"
    stored = kit.transcript(result["output_key"])  # where the jobs API looks for the result
    assert stored is not None
    assert [s["speaker"] for s in stored["segments"]] == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01"]
    assert stored["speakers"] == {"SPEAKER_00": 3.26, "SPEAKER_01": 1.3}
    # Without a deadline anywhere, the same job's next item is queued as any job item.
    plain = JobSpec(job_id=uuid.uuid4().hex, diarize={"max_speakers": 3})
    kit.s3.put_object(Bucket=kit.bucket, Key=f"transcripts/jobs/{plain.job_id}/spec",
                      Body=plain.to_json().encode())  # fmt: skip
    queued, _ = overflow.send(f"audio/jobs/{plain.job_id}/item-1.wav")
    assert (queued["route"], queued["reason"]) == ("queued", "job")


def test_the_budget_counts_the_billed_length_once_collected(
    kit: RouterKit, transcribe: Any
) -> None:
    kit.server.set_mode("down")
    fill_backlog(kit, BACKLOG)
    overflow = Overflowing(kit, transcribe)
    # 960,000 bytes at DIRECT_AUDIO_BYTES_PER_SECOND=16,000: 60 s estimated, 1 minute reserved.
    result, _ = overflow.send("audio/billed/a.wav", b"\0" * 960_000)
    assert overflow.budget() | {"month": "-"} == {"month": "-", "minutes": 1.0, "jobs": 1}
    overflow.complete(result["managed_job"])
    assert overflow.collect_event(result["managed_job"])["reason"] == "written"
    # The transcript lasts 5.2 s: billed at Transcribe's 15 s minimum, 0.25 minutes.
    assert overflow.budget() | {"month": "-"} == {"month": "-", "minutes": 0.25, "jobs": 1}
