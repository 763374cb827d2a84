"""The EC2 instance metadata service (IMDSv2), as the worker reads it about its own box.

IMDSv2 answers only requests that carry a session token: ``PUT /latest/api/token`` with
``X-aws-ec2-metadata-token-ttl-seconds`` returns one, and every ``GET`` sends it back in
``X-aws-ec2-metadata-token``. :class:`InstanceMetadata` keeps the token and fetches a new
one before it expires, or at once when the service answers 401 (the token was refused).

Three things are read:

- the instance id (``/latest/meta-data/instance-id``), to name this box to Auto Scaling;
- the Spot interruption notice (``/latest/meta-data/spot/instance-action``): 404 while there
  is none, else ``{"action": "terminate" | "stop" | "hibernate", "time": "<ISO 8601 UTC>"}``;
- the Auto Scaling target lifecycle state
  (``/latest/meta-data/autoscaling/target-lifecycle-state``): ``InService``, ``Terminated``
  (scale-in, rebalancing, or this worker's own termination) …; 404 off a group.

Every request has a short timeout: the watcher polls every couple of seconds and must
notice a two-minute Spot notice in time, not hang on one request. The base URL is
``IMDS_ENDPOINT`` (AWS's fixed link-local address by default; tests use a stand-in).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from batch_worker.exceptions import MetadataUnavailable

__all__ = ["InstanceMetadata", "SpotNotice"]

log = logging.getLogger(__name__)

TOKEN_PATH = "/latest/api/token"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
INSTANCE_ID_PATH = "/latest/meta-data/instance-id"
SPOT_ACTION_PATH = "/latest/meta-data/spot/instance-action"
LIFECYCLE_STATE_PATH = "/latest/meta-data/autoscaling/target-lifecycle-state"
DEFAULT_TOKEN_TTL_SECONDS = 21600  # IMDS's maximum: six hours
TOKEN_REFRESH_MARGIN_SECONDS = 60.0  # a new token this long before the old one expires
DEFAULT_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class SpotNotice:
    """A Spot interruption notice: what EC2 will do to the box, and when."""

    action: str
    time: datetime  # aware, UTC

    def seconds_left(self, now: datetime | None = None) -> float:
        return (self.time - (now or datetime.now(UTC))).total_seconds()

    @classmethod
    def parse(cls, body: str) -> SpotNotice:
        try:
            data = json.loads(body)
            when = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
            action = str(data["action"])
        except (ValueError, KeyError, TypeError) as error:
            raise MetadataUnavailable(f"unreadable instance-action {body!r}: {error}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return cls(action, when)


class InstanceMetadata:
    """An IMDSv2 client: one token at a time, refreshed before it expires."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        token_ttl: int = DEFAULT_TOKEN_TTL_SECONDS,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.token_ttl = token_ttl
        self._token: str | None = None
        self._token_expires = 0.0  # monotonic
        self._lock = threading.Lock()

    # --- what the worker asks ------------------------------------------------------------
    def instance_id(self) -> str:
        value = self._get(INSTANCE_ID_PATH)
        if not value:
            raise MetadataUnavailable("the instance metadata has no instance-id")
        return value

    def spot_notice(self) -> SpotNotice | None:
        """The Spot interruption notice, or ``None`` while there is none (404)."""
        body = self._get(SPOT_ACTION_PATH)
        return None if body is None else SpotNotice.parse(body)

    def target_lifecycle_state(self) -> str | None:
        """``InService``, ``Terminated``, … ; ``None`` when the box is in no group (404)."""
        body = self._get(LIFECYCLE_STATE_PATH)
        return None if body is None else body.strip()

    # --- IMDSv2 --------------------------------------------------------------------------
    def _get(self, path: str) -> str | None:
        """The body at ``path``; ``None`` on 404. One new token and retry on a 401."""
        for attempt in (1, 2):
            request = urllib.request.Request(
                self.endpoint + path, headers={TOKEN_HEADER: self._current_token()}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return str(response.read().decode())
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                if error.code == 401 and attempt == 1:
                    self._forget_token()
                    continue
                raise MetadataUnavailable(f"GET {path}: HTTP {error.code}") from None
            except (OSError, ValueError) as error:  # refused, timed out, unreachable
                raise MetadataUnavailable(f"GET {path}: {error}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _current_token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._token_expires:
                self._token = self._new_token()
                margin = min(TOKEN_REFRESH_MARGIN_SECONDS, self.token_ttl / 2)
                self._token_expires = time.monotonic() + self.token_ttl - margin
            return self._token

    def _forget_token(self) -> None:
        with self._lock:
            self._token = None

    def _new_token(self) -> str:
        request = urllib.request.Request(
            self.endpoint + TOKEN_PATH,
            method="PUT",
            headers={TOKEN_TTL_HEADER: str(self.token_ttl)},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                token = response.read().decode().strip()
        except urllib.error.HTTPError as error:
            raise MetadataUnavailable(f"PUT {TOKEN_PATH}: HTTP {error.code}") from None
        except (OSError, ValueError) as error:
            raise MetadataUnavailable(f"PUT {TOKEN_PATH}: {error}") from None
        if not token:
            raise MetadataUnavailable(f"PUT {TOKEN_PATH} returned no token")
        log.debug("new IMDSv2 token for %d s", self.token_ttl)
        return token
