"""Shared dependencies, as ``Annotated`` types routes declare in their signatures.

``ReaderDep``, ``WriterDep`` and ``AdminDep`` authenticate the bearer key (401: none, unknown
or revoked), check its scope (403) and count the request against the key's rate quota for
the route (429). The key is never logged; its id is added to the log context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobs_api.exceptions import Forbidden
from jobs_api.keys import ADMIN, READ, WRITE, ApiKey
from jobs_api.state import AppState
from transcription.logging import append_keys

__all__ = ["AdminDep", "ReaderDep", "StateDep", "WriterDep", "get_state"]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A key from POST /v1/auth/keys (or the bootstrap admin key).",
)
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.jobs
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def _route_name(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    return f"{request.method} {path}"


def require(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    async def authenticate(
        request: Request, state: StateDep, credentials: CredentialsDep
    ) -> ApiKey:
        token = credentials.credentials if credentials else None
        key = await run_in_threadpool(state.keys.authenticate, token)
        append_keys(key_id=key.key_id, owner=key.owner)
        if not key.allows(scope):
            raise Forbidden(f"this key lacks the {scope!r} scope")
        await run_in_threadpool(
            state.limiter.take, key.key_id, _route_name(request), key.rate_quota
        )
        return key

    return authenticate


ReaderDep = Annotated[ApiKey, Depends(require(READ))]
WriterDep = Annotated[ApiKey, Depends(require(WRITE))]
AdminDep = Annotated[ApiKey, Depends(require(ADMIN))]
