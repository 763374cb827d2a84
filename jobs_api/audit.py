"""The audit log: who did what and when (key issued or revoked, job created or canceled).

Entries are partitioned by UTC day (``day``) and sorted by time (``sk=<ISO time>#<id>``), so
"what happened between t1 and t2" is one Query per day. DynamoDB's TTL deletes an entry
``JOBS_AUDIT_RETENTION_DAYS`` after it was written (TTL runs within about two days of that).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs_api.dynamo import Dynamo

__all__ = ["AuditLog"]

ACTIONS = frozenset({"key.issued", "key.revoked", "job.created", "job.canceled"})


class AuditLog:
    def __init__(self, dynamo: Dynamo, table: str, retention_days: int = 90) -> None:
        self.dynamo = dynamo
        self.table = table
        self.retention = timedelta(days=retention_days)

    def record(self, action: str, *, actor: str, target: str, **details: Any) -> None:
        """``actor`` is the key id that acted; ``target`` the key or job acted upon."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        now = datetime.now(UTC)
        at = now.isoformat(timespec="milliseconds")
        self.dynamo.put(
            self.table,
            {
                "day": at[:10],
                "sk": f"{at}#{uuid.uuid4().hex[:8]}",
                "at": at,
                "action": action,
                "actor": actor,
                "target": target,
                "expires_at": int((now + self.retention).timestamp()),
                **details,
            },
        )

    def between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every entry from ``start`` to ``end`` (UTC), oldest first."""
        entries: list[dict[str, Any]] = []
        day = start.astimezone(UTC).date()
        low = start.astimezone(UTC).isoformat(timespec="milliseconds")
        high = end.astimezone(UTC).isoformat(timespec="milliseconds") + "~"
        while day <= end.astimezone(UTC).date():
            cursor: dict[str, Any] | None = None
            while True:
                page, cursor = self.dynamo.query(
                    self.table,
                    "#d = :d AND sk BETWEEN :lo AND :hi",
                    names={"#d": "day"},
                    values={":d": day.isoformat(), ":lo": low, ":hi": high},
                    start=cursor,
                )
                entries.extend(page)
                if cursor is None:
                    break
            day += timedelta(days=1)
        return entries
