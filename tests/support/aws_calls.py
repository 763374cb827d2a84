"""Count the AWS API calls made through given boto3 clients (botocore's ``before-call`` event)."""

from __future__ import annotations

import threading
from typing import Any


class AwsCalls:
    def __init__(self) -> None:
        self._names: list[str] = []
        self._lock = threading.Lock()

    def watch(self, client: Any) -> Any:
        """Count ``client``'s calls from now on; returns the client."""
        client.meta.events.register("before-call", self._record)
        return client

    def _record(self, model: Any, **_: Any) -> None:
        with self._lock:
            self._names.append(model.name)

    @property
    def names(self) -> list[str]:
        with self._lock:
            return list(self._names)

    def clear(self) -> None:
        with self._lock:
            self._names.clear()
