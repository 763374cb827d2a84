"""Named errors of the jobs API.

Store errors are raised by the DynamoDB adapter (``jobs_api.dynamo``), which translates
``ClientError`` codes once; the stores turn a failed condition into what it means
(:class:`TaskFinished`, :class:`JobCompleted`...). API errors carry their HTTP status, a
stable ``code`` and, for bad input, the ``field`` at fault; ``jobs_api.api.errors`` renders
every one as ``{"error": {"code", "message", "field"?}}``.
"""

from __future__ import annotations

from transcription.exceptions import TranscriptionError

__all__ = [
    "ApiError",
    "ConditionFailed",
    "Conflict",
    "DeliveryFailed",
    "Forbidden",
    "IdempotencyKeyReused",
    "InvalidRequest",
    "ItemExists",
    "JobCompleted",
    "JobNotFound",
    "JobsError",
    "KeyNotFound",
    "NotAvailable",
    "PayloadTooLarge",
    "RateLimited",
    "StoreUnavailable",
    "TableMissing",
    "TaskFinished",
    "TaskNotFound",
    "TasksNotEnqueued",
    "TransactionCanceled",
    "Unauthorized",
    "WebhookUrlRefused",
]


class JobsError(TranscriptionError):
    """Base class of the jobs API's errors."""

    code = "jobs_error"
    status = 500


# --- the store (DynamoDB) --------------------------------------------------------------
class StoreUnavailable(JobsError):
    """DynamoDB throttled, timed out or failed: worth retrying later."""

    code = "store_unavailable"
    status = 503
    permanent = False


class TableMissing(JobsError):
    """A table the settings name does not exist (not created, or a wrong JOBS_TABLE_PREFIX)."""

    code = "table_missing"


class ConditionFailed(JobsError):
    """A conditional write's condition did not hold (``ConditionalCheckFailedException``)."""

    code = "condition_failed"
    status = 409


class ItemExists(ConditionFailed):
    """A create-only write found the item already there."""

    code = "item_exists"


class TransactionCanceled(ConditionFailed):
    """A transaction was canceled; ``reasons`` holds one code per item (``"None"`` = fine)."""

    code = "transaction_canceled"

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons

    @property
    def lost_condition(self) -> bool:
        """True when a condition failed (another writer won), not a conflict or throttle."""
        return "ConditionalCheckFailed" in self.reasons


class TaskFinished(ConditionFailed):
    """The task is already succeeded, failed or canceled: a duplicate completion."""

    code = "task_finished"


class JobCompleted(ConditionFailed):
    """The job already has its final status."""

    code = "job_completed"


# --- answers of the API ------------------------------------------------------------------
class ApiError(JobsError):
    """An error answered to the caller as it is."""

    def __init__(
        self, message: str, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}


class Unauthorized(ApiError):
    code = "unauthorized"
    status = 401

    def __init__(self, message: str = "a valid API key is required: Authorization: Bearer <key>"):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    code = "forbidden"
    status = 403


class JobNotFound(ApiError):
    code = "job_not_found"
    status = 404


class KeyNotFound(ApiError):
    code = "key_not_found"
    status = 404


class TaskNotFound(ApiError):
    code = "task_not_found"
    status = 404


class Conflict(ApiError):
    code = "conflict"
    status = 409


class PayloadTooLarge(ApiError):
    code = "payload_too_large"
    status = 413


class InvalidRequest(ApiError):
    code = "invalid_request"
    status = 422


class NotAvailable(InvalidRequest):
    """Valid by the API's shape, but not served yet (nmt before the multilingual issue)."""

    code = "not_available"


class IdempotencyKeyReused(InvalidRequest):
    """The same Idempotency-Key came with a different body."""

    code = "idempotency_key_reused"


class WebhookUrlRefused(InvalidRequest):
    """Not https, or it resolves to a private, link-local, metadata or loopback address."""

    code = "webhook_url_refused"


class RateLimited(ApiError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"rate limit reached; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


# --- webhooks ------------------------------------------------------------------------------
class DeliveryFailed(JobsError):
    """One webhook attempt failed (connection error, timeout or a non-2xx answer)."""

    code = "delivery_failed"
    permanent = False


class TasksNotEnqueued(JobsError):
    """SQS refused or could not be reached for some of a job's messages."""

    code = "tasks_not_enqueued"
    status = 503
    permanent = False
