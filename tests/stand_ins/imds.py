"""A stand-in for the EC2 instance metadata service (IMDSv2): the real one cannot exist here.

A real HTTP server on 127.0.0.1 in a thread that answers the paths the worker reads, with
IMDSv2's token rules:

- ``PUT /latest/api/token`` needs ``X-aws-ec2-metadata-token-ttl-seconds`` (1 … 21600;
  else 400) and returns a new token valid that long;
- every ``GET`` needs a valid, unexpired ``X-aws-ec2-metadata-token`` (else 401);
- ``/latest/meta-data/instance-id``: :attr:`ImdsStandIn.instance_id`;
- ``/latest/meta-data/spot/instance-action``: 404 until :meth:`ImdsStandIn.interrupt`,
  then ``{"action": ..., "time": ...}``;
- ``/latest/meta-data/autoscaling/target-lifecycle-state``: :attr:`lifecycle_state`, or,
  given ``follow``, what that callable reads (tests read it from moto's Auto Scaling group,
  so the box's state follows the group's real one: ``Terminated`` once it is gone).

It counts what it served (``served[path]``), so tests can wait until the worker has seen a
notice, and :meth:`expire_tokens` makes every issued token invalid (the client must fetch a
new one).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ImdsStandIn"]

MAX_TTL = 21600


class ImdsStandIn:
    def __init__(
        self,
        instance_id: str,
        lifecycle_state: str = "InService",
        follow: Callable[[], str | None] | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.lifecycle_state: str | None = lifecycle_state
        self.follow = follow
        self.spot_action: dict[str, str] | None = None
        self.served: Counter[str] = Counter()  # path → answers with 200
        self.tokens_issued = 0
        self.refused = 0  # GETs answered 401
        self._tokens: dict[str, float] = {}  # token → monotonic expiry
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ImdsStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests change ---------------------------------------------------------------
    def interrupt(self, in_seconds: float = 120.0, action: str = "terminate") -> None:
        """Post a Spot interruption notice: EC2 will act ``in_seconds`` from now."""
        when = datetime.now(UTC) + timedelta(seconds=in_seconds)
        with self._lock:
            self.spot_action = {"action": action, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # --- what the handler asks -----------------------------------------------------------
    def issue(self, ttl: int) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl
            self.tokens_issued += 1
        return token

    def valid(self, token: str | None) -> bool:
        with self._lock:
            expiry = self._tokens.get(token or "")
            ok = expiry is not None and time.monotonic() < expiry
            if not ok:
                self.refused += 1
            return ok

    def answer(self, path: str) -> str | None:
        followed = self.follow() if self.follow and path.endswith("lifecycle-state") else None
        with self._lock:
            value: str | None
            if path == "/latest/meta-data/instance-id":
                value = self.instance_id
            elif path == "/latest/meta-data/spot/instance-action":
                value = None if self.spot_action is None else json.dumps(self.spot_action)
            elif path == "/latest/meta-data/autoscaling/target-lifecycle-state":
                value = followed if self.follow else self.lifecycle_state
            else:
                value = None
            if value is not None:
                self.served[path] += 1
            return value


def _handler(imds: ImdsStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:  # quiet: tests read the counters instead
            pass

        def _send(self, status: int, body: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            if self.path != "/latest/api/token":
                self._send(404)
                return
            raw = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_TTL:
                self._send(400, "missing or invalid X-aws-ec2-metadata-token-ttl-seconds")
                return
            self._send(200, imds.issue(int(raw)))

        def do_GET(self) -> None:
            if not imds.valid(self.headers.get("X-aws-ec2-metadata-token")):
                self._send(401)
                return
            value = imds.answer(self.path)
            if value is None:
                self._send(404, "Not Found")
            else:
                self._send(200, value)

    return Handler
