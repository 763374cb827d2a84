"""The one DynamoDB adapter: plain dicts in and out, ``ClientError`` codes translated here.

Items and expression values are plain Python (``str``, ``int``, ``bool``, lists, dicts);
numbers come back as ``int`` when whole. A failed condition becomes :class:`ConditionFailed`
(:class:`ItemExists` for a create), a canceled transaction :class:`TransactionCanceled` with
its per-item reasons, throttling and unreachable endpoints :class:`StoreUnavailable`, a
missing table :class:`TableMissing`. The stores never look at a ``ClientError``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from jobs_api.exceptions import (
    ConditionFailed,
    ItemExists,
    StoreUnavailable,
    TableMissing,
    TransactionCanceled,
)

__all__ = ["BATCH_WRITE_SIZE", "Dynamo", "from_item", "to_item"]

log = logging.getLogger(__name__)

BATCH_WRITE_SIZE = 25  # DynamoDB's limit per BatchWriteItem
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)


class _Unprocessed(Exception):
    """BatchWriteItem left items unprocessed (throttling): write them again."""


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_numbers(v)) for k, v in data.items() if v is not None}


def _numbers(value: Any) -> Any:
    """DynamoDB numbers are decimals: floats go in as their shortest text."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def _values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"ExpressionAttributeValues": to_item(values)} if values else {}


def _names(names: Mapping[str, str] | None) -> dict[str, Any]:
    return {"ExpressionAttributeNames": dict(names)} if names else {}


def _translate(error: ClientError, what: str) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    message = f"{what}: {code}"
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(message)
    if code == "TransactionCanceledException":
        reasons = [
            str(r.get("Code") or "None") for r in error.response.get("CancellationReasons", [])
        ]
        return TransactionCanceled(f"{message} {reasons}", reasons)
    if code == "ResourceNotFoundException":
        return TableMissing(f"{what}: the table does not exist (JOBS_TABLE_PREFIX?)")
    if code in _RETRYABLE:
        return StoreUnavailable(message)
    return error  # a bug (ValidationException...): let it surface as it is


class Dynamo:
    """A DynamoDB client (injected) with plain-dict items and named errors."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _call(self, operation: str, what: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as error:
            raise _translate(error, what) from error
        except BotoCoreError as error:
            raise StoreUnavailable(f"{what}: DynamoDB unreachable: {error}") from error

    def get(
        self, table: str, key: Mapping[str, Any], *, consistent: bool = True
    ) -> dict[str, Any] | None:
        response = self._call(
            "get_item", f"get {table}", TableName=table, Key=to_item(key), ConsistentRead=consistent
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def put(
        self,
        table: str,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        extra = {"ConditionExpression": condition} if condition else {}
        self._call(
            "put_item",
            f"put {table}",
            TableName=table,
            Item=to_item(item),
            **extra,
            **_names(names),
            **_values(values),
        )

    def create(self, table: str, item: Mapping[str, Any], key_attribute: str) -> None:
        """Put ``item`` only if no item has its key; :class:`ItemExists` otherwise."""
        try:
            self.put(
                table,
                item,
                condition="attribute_not_exists(#k)",
                names={"#k": key_attribute},
            )
        except ConditionFailed as error:
            raise ItemExists(str(error)) from error

    def update(
        self,
        table: str,
        key: Mapping[str, Any],
        update: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        returns: str = "NONE",
    ) -> dict[str, Any]:
        """UpdateItem; returns the attributes ``returns`` asks for (``ALL_NEW``, ``ALL_OLD``)."""
        extra = {"ConditionExpression": condition} if condition else {}
        response = self._call(
            "update_item",
            f"update {table}",
            TableName=table,
            Key=to_item(key),
            UpdateExpression=update,
            ReturnValues=returns,
            **extra,
            **_names(names),
            **_values(values),
        )
        return from_item(response.get("Attributes") or {})

    def delete(self, table: str, key: Mapping[str, Any]) -> None:
        self._call("delete_item", f"delete {table}", TableName=table, Key=to_item(key))

    def transact(self, writes: Sequence[Mapping[str, Any]]) -> None:
        """TransactWriteItems of ``{"Update": {...}}``-style writes built with :func:`update_op`."""
        self._call("transact_write_items", "transaction", TransactItems=list(writes))

    def update_op(
        self,
        table: str,
        key: Mapping[str, Any],
        update: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One ``Update`` of a transaction."""
        op: dict[str, Any] = {
            "TableName": table,
            "Key": to_item(key),
            "UpdateExpression": update,
            **_names(names),
            **_values(values),
        }
        if condition:
            op["ConditionExpression"] = condition
        return {"Update": op}

    def put_op(
        self,
        table: str,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One ``Put`` of a transaction."""
        op: dict[str, Any] = {"TableName": table, "Item": to_item(item), **_names(names)}
        if condition:
            op["ConditionExpression"] = condition
        return {"Put": op}

    @retry(
        retry=retry_if_exception_type((_Unprocessed, StoreUnavailable)),
        stop=stop_after_attempt(6),
        wait=wait_random_exponential(multiplier=0.05, max=2),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    def _batch_write_once(self, requests: dict[str, list[Any]]) -> None:
        response = self._call("batch_write_item", "batch write", RequestItems=requests)
        left = response.get("UnprocessedItems") or {}
        if left:
            requests.clear()
            requests.update(left)
            raise _Unprocessed(f"{sum(len(v) for v in left.values())} items unprocessed")

    def batch_put(self, table: str, items: Sequence[Mapping[str, Any]]) -> None:
        """Put up to 25 items in one BatchWriteItem, writing unprocessed ones again."""
        if len(items) > BATCH_WRITE_SIZE:
            raise ValueError(f"at most {BATCH_WRITE_SIZE} items per batch")
        requests = {table: [{"PutRequest": {"Item": to_item(i)}} for i in items]}
        try:
            self._batch_write_once(requests)
        except _Unprocessed as error:
            raise StoreUnavailable(f"batch write to {table}: {error}") from error

    def query(
        self,
        table: str,
        condition: str,
        *,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        index: str | None = None,
        limit: int | None = None,
        start: Mapping[str, Any] | None = None,
        forward: bool = True,
        filter_expression: str | None = None,
        consistent: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a Query: ``(items, last_key)``; ``last_key`` is None on the last page."""
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ScanIndexForward": forward,
            **_names(names),
            **_values(values),
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = consistent
        if limit:
            kwargs["Limit"] = limit
        if start:
            kwargs["ExclusiveStartKey"] = to_item(start)
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        response = self._call("query", f"query {table}", **kwargs)
        last = response.get("LastEvaluatedKey")
        return [from_item(i) for i in response.get("Items", [])], (
            from_item(last) if last else None
        )

    def scan_all(self, table: str) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"TableName": table}
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._call("scan", f"scan {table}", **kwargs)
            yield from (from_item(i) for i in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return
