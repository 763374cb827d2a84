"""The webhook sender: one delivery message → one signed POST, retried through the queue.

Each delivery (queued by :class:`jobs_api.completion.Notifier`) is POSTed as the Standard
Webhooks convention says: headers ``webhook-id`` (the same for every attempt of one
delivery, so receivers can drop repeats), ``webhook-timestamp`` (seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``), signed by
the ``standardwebhooks`` library with the secret of the key that made the job.

Retries go through the queue, not a loop: a failed attempt (connection error, timeout, any
non-2xx answer, redirects included: they are never followed) leaves the message, hidden for
``WEBHOOK_BACKOFF_SECONDS * 2^(attempt-1)`` (at most 12 hours); after
``WEBHOOK_MAX_ATTEMPTS`` receives the queue's redrive policy moves it to the DLQ. Every
attempt is recorded on the job. The URL is checked again before each attempt (the DNS
answer may have changed) and the POST goes to the very addresses checked; a refused URL is
recorded and not retried.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from standardwebhooks import Webhook

from jobs_api.dynamo import Dynamo
from jobs_api.exceptions import JobsError, KeyNotFound, WebhookUrlRefused
from jobs_api.keys import KeyStore
from jobs_api.settings import JobsSettings
from jobs_api.store import JobStore
from jobs_api.tables import TableNames
from jobs_api.webhooks.urls import Resolver, WebhookTarget, system_resolver, validate_webhook_url
from transcription.aws import make_client

__all__ = [
    "MAX_VISIBILITY_SECONDS",
    "Attempt",
    "Delivery",
    "MalformedDelivery",
    "WebhookSender",
    "build_sender",
]

log = logging.getLogger(__name__)

MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit
USER_AGENT = "transcription-router-webhooks/1"
MAX_ERROR_CHARS = 300


class MalformedDelivery(JobsError):
    """A delivery message that is not one the notifier writes."""

    code = "malformed_delivery"


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    job_id: str
    key_id: str
    url: str
    payload: str  # the JSON body, exactly as signed

    @classmethod
    def from_json(cls, body: str) -> Delivery:
        try:
            data = json.loads(body)
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError) as error:
            raise MalformedDelivery(f"not a webhook delivery: {error!r}") from None


@dataclass(frozen=True)
class Attempt:
    number: int
    at: str
    outcome: str  # delivered | failed | refused
    status: int | None = None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS: the certificate is checked against the host name (SNI too)."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


class WebhookSender:
    def __init__(
        self,
        settings: JobsSettings,
        keys: KeyStore,
        jobs: JobStore,
        sqs: Any,
        *,
        resolve: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.jobs = jobs
        self.sqs = sqs
        self.resolve = resolve
        self.tls = tls or ssl.create_default_context()

    # --- one attempt -----------------------------------------------------------------------
    def attempt(self, delivery: Delivery, number: int) -> Attempt:
        """POST ``delivery`` once and record the attempt on its job."""
        at = datetime.now(UTC)
        try:
            target = validate_webhook_url(
                delivery.url,
                allow_loopback=self.settings.webhook_allow_loopback,
                resolve=self.resolve,
            )
            secret = self.keys.get(delivery.key_id).webhook_secret
        except (WebhookUrlRefused, KeyNotFound) as error:
            result = Attempt(number, _iso(at), "refused", error=str(error)[:MAX_ERROR_CHARS])
        else:
            headers = self.headers(delivery, secret, at)
            try:
                status = self._post(target, headers, delivery.payload.encode())
            except (OSError, http.client.HTTPException) as error:
                detail = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
                result = Attempt(number, _iso(at), "failed", error=detail)
            else:
                outcome = "delivered" if 200 <= status < 300 else "failed"
                result = Attempt(number, _iso(at), outcome, status=status)
        self.jobs.record_webhook_attempt(delivery.job_id, result.record())
        log.info(
            "webhook %s attempt %d: %s",
            delivery.webhook_id,
            number,
            result.outcome,
            extra={"fields": {"job_id": delivery.job_id, "status": result.status}},
        )
        return result

    @staticmethod
    def headers(delivery: Delivery, secret: str, at: datetime) -> dict[str, str]:
        signature = Webhook(secret).sign(delivery.webhook_id, at, delivery.payload)
        return {
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }

    def _post(self, target: WebhookTarget, headers: dict[str, str], body: bytes) -> int:
        """The status of the POST, from the first of the checked addresses that connects."""
        timeout = self.settings.webhook_timeout_seconds
        last: OSError | None = None
        for address in target.addresses:
            connection: http.client.HTTPConnection
            if target.scheme == "https":
                connection = _PinnedHTTPSConnection(
                    target.host, target.port, address, timeout, self.tls
                )
            else:
                connection = _PinnedHTTPConnection(target.host, target.port, address, timeout)
            try:
                try:
                    connection.connect()
                except OSError as error:  # nothing was sent: the next address may answer
                    last = error
                    continue
                connection.request("POST", target.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read(65536)
                return response.status
            finally:
                connection.close()
        raise last or OSError("no address to connect to")

    # --- the queue -------------------------------------------------------------------------
    def handle(self, body: str, receipt_handle: str, receive_count: int) -> bool:
        """One received delivery; True when it is done (delivered or refused: delete it)."""
        try:
            delivery = Delivery.from_json(body)
        except MalformedDelivery as error:
            log.error("%s; left for the DLQ", error)
            return False
        result = self.attempt(delivery, receive_count)
        if result.outcome != "failed":
            return True
        if receive_count < self.settings.webhook_max_attempts:
            delay = self.settings.webhook_backoff_seconds * 2 ** (receive_count - 1)
            self._hide(receipt_handle, min(delay, MAX_VISIBILITY_SECONDS))
        else:  # the last attempt: visible at once, so the next receive moves it to the DLQ
            log.warning(
                "webhook %s: %d attempts failed; to the DLQ", delivery.webhook_id, receive_count
            )
            self._hide(receipt_handle, 0)
        return False

    def _hide(self, receipt_handle: str, seconds: int) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.settings.webhook_queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=seconds,
            )
        except (ClientError, BotoCoreError) as error:  # it reappears after the queue's default
            log.warning("could not delay the next webhook attempt: %s", error)

    def drain(self, *, wait_seconds: int = 0, max_messages: int = 10) -> int:
        """Receive once and handle what came (the local loop; on AWS, Lambda receives)."""
        response = self.sqs.receive_message(
            QueueUrl=self.settings.webhook_queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        for message in messages:
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if self.handle(message["Body"], message["ReceiptHandle"], count):
                self.sqs.delete_message(
                    QueueUrl=self.settings.webhook_queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                )
        return len(messages)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_sender(
    settings: JobsSettings,
    *,
    dynamodb: Any = None,
    sqs: Any = None,
    resolve: Resolver = system_resolver,
    **_: Any,
) -> WebhookSender:
    """The sender ``settings`` describe; clients default to the factory's."""
    dynamo = Dynamo(dynamodb or make_client("dynamodb", settings.aws))
    names = TableNames.from_prefix(settings.jobs_table_prefix)
    return WebhookSender(
        settings,
        KeyStore(dynamo, names.keys),
        JobStore(dynamo, names.jobs),
        sqs or make_client("sqs", settings.aws),
        resolve=resolve,
    )
