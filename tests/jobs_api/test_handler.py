"""The Lambda entry points with stored sample events, against moto's server; and ``python -m``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs_api import handler
from tests.jobs_api.conftest import ADMIN_KEY, JobsStack
from tests.support.processes import ROOT, free_port, running
from tests.support.sample_events import EVENTS, load_event


class LambdaContext:
    """The few attributes of Lambda's context object that Mangum reads (a stand-in)."""

    function_name = "jobs-api"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_env(
    jobs_stack: JobsStack, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The environment a deployed function would have, and the handlers' caches emptied."""
    settings = jobs_stack.settings
    env = {
        "AUDIO_BUCKET": jobs_stack.bucket,
        "QUEUE_URL": jobs_stack.queues["normal"],
        "JOBS_TABLE_PREFIX": settings.jobs_table_prefix,
        "JOBS_ADMIN_KEY": ADMIN_KEY,
        "WEBHOOK_QUEUE_URL": jobs_stack.webhook_queue,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    caches = (handler._settings, handler._api, handler._tracker, handler._sender)
    for cached in caches:
        cached.cache_clear()
    yield {**aws_env, **env}
    for cached in caches:
        cached.cache_clear()


def function_url_event(method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    event = json.loads((EVENTS / "lambda-function-url.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    if key:
        event["headers"]["authorization"] = f"Bearer {key}"
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return event


def test_the_api_answers_a_function_url_event(lambda_env: dict[str, str]) -> None:
    health = handler.api_handler(function_url_event("GET", "/v1/health"), LambdaContext())
    assert health["statusCode"] == 200 and json.loads(health["body"])["status"] == "ok"
    issued = handler.api_handler(
        function_url_event("POST", "/v1/auth/keys", {"owner": "o", "scopes": ["jobs:read"]},
                           ADMIN_KEY),
        LambdaContext(),
    )  # fmt: skip
    assert issued["statusCode"] == 201, issued
    key = json.loads(issued["body"])["key"]
    listed = handler.api_handler(function_url_event("GET", "/v1/jobs", key=key), LambdaContext())
    assert listed["statusCode"] == 200 and json.loads(listed["body"])["jobs"] == []
    refused = handler.api_handler(function_url_event("GET", "/v1/jobs"), LambdaContext())
    assert refused["statusCode"] == 401


def test_the_bootstrap_key_is_stored_once_per_container(
    lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored: list[str] = []
    monkeypatch.setattr(handler, "store_bootstrap_key", lambda app: stored.append("once"))
    for _ in range(3):
        answer = handler.api_handler(function_url_event("GET", "/v1/health"), LambdaContext())
        assert answer["statusCode"] == 200
    assert stored == ["once"]  # not per invocation, as Mangum's lifespan would


def test_the_tracker_handler_reports_the_records_it_could_not_track(
    lambda_env: dict[str, str],
) -> None:
    good = load_event("sqs-eventbridge", key="transcripts/a/talk.wav.json")["Records"][0]
    bad = {**good, "messageId": "broken", "body": "{not json"}
    answer = handler.tracker_handler({"Records": [good, bad]}, LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    direct = handler.tracker_handler(load_event("eventbridge-object-created"), LambdaContext())
    assert direct == {"outcomes": ["ignored"]}


def test_the_webhook_handler_keeps_what_it_could_not_deliver(lambda_env: dict[str, str]) -> None:
    record = {"messageId": "m1", "receiptHandle": "r1", "body": "{}", "attributes": {}}
    answer = handler.webhook_handler({"Records": [record]}, LambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_python_m_jobs_api_serves_on_uvicorn(lambda_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**lambda_env, "JOBS_API_HOST": "127.0.0.1", "JOBS_API_PORT": str(port)}
    log_path = tmp_path / "jobs-api.log"
    with running(
        [sys.executable, "-m", "jobs_api"], ready_url=f"{url}/v1/health", env=env,
        log_path=log_path,
    ):  # fmt: skip
        response = httpx.post(
            f"{url}/v1/auth/keys",
            json={"owner": "o", "scopes": ["jobs:write"]},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert response.status_code == 201
        issued = response.json()
    log = log_path.read_text()
    assert '"service": "jobs-api"' in log
    assert ADMIN_KEY not in log and issued["key"] not in log  # no key is ever logged


def test_python_m_jobs_api_tables_prints_the_shapes(lambda_env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "jobs_api", "tables"], capture_output=True, text=True, check=True,
        cwd=ROOT, env=lambda_env | {"PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    tables = json.loads(out)
    assert {t["BillingMode"] for t in tables} == {"PAY_PER_REQUEST"}
    assert tables[0]["GlobalSecondaryIndexes"][0]["IndexName"] == "by_owner"


def test_a_missing_setting_stops_the_start_naming_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jobs_api"], capture_output=True, text=True, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AUDIO_BUCKET": "audio"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "QUEUE_URL is required" in result.stderr
