"""Count the AWS API calls made through given boto3 clients (botocore's event hooks).

Each call is recorded once (botocore's own retries of it are not separate calls) with its
operation name and, for S3, the key it named: ``calls.names`` is the sequence of operation
names, ``calls.on(key)`` the operations on one key, ``calls.counts()`` a ``Counter``.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    name: str  # the operation: HeadObject, PutObject, SendMessage…
    key: str | None  # the S3 key (or listing prefix) it named, if any


class AwsCalls:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def watch(self, client: Any) -> Any:
        """Count ``client``'s calls from now on; returns the client."""
        client.meta.events.register("provide-client-params", self._record)
        return client

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        key = params.get("Key", params.get("Prefix"))
        with self._lock:
            self._calls.append(Call(model.name, key if isinstance(key, str) else None))

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def names(self) -> list[str]:
        return [call.name for call in self.calls]

    def counts(self) -> Counter[str]:
        return Counter(self.names)

    def on(self, key: str) -> list[str]:
        """The operations that named ``key``, in order."""
        return [call.name for call in self.calls if call.key == key]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
