"""What the app's requests share: settings, clients and stores, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs_api.audit import AuditLog
from jobs_api.completion import Notifier
from jobs_api.dynamo import Dynamo
from jobs_api.keys import KeyStore
from jobs_api.publisher import TaskPublisher
from jobs_api.ratelimit import RateLimiter
from jobs_api.settings import JobsSettings
from jobs_api.store import JobStore
from jobs_api.submission import Submission
from jobs_api.tables import TableNames
from jobs_api.webhooks.urls import Resolver, system_resolver
from transcription.aws import make_client

__all__ = ["AppState"]


@dataclass
class AppState:
    settings: JobsSettings
    s3: Any
    keys: KeyStore
    jobs: JobStore
    audit: AuditLog
    limiter: RateLimiter
    notifier: Notifier
    submission: Submission

    @classmethod
    def build(
        cls,
        settings: JobsSettings,
        *,
        dynamodb: Any = None,
        s3: Any = None,
        sqs: Any = None,
        events: Any = None,
        resolve: Resolver = system_resolver,
    ) -> AppState:
        """Clients default to the factory's (AWS_ENDPOINT_URL honoured)."""
        dynamo = Dynamo(dynamodb or make_client("dynamodb", settings.aws))
        s3 = s3 or make_client("s3", settings.aws)
        sqs = sqs or make_client("sqs", settings.aws)
        names = TableNames.from_prefix(settings.jobs_table_prefix)
        jobs = JobStore(dynamo, names.jobs)
        audit = AuditLog(dynamo, names.audit, settings.jobs_audit_retention_days)
        return cls(
            settings=settings,
            s3=s3,
            keys=KeyStore(dynamo, names.keys),
            jobs=jobs,
            audit=audit,
            limiter=RateLimiter(dynamo, names.rates, settings.jobs_rate_limit_per_minute),
            notifier=Notifier(settings, events or make_client("events", settings.aws), sqs),
            submission=Submission(
                settings,
                jobs,
                s3,
                TaskPublisher(sqs, settings.queue_urls),
                audit,
                resolve=resolve,
            ),
        )
