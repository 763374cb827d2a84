"""The jobs API's cost over the raw AWS calls it makes, side by side in one run.

Starts its own moto server on 127.0.0.1 (the AWS endpoint) and measures, in alternating rounds:

* **accept**: the wall time of ``POST /v1/jobs`` with N ``s3://`` items on the real app
  (uvicorn on 127.0.0.1), until its 202: validation, one HEAD per item, the job claim, the
  tasks (``BatchWriteItem``) and their messages (``SendMessageBatch``);
* **raw**: a plain loop writing the same N task items with ``BatchWriteItem`` (25 a call) and
  sending the same N job messages with ``SendMessageBatch`` (10 a call), one call at a time.
  Target: accept ÷ raw ≤ 1.5;
* **tracker**: the time of ``Tracker.track`` per completed task (read the task, read the
  result, the conditional move, the completion check), over M tasks; p50 and p95 in ms.
  Target: p95 ≤ 50 ms against the local endpoint.

    .venv/bin/python bench/bench_jobs.py [--items 1000] [--tracked 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs_api.main import create_app  # noqa: E402
from jobs_api.settings import JobsSettings  # noqa: E402
from jobs_api.tables import TableNames, create_tables  # noqa: E402
from jobs_api.tracker import build_tracker  # noqa: E402
from local_stack.processes import moto_server  # noqa: E402
from tests.support.jobs_api import serve  # noqa: E402
from transcription.aws import make_client  # noqa: E402
from transcription.job import Job  # noqa: E402
from transcription.settings import AwsSettings, load  # noqa: E402

ADMIN_KEY = "bench-admin-" + "k" * 24
TARGET_ACCEPT = 1.5
TARGET_TRACKER_P95_MS = 50.0
SAMPLE = ROOT / "tests" / "samples" / "speech-one.wav"


def raw_writes(dynamodb: Any, sqs: Any, table: str, queue: str, bucket: str, n: int) -> float:
    """The same N task items and N job messages, written by a plain loop."""
    job_id = uuid.uuid4().hex
    items = [
        {
            "pk": {"S": f"job#{job_id}"},
            "sk": {"S": f"task#item-{i}"},
            "job_id": {"S": job_id},
            "item_id": {"S": f"item-{i}"},
            "task_id": {"S": f"t{i}"},
            "status": {"S": "queued"},
            "source": {"S": "s3"},
            "input_bucket": {"S": bucket},
            "input_key": {"S": "in/one.wav"},
            "updated_at": {"S": "2026-12-01T00:00:00Z"},
            "output_key": {"S": f"transcripts/jobs/{job_id}/item-{i}.json"},
        }
        for i in range(n)
    ]
    bodies = [
        Job(
            bucket,
            "in/one.wav",
            "etag",
            1,
            bucket,
            f"transcripts/jobs/{job_id}/item-{i}.json",
            "job",
            trace_id=job_id,
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    for i in range(0, n, 25):
        dynamodb.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]}
        )
    for i in range(0, n, 10):
        entries = [
            {
                "Id": str(k),
                "MessageBody": job.to_json(),
                "MessageAttributes": job.message_attributes(),
            }
            for k, job in enumerate(bodies[i : i + 10])
        ]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    return time.perf_counter() - start


AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def fresh(clients: dict[str, Any], url: str, bucket: str, prefix: str) -> JobsSettings:
    """Settings of a new set of tables and a new queue named by ``prefix``."""
    create_tables(clients["dynamodb"], TableNames.from_prefix(prefix))
    queue = clients["sqs"].create_queue(QueueName=f"{prefix}-queue")["QueueUrl"]
    return load(
        JobsSettings,
        {
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url, "AUDIO_BUCKET": bucket,
            "QUEUE_URL": queue, "JOBS_TABLE_PREFIX": prefix, "JOBS_ADMIN_KEY": ADMIN_KEY,
            "JOBS_RATE_LIMIT_PER_MINUTE": "0",
        },
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--tracked", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.tracked = min(args.tracked, args.items)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with moto_server() as url:
        aws = AwsSettings(aws_region="us-east-1", aws_endpoint_url=url)
        clients = {s: make_client(s, aws) for s in ("dynamodb", "s3", "sqs", "events")}
        s3, sqs = clients["s3"], clients["sqs"]
        bucket = "bench-jobs"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="in/one.wav", Body=SAMPLE.read_bytes())
        body = {
            "job_type": "asr",
            "items": [
                {"id": f"item-{i}", "audio_url": f"s3://{bucket}/in/one.wav"}
                for i in range(args.items)
            ],
        }
        accept: list[float] = []
        raw: list[float] = []
        # fresh tables and queues for every measurement: moto slows down as they fill (its
        # transactions deep-copy the tables they touch), which AWS does not
        for round_ in range(args.rounds):
            settings = fresh(clients, url, bucket, f"bench{round_}")
            with serve(create_app(settings, **clients)) as base:
                start = time.perf_counter()
                response = httpx.post(f"{base}/v1/jobs", json=body, headers=AUTH, timeout=600)
                accept.append(time.perf_counter() - start)
                assert response.status_code == 202, response.text
            raw_settings = fresh(clients, url, bucket, f"raw{round_}")
            raw.append(
                raw_writes(
                    clients["dynamodb"], sqs, f"raw{round_}-jobs", raw_settings.queue_url,
                    bucket, args.items,
                )
            )  # fmt: skip
        settings = fresh(clients, url, bucket, "tracked")
        tracked = {**body, "items": body["items"][: args.tracked]}
        with serve(create_app(settings, **clients)) as base:
            job_id = httpx.post(f"{base}/v1/jobs", json=tracked, headers=AUTH).json()["job_id"]
        tracker = build_tracker(settings, **clients)
        result = json.dumps({"version": 1, "text": "x", "language": "en", "model": "tiny.en"})
        times: list[float] = []
        for i in range(args.tracked):
            key = f"transcripts/jobs/{job_id}/item-{i}.json"
            s3.put_object(Bucket=bucket, Key=key, Body=result.encode())
            start = time.perf_counter()
            outcome = tracker.track(bucket, key)
            times.append((time.perf_counter() - start) * 1000)
            assert outcome.what in {"counted", "completed"}, outcome
    a, r = statistics.median(accept), statistics.median(raw)
    times.sort()
    p50 = times[len(times) // 2]
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"accept {args.items} items: {a:.2f} s (median of {args.rounds}; rounds {accept})")
    print(f"raw BatchWriteItem + SendMessageBatch: {r:.2f} s (rounds {raw})")
    print(f"accept / raw = {a / r:.2f} (target <= {TARGET_ACCEPT})")
    print(f"tracker per task over {args.tracked}: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"(target p95 <= {TARGET_TRACKER_P95_MS:.0f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
