"""schemathesis on the jobs API's OpenAPI schema: no 5xx, answers as documented.

The real app on uvicorn against moto's server, called with the bootstrap admin key (every
scope). Left out, as for the server: ``positive_data_acceptance`` (schema-valid jobs name
S3 objects and audio that do not exist, rightly refused with 422).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from jobs_api.main import create_app
from jobs_api.settings import JobsSettings
from jobs_api.tables import TableNames, create_tables
from tests.conftest import REGION, unique
from tests.jobs_api.conftest import ADMIN_KEY
from tests.support.jobs_api import serve
from transcription.aws import make_client
from transcription.settings import AwsSettings, load

FUZZ_EXAMPLES = 25


def _openapi() -> dict[str, Any]:
    settings = load(
        JobsSettings, {"AUDIO_BUCKET": "schema", "QUEUE_URL": "q", "AWS_REGION": REGION}
    )
    return create_app(
        settings, dynamodb=object(), s3=object(), sqs=object(), events=object()
    ).openapi()


OPENAPI = _openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
schema.config.generation.update(max_examples=FUZZ_EXAMPLES)


@pytest.fixture(scope="module")
def fuzz_url(moto_url: str) -> Iterator[str]:
    aws = AwsSettings(aws_region=REGION, aws_endpoint_url=moto_url)
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    clients = {s: make_client(s, aws, session=session) for s in ("dynamodb", "s3", "sqs", "events")}
    bucket, prefix = unique("fuzz"), unique("fuzz")
    clients["s3"].create_bucket(Bucket=bucket)
    queue = clients["sqs"].create_queue(QueueName=unique("fuzz"))["QueueUrl"]
    hooks = clients["sqs"].create_queue(QueueName=unique("fuzz-hooks"))["QueueUrl"]
    create_tables(clients["dynamodb"], TableNames.from_prefix(prefix))
    settings = load(
        JobsSettings,
        {
            "AWS_REGION": REGION, "AWS_ENDPOINT_URL": moto_url, "AUDIO_BUCKET": bucket,
            "QUEUE_URL": queue, "JOBS_TABLE_PREFIX": prefix, "JOBS_ADMIN_KEY": ADMIN_KEY,
            "WEBHOOK_QUEUE_URL": hooks, "JOBS_RATE_LIMIT_PER_MINUTE": "0",
        },
    )  # fmt: skip

    def resolve(host: str, port: int) -> list[str]:
        raise OSError("no DNS in the fuzz test")

    with serve(create_app(settings, **clients, resolve=resolve)) as url:
        yield url


def test_the_served_schema_is_the_one_fuzzed(fuzz_url: str) -> None:
    assert httpx.get(f"{fuzz_url}/openapi.json").json() == json.loads(json.dumps(OPENAPI))


@schema.parametrize()
@hypothesis.settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_the_api_keeps_to_its_openapi_schema(case: schemathesis.Case, fuzz_url: str) -> None:
    case.call_and_validate(
        base_url=fuzz_url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        excluded_checks=[positive_data_acceptance],
        timeout=60,
    )
