"""The DynamoDB tables of the jobs API: their names, their shapes, and creating them.

Four entities in four tables, all on-demand (``PAY_PER_REQUEST``):

- ``<prefix>-jobs``: a job (``pk=job#<id>``, ``sk=job``), its tasks in the same partition
  (``sk=task#<item_id>``, so a job's items are one Query, paginated) and the
  ``Idempotency-Key`` records (``pk=idem#<owner>#<key>``). Sparse index ``by_owner``
  (``owner``, ``created``) lists a caller's jobs newest first: only job items carry ``owner``.
- ``<prefix>-api-keys``: ``key_id`` → hashed key, owner, scopes, quota, revoked.
- ``<prefix>-audit``: ``day`` (UTC date) and ``sk=<ISO time>#<id>``, queryable by time;
  expired by DynamoDB TTL on ``expires_at``.
- ``<prefix>-rates``: the per key and route request counters (TTL ``expires_at``).

:func:`table_definitions` is the single description; :func:`create_tables` (tests, the local
stack) creates them from it, and the deploy step is to create the same shapes from it too
(``python -m jobs_api tables`` prints them as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["OWNER_INDEX", "TableNames", "create_tables", "table_definitions"]

OWNER_INDEX = "by_owner"


@dataclass(frozen=True)
class TableNames:
    jobs: str
    keys: str
    audit: str
    rates: str

    @classmethod
    def from_prefix(cls, prefix: str) -> TableNames:
        return cls(
            jobs=f"{prefix}-jobs",
            keys=f"{prefix}-api-keys",
            audit=f"{prefix}-audit",
            rates=f"{prefix}-rates",
        )


def _strings(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": "S"} for n in names]


def _key(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def table_definitions(names: TableNames) -> list[dict[str, Any]]:
    """``CreateTable`` arguments of every table, plus ``"ttl"``: the TTL attribute or None."""
    on_demand = {"BillingMode": "PAY_PER_REQUEST"}
    return [
        {
            "TableName": names.jobs,
            "AttributeDefinitions": _strings("pk", "sk", "owner", "created"),
            "KeySchema": _key("pk", "sk"),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": OWNER_INDEX,
                    "KeySchema": _key("owner", "created"),
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            **on_demand,
            "ttl": None,
        },
        {
            "TableName": names.keys,
            "AttributeDefinitions": _strings("key_id"),
            "KeySchema": _key("key_id"),
            **on_demand,
            "ttl": None,
        },
        {
            "TableName": names.audit,
            "AttributeDefinitions": _strings("day", "sk"),
            "KeySchema": _key("day", "sk"),
            **on_demand,
            "ttl": "expires_at",
        },
        {
            "TableName": names.rates,
            "AttributeDefinitions": _strings("pk"),
            "KeySchema": _key("pk"),
            **on_demand,
            "ttl": "expires_at",
        },
    ]


def create_tables(dynamodb: Any, names: TableNames) -> None:
    """Create every table that does not exist yet, wait for it, and turn its TTL on."""
    for definition in table_definitions(names):
        arguments = {k: v for k, v in definition.items() if k != "ttl"}
        name = arguments["TableName"]
        try:
            dynamodb.create_table(**arguments)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        ttl = definition["ttl"]
        if ttl and not _ttl_on(dynamodb, name):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )


def _ttl_on(dynamodb: Any, name: str) -> bool:
    described = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return described.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}
