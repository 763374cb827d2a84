"""A small client of the jobs API for `make demo` and the end-to-end tests.

Plain HTTP (httpx) against the running ``python -m jobs_api``: issue a key with the admin
key, submit a job, read it and its results, cancel it, and poll until it ends.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

__all__ = ["TERMINAL_STATUSES", "JobsClient", "JobsClientError", "base64_item"]

TERMINAL_STATUSES = frozenset({"succeeded", "partially_failed", "failed", "canceled"})


class JobsClientError(RuntimeError):
    """The jobs API answered something other than what the call expects."""


def base64_item(item_id: str, path: Path) -> dict[str, Any]:
    """A job item carrying ``path``'s audio inline (its extension names the type)."""
    return {
        "id": item_id,
        "audio_base64": base64.b64encode(path.read_bytes()).decode(),
        "ext": path.suffix.lstrip(".").lower(),
    }


class JobsClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def _call(self, method: str, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **kwargs)
        if response.status_code != expect:
            raise JobsClientError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        body: dict[str, Any] = response.json()
        return body

    def issue_key(self, owner: str) -> dict[str, Any]:
        """A new key (``key``, ``webhook_secret``...) for ``owner``; needs the admin key."""
        body = {"owner": owner, "scopes": ["jobs:write", "jobs:read"]}
        return self._call("POST", "/v1/auth/keys", 201, json=body)

    def as_key(self, token: str) -> JobsClient:
        return JobsClient(str(self.http.base_url), token, timeout=self.http.timeout.read or 30.0)

    def submit(self, items: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return self._call(
            "POST", "/v1/jobs", 202, json={"job_type": "asr", "items": items, **fields}
        )

    def job(self, job_id: str, **params: Any) -> dict[str, Any]:
        return self._call("GET", f"/v1/jobs/{job_id}", 200, params=params)

    def results(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/jobs/{job_id}/results", 200)

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/v1/jobs/{job_id}", 200)

    def wait(
        self,
        job_id: str,
        timeout: float,
        *,
        until: Callable[[dict[str, Any]], bool] = lambda job: job["status"] in TERMINAL_STATUSES,
        each: Callable[[dict[str, Any]], None] = lambda job: None,
        interval: float = 0.5,
    ) -> dict[str, Any]:
        """Poll the job until ``until`` holds (default: it ended); ``each`` sees every poll."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            each(job)
            if until(job):
                return job
            if time.monotonic() > deadline:
                raise JobsClientError(
                    f"job {job_id} still {job['status']} {job['progress']} after {timeout:.0f} s"
                )
            time.sleep(interval)
