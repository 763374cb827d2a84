"""API keys on the real app (uvicorn, moto's DynamoDB): issued once, hashed, scoped, revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobs_api.keys import hash_token
from tests.jobs_api.conftest import ADMIN_KEY, Api, bearer


def test_health_needs_no_key(api: Api) -> None:
    response = api.http.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_key_is_shown_once_and_stored_hashed(api: Api, dynamodb: Any) -> None:
    issued = api.issue("team-a", ["jobs:read", "jobs:write"], rate_quota=100)
    assert issued["key"].startswith(f"trk_{issued['id']}_")
    assert issued["webhook_secret"].startswith("whsec_")
    listed = api.http.get("/v1/auth/keys", headers=bearer(ADMIN_KEY)).json()["keys"]
    mine = next(k for k in listed if k["id"] == issued["id"])
    assert mine == {
        "id": issued["id"], "owner": "team-a", "scopes": ["jobs:read", "jobs:write"],
        "rate_quota": 100, "created_at": issued["created_at"], "revoked_at": None,
    }  # fmt: skip
    table = api.stack.settings.jobs_table_prefix + "-api-keys"
    stored = dynamodb.get_item(TableName=table, Key={"key_id": {"S": issued["id"]}})["Item"]
    assert stored["secret_hash"]["S"] == hash_token(issued["key"])
    assert issued["key"] not in str(stored)


def test_no_key_or_an_unknown_key_is_401(api: Api) -> None:
    assert api.http.get("/v1/jobs").status_code == 401
    response = api.http.get("/v1/jobs", headers=bearer("trk_0123456789abcdef_" + "x" * 43))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_wrong_scope_is_403(api: Api) -> None:
    reader = api.issue("team-a", ["jobs:read"])
    response = api.http.post(
        "/v1/jobs",
        json={"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"}]},
        headers=bearer(reader["key"]),
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert api.http.get("/v1/auth/keys", headers=bearer(reader["key"])).status_code == 403
    assert api.http.get("/v1/jobs", headers=bearer(reader["key"])).status_code == 200


def test_a_revoked_key_is_401_on_the_next_request(api: Api) -> None:
    key = api.issue("team-a", ["jobs:read"])
    assert api.http.get("/v1/jobs", headers=bearer(key["key"])).status_code == 200
    revoked = api.http.delete(f"/v1/auth/keys/{key['id']}", headers=bearer(ADMIN_KEY))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = api.http.get("/v1/jobs", headers=bearer(key["key"]))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert (
        api.http.delete(f"/v1/auth/keys/{'0' * 16}", headers=bearer(ADMIN_KEY)).status_code == 404
    )


def test_rate_quota_answers_429_with_retry_after(api: Api) -> None:
    key = api.issue("team-a", ["jobs:read"], rate_quota=3)
    statuses = [api.http.get("/v1/jobs", headers=bearer(key["key"])).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.http.get("/v1/jobs", headers=bearer(key["key"]))
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"
    # per route: another route of the same key still has its quota
    assert api.http.get(f"/v1/jobs/{'0' * 32}", headers=bearer(key["key"])).status_code == 404


def test_issuing_and_revoking_are_audited(api: Api, audit_log: Any) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    key = api.issue("team-audit", ["jobs:read"])
    api.http.delete(f"/v1/auth/keys/{key['id']}", headers=bearer(ADMIN_KEY))
    entries = audit_log.between(start, datetime.now(UTC) + timedelta(seconds=1))
    actions = [(e["action"], e["actor"], e["target"]) for e in entries]
    assert ("key.issued", "bootstrap", key["id"]) in actions
    assert ("key.revoked", "bootstrap", key["id"]) in actions
    assert all(e["expires_at"] > datetime.now(UTC).timestamp() + 80 * 86400 for e in entries)
