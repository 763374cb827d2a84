"""Completion webhooks: signed per Standard Webhooks, retried through the queue, refused safely.

The receivers are real HTTP servers on 127.0.0.1 (WEBHOOK_ALLOW_LOOPBACK is on in the test
stack); the payload is verified with the ``standardwebhooks`` library and, independently,
by recomputing the published algorithm.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import runpy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from jobs_api.tracker import Tracker, build_tracker
from jobs_api.webhooks.sender import WebhookSender, build_sender
from tests.jobs_api.conftest import Api, JobsStack, bearer
from tests.jobs_api.test_api_jobs import receive_all
from tests.jobs_api.test_tracker import TRANSCRIPT, created, write_result
from tests.support.processes import ROOT


def verify_example(body: bytes, headers: dict[str, str], secret: str) -> dict[str, Any]:
    """``examples/verify_webhook.py``'s ``verify`` (the published library underneath)."""
    example = runpy.run_path(str(ROOT / "examples" / "verify_webhook.py"))
    payload: dict[str, Any] = example["verify"](body, headers, secret)
    return payload


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering the scripted statuses, then 200."""

    url: str
    script: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@contextlib.contextmanager
def receiver(script: list[int]) -> Iterator[Receiver]:
    state = Receiver("", list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/jobs"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tracker(jobs_stack: JobsStack) -> Tracker:
    return build_tracker(jobs_stack.settings, **jobs_stack.clients)


@pytest.fixture
def sender(jobs_stack: JobsStack) -> WebhookSender:
    return build_sender(jobs_stack.settings, **jobs_stack.clients, resolve=jobs_stack.resolve)


def run_job_to_completion(
    api: Api, tracker: Tracker, s3: Any, samples: dict[str, Path], webhook_url: str
) -> tuple[str, dict[str, Any]]:
    """A one-item job with ``webhook_url``, completed by its result; returns (job id, key)."""
    key = api.issue("team-hooks", ["jobs:write", "jobs:read"])
    s3.put_object(Bucket=api.stack.bucket, Key="in/one.wav", Body=samples["one"].read_bytes())
    body = {
        "job_type": "asr",
        "items": [{"id": "one", "audio_url": f"s3://{api.stack.bucket}/in/one.wav"}],
        "webhook_url": webhook_url,
    }
    response = api.http.post("/v1/jobs", json=body, headers=bearer(key["key"]))
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    result_key = f"transcripts/jobs/{job_id}/one.json"
    write_result(s3, api.stack.bucket, result_key, TRANSCRIPT)
    [outcome] = tracker.handle(created(api.stack.bucket, result_key))
    assert outcome.what == "completed"
    return job_id, key


def drain_until(sender: WebhookSender, done: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the delivery did not finish in time"
        sender.drain()


def test_the_webhook_is_signed_and_verifies(
    api: Api, tracker: Tracker, sender: WebhookSender, s3: Any, samples: dict[str, Path]
) -> None:
    with receiver([]) as hook:
        job_id, key = run_job_to_completion(api, tracker, s3, samples, hook.url)
        drain_until(sender, lambda: hook.requests)
    [(headers, body)] = hook.requests
    payload = verify_example(body, headers, key["webhook_secret"])  # the README's receiver
    assert payload["job_id"] == job_id and payload["status"] == "succeeded"
    assert payload["owner"] == "team-hooks" and payload["progress"]["succeeded"] == 1

    # the algorithm by hand: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>
    secret = base64.b64decode(key["webhook_secret"].removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["content-type"] == "application/json"

    other = api.issue("someone-else", ["jobs:read"])["webhook_secret"]
    with pytest.raises(Exception, match="signature"):
        Webhook(other).verify(body, headers)

    job = api.http.get(f"/v1/jobs/{job_id}", headers=bearer(key["key"])).json()
    assert [(a["number"], a["outcome"], a["status"]) for a in job["webhook_attempts"]] == [
        (1, "delivered", 200)
    ]
    assert receive_all(api.stack.clients["sqs"], api.stack.webhook_queue) == []


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt(
    api: Api, tracker: Tracker, sender: WebhookSender, s3: Any, samples: dict[str, Path]
) -> None:
    with receiver([500, 503]) as hook:
        job_id, key = run_job_to_completion(api, tracker, s3, samples, hook.url)
        drain_until(sender, lambda: len(hook.requests) == 3)
        time.sleep(0.2)
        sender.drain()  # nothing more comes
    assert len(hook.requests) == 3
    assert len({h["webhook-id"] for h, _ in hook.requests}) == 1  # one delivery, three tries
    for headers, body in hook.requests:
        Webhook(key["webhook_secret"]).verify(body, headers)
    job = api.http.get(f"/v1/jobs/{job_id}", headers=bearer(key["key"])).json()
    assert [(a["number"], a["outcome"], a.get("status")) for a in job["webhook_attempts"]] == [
        (1, "failed", 500),
        (2, "failed", 503),
        (3, "delivered", 200),
    ]
    sqs = api.stack.clients["sqs"]
    assert receive_all(sqs, api.stack.webhook_queue) == []
    assert receive_all(sqs, api.stack.webhook_dlq) == []


def test_a_receiver_that_never_answers_2xx_ends_in_the_dlq(
    api: Api, tracker: Tracker, sender: WebhookSender, s3: Any, samples: dict[str, Path]
) -> None:
    sqs = api.stack.clients["sqs"]
    with receiver([500] * 10) as hook:
        job_id, key = run_job_to_completion(api, tracker, s3, samples, hook.url)
        drain_until(sender, lambda: len(hook.requests) == 3)
        for _ in range(3):
            sender.drain()
    assert len(hook.requests) == 3  # WEBHOOK_MAX_ATTEMPTS in the test stack
    [dead] = receive_all(sqs, api.stack.webhook_dlq)
    assert dead["job_id"] == job_id
    job = api.http.get(f"/v1/jobs/{job_id}", headers=bearer(key["key"])).json()
    assert [a["outcome"] for a in job["webhook_attempts"]] == ["failed"] * 3


def test_a_host_whose_dns_answer_changed_is_checked_again_and_not_called(
    api: Api, tracker: Tracker, sender: WebhookSender, s3: Any, samples: dict[str, Path]
) -> None:
    with receiver([]) as hook:
        port = hook.url.split(":")[2].split("/")[0]
        api.stack.resolver["hooks.test"] = ["127.0.0.1"]
        job_id, key = run_job_to_completion(
            api, tracker, s3, samples, f"http://hooks.test:{port}/hooks/jobs"
        )
        # the DNS answer changes after the job was accepted: the URL is checked again before
        # the POST, on the new answer (here none at all), and nothing is connected to
        del api.stack.resolver["hooks.test"]
        sender.drain()
    assert hook.requests == []
    job = api.http.get(f"/v1/jobs/{job_id}", headers=bearer(key["key"])).json()
    [attempt] = job["webhook_attempts"]
    assert attempt["outcome"] == "refused" and "does not resolve" in attempt["error"]
    sqs = api.stack.clients["sqs"]
    assert receive_all(sqs, api.stack.webhook_queue) == []  # not retried


def test_the_completion_is_one_delivery_series(
    api: Api, tracker: Tracker, sender: WebhookSender, s3: Any, samples: dict[str, Path]
) -> None:
    with receiver([]) as hook:
        job_id, _ = run_job_to_completion(api, tracker, s3, samples, hook.url)
        result_key = f"transcripts/jobs/{job_id}/one.json"
        for _ in range(5):  # the same result event again and again
            tracker.handle(created(api.stack.bucket, result_key))
        drain_until(sender, lambda: hook.requests)
        time.sleep(0.2)
        sender.drain()
    assert len(hook.requests) == 1
    assert json.loads(hook.requests[0][1])["job_id"] == job_id
