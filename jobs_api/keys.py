"""API keys: issued once, stored hashed, checked on every request (revocation is immediate).

A key reads ``trk_<key_id>_<secret>``: the id names its DynamoDB item, so checking a key is
one GetItem and a constant-time comparison of SHA-256 digests (the secret has 256 random
bits, so a fast hash is enough; nothing of the key itself is stored). The bootstrap admin key
(``JOBS_ADMIN_KEY`` or its SSM parameter) may be any string: it is stored the same way under
the id ``bootstrap``. Each key also gets a webhook signing secret (``whsec_…``, the Standard
Webhooks format), shown once at issuance and kept for the sender, which signs with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from jobs_api.dynamo import Dynamo
from jobs_api.exceptions import ConditionFailed, KeyNotFound, Unauthorized
from transcription.transcript import utc_now

__all__ = ["ADMIN", "BOOTSTRAP_ID", "SCOPES", "ApiKey", "IssuedKey", "KeyStore", "hash_token"]

READ, WRITE, ADMIN = "jobs:read", "jobs:write", "admin"
SCOPES = (WRITE, READ, ADMIN)
BOOTSTRAP_ID = "bootstrap"
_TOKEN = re.compile(r"^trk_([0-9a-f]{16})_[A-Za-z0-9_-]{20,}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    owner: str
    scopes: tuple[str, ...]
    created_at: str
    rate_quota: int | None = None  # requests per minute per route; None: the default
    revoked_at: str | None = None
    webhook_secret: str = field(default="", repr=False)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, scope: str) -> bool:
        """``admin`` holds every scope."""
        return scope in self.scopes or ADMIN in self.scopes

    def public(self) -> dict[str, Any]:
        """What listing a key shows: no hash, no secret."""
        return {
            "id": self.key_id,
            "owner": self.owner,
            "scopes": list(self.scopes),
            "rate_quota": self.rate_quota,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str = field(repr=False)


def _from_item(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=item["key_id"],
        owner=item["owner"],
        scopes=tuple(item.get("scopes") or ()),
        created_at=item["created_at"],
        rate_quota=item.get("rate_quota"),
        revoked_at=item.get("revoked_at"),
        webhook_secret=item.get("webhook_secret", ""),
    )


class KeyStore:
    def __init__(self, dynamo: Dynamo, table: str) -> None:
        self.dynamo = dynamo
        self.table = table

    def issue(
        self, owner: str, scopes: tuple[str, ...], rate_quota: int | None = None
    ) -> IssuedKey:
        key_id = secrets.token_hex(8)
        token = f"trk_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, owner, scopes, utc_now(), rate_quota, None, new_webhook_secret())
        item = {**_item(key), "secret_hash": hash_token(token)}
        self.dynamo.create(self.table, item, "key_id")
        return IssuedKey(key, token)

    def ensure_bootstrap(self, token: str) -> None:
        """Store (or re-point) the bootstrap admin key; its webhook secret is kept."""
        self.dynamo.update(
            self.table,
            {"key_id": BOOTSTRAP_ID},
            "SET secret_hash = :h, #o = :o, scopes = :s,"
            " created_at = if_not_exists(created_at, :t),"
            " webhook_secret = if_not_exists(webhook_secret, :w) REMOVE revoked_at",
            names={"#o": "owner"},
            values={
                ":h": hash_token(token),
                ":o": "admin",
                ":s": [ADMIN],
                ":t": utc_now(),
                ":w": new_webhook_secret(),
            },
        )

    def authenticate(self, token: str | None) -> ApiKey:
        """The key ``token`` is, or :class:`Unauthorized` (unknown, wrong or revoked)."""
        if not token:
            raise Unauthorized()
        match = _TOKEN.match(token)
        item = self.dynamo.get(self.table, {"key_id": match.group(1) if match else BOOTSTRAP_ID})
        stored = str(item.get("secret_hash", "")) if item else ""
        if not item or not hmac.compare_digest(stored, hash_token(token)):
            raise Unauthorized()
        key = _from_item(item)
        if key.revoked:
            raise Unauthorized("this API key was revoked")
        return key

    def get(self, key_id: str) -> ApiKey:
        item = self.dynamo.get(self.table, {"key_id": key_id})
        if not item:
            raise KeyNotFound(f"no API key {key_id!r}")
        return _from_item(item)

    def list(self) -> list[ApiKey]:
        keys = [_from_item(i) for i in self.dynamo.scan_all(self.table)]
        return sorted(keys, key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> ApiKey:
        """Mark ``key_id`` revoked (kept, so its jobs keep an owner and the audit log a name)."""
        try:
            item = self.dynamo.update(
                self.table,
                {"key_id": key_id},
                "SET revoked_at = if_not_exists(revoked_at, :t)",
                condition="attribute_exists(key_id)",
                values={":t": utc_now()},
                returns="ALL_NEW",
            )
        except ConditionFailed:
            raise KeyNotFound(f"no API key {key_id!r}") from None
        return _from_item(item)


def _item(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "owner": key.owner,
        "scopes": list(key.scopes),
        "created_at": key.created_at,
        "rate_quota": key.rate_quota,
        "webhook_secret": key.webhook_secret,
    }
