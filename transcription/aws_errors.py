"""The one place that reads botocore's errors: codes, statuses, and what they mean here.

Every component asks these questions instead of parsing ``error.response`` itself::

    error_code(error)      # "NoSuchKey", "PreconditionFailed", "ThrottlingException", ...
    is_not_found(error)    # S3's 404 (HEAD answers a bare "404", GET "NoSuchKey")
    is_lost_race(error)    # a conditional write or read lost: 412, or 409 for a concurrent one
    is_retryable(error)    # 5xx, throttling, timeouts: worth trying again later
    is_access_denied(error)
    translate(error, what) # → ConditionFailed, StorageUnavailable, StorageAccessDenied, or
                           #   the error itself when it means nothing more specific

``translate`` also takes botocore's connection errors (refused, reset, timed out), which
become :class:`StorageUnavailable`.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from transcription.exceptions import ConditionFailed, StorageAccessDenied, StorageUnavailable

__all__ = [
    "CALL_ERRORS",
    "CONNECTION_ERRORS",
    "error_code",
    "http_status",
    "is_access_denied",
    "is_lost_race",
    "is_not_found",
    "is_retryable",
    "translate",
]

# botocore's "could not talk to the endpoint" errors (refused, reset, connect/read timeout).
CONNECTION_ERRORS = (BotoConnectionError, HTTPClientError)
# What a call may raise that :func:`translate` understands: ``except CALL_ERRORS as error``.
CALL_ERRORS = (ClientError, BotoConnectionError, HTTPClientError)

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_LOST_RACE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_ACCESS_DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled", "AccessDeniedException"})
_RETRYABLE = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
    }
)


def error_code(error: ClientError) -> str:
    """The service's error code (``""`` when the answer had none)."""
    return str(error.response.get("Error", {}).get("Code") or "")


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_not_found(error: ClientError) -> bool:
    return error_code(error) in _NOT_FOUND


def is_lost_race(error: ClientError) -> bool:
    return error_code(error) in _LOST_RACE


def is_access_denied(error: ClientError) -> bool:
    return error_code(error) in _ACCESS_DENIED


def is_retryable(error: ClientError) -> bool:
    return http_status(error) >= 500 or error_code(error) in _RETRYABLE


def translate(error: Exception, what: str) -> Exception:
    """The named error ``error`` means for ``what`` (``"s3://b/k"``), or ``error`` itself.

    Raise the result ``from error``. Not-found is left to the caller: for a transcript it is
    an answer (``None``), for the audio an error (:class:`SourceMissing`).
    """
    if isinstance(error, CONNECTION_ERRORS):
        return StorageUnavailable(f"{what}: S3 cannot be reached: {error}")
    if not isinstance(error, ClientError):
        return error
    code = error_code(error) or str(http_status(error))
    if is_lost_race(error):
        return ConditionFailed(f"{what}: the condition failed ({code})")
    if is_retryable(error):
        return StorageUnavailable(f"{what}: S3 {code}: {error}")
    if is_access_denied(error):
        return StorageAccessDenied(f"{what}: S3 refused access ({code})")
    return error
