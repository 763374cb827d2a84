"""The one ClientError translator: codes, statuses, and the named errors they become."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from transcription import aws_errors
from transcription.exceptions import ConditionFailed, StorageAccessDenied, StorageUnavailable


def client_error(code: str, status: int = 400) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutObject")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (client_error("PreconditionFailed", 412), ConditionFailed),
        (client_error("ConditionalRequestConflict", 409), ConditionFailed),
        (client_error("SlowDown", 503), StorageUnavailable),
        (client_error("InternalError", 500), StorageUnavailable),
        (client_error("ThrottlingException"), StorageUnavailable),
        (client_error("AccessDenied", 403), StorageAccessDenied),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), StorageUnavailable),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), StorageUnavailable),
    ],
)
def test_translate_names_what_an_error_means(error: Exception, named: type[Exception]) -> None:
    translated = aws_errors.translate(error, "s3://b/k")
    assert isinstance(translated, named)
    assert "s3://b/k" in str(translated)


def test_errors_that_mean_nothing_more_stay_as_they_are() -> None:
    error = client_error("NoSuchBucket", 404)
    assert aws_errors.translate(error, "s3://b/k") is error
    other = ValueError("not an AWS error")
    assert aws_errors.translate(other, "s3://b/k") is other


def test_questions_about_an_error() -> None:
    assert aws_errors.error_code(client_error("NoSuchKey", 404)) == "NoSuchKey"
    assert aws_errors.error_code(ClientError({}, "HeadObject")) == ""
    assert aws_errors.http_status(client_error("x", 418)) == 418
    assert all(
        aws_errors.is_not_found(client_error(c, 404)) for c in ("404", "NoSuchKey", "NotFound")
    )
    assert not aws_errors.is_not_found(client_error("NoSuchBucket", 404))
    assert aws_errors.is_lost_race(client_error("412", 412))
    assert aws_errors.is_access_denied(client_error("403", 403))
    assert aws_errors.is_retryable(client_error("Whatever", 502))
    assert not aws_errors.is_retryable(client_error("InvalidArgument", 400))
