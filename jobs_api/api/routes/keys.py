"""``/v1/auth/keys``: issue (key and webhook secret shown once), list, revoke. Admin only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from jobs_api.api.deps import AdminDep, StateDep
from jobs_api.api.schemas import ErrorResponse, KeyIn, KeyIssued, KeyList, KeyView

__all__ = ["router"]

KeyId = Annotated[str, Path(pattern=r"^([0-9a-f]{16}|bootstrap)$", description="The key's id.")]

router = APIRouter(
    prefix="/v1/auth/keys",
    tags=["keys"],
    responses={
        401: {"model": ErrorResponse, "description": "No key, an unknown or a revoked one."},
        403: {"model": ErrorResponse, "description": "The key lacks the admin scope."},
        429: {"model": ErrorResponse, "description": "Rate limited; see Retry-After."},
    },
)


@router.post("", status_code=201, response_model=KeyIssued, summary="Issue an API key")
async def issue_key(body: KeyIn, admin: AdminDep, state: StateDep) -> KeyIssued:
    scopes = tuple(dict.fromkeys(body.scopes))
    issued = await run_in_threadpool(state.keys.issue, body.owner, scopes, body.rate_quota)
    await run_in_threadpool(
        lambda: state.audit.record(
            "key.issued", actor=admin.key_id, target=issued.key.key_id, owner=body.owner
        )
    )
    return KeyIssued(
        **issued.key.public(), key=issued.token, webhook_secret=issued.key.webhook_secret
    )


@router.get("", response_model=KeyList, summary="List the keys (no secrets)")
async def list_keys(admin: AdminDep, state: StateDep) -> KeyList:
    keys = await run_in_threadpool(state.keys.list)
    return KeyList(keys=[KeyView(**k.public()) for k in keys])


@router.delete(
    "/{key_id}",
    response_model=KeyView,
    responses={404: {"model": ErrorResponse, "description": "No such key."}},
    summary="Revoke a key (refused from the next request on)",
)
async def revoke_key(key_id: KeyId, admin: AdminDep, state: StateDep) -> KeyView:
    key = await run_in_threadpool(state.keys.revoke, key_id)
    await run_in_threadpool(
        lambda: state.audit.record("key.revoked", actor=admin.key_id, target=key_id)
    )
    return KeyView(**key.public())
