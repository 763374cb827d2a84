"""Shared dependencies, as ``Annotated`` types routes declare in their signatures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from fastapi_server.auth import ANONYMOUS
from fastapi_server.exceptions import NotReady, RateLimited, Unauthorized
from fastapi_server.state import ServerState
from transcription.logging import append_keys

__all__ = ["AsrCallerDep", "CallerDep", "MetricsCallerDep", "StateDep", "get_state"]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from API_KEYS (or API_KEYS_PARAMETER): `Authorization: Bearer <key>`.",
)
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
# whisper-asr-webservice's clients (Bazarr) send no header of their own, but requests turns
# an endpoint of http://user:<key>@host:port into HTTP Basic: the key is the password.
basic = HTTPBasic(
    auto_error=False,
    scheme_name="ApiKeyAsBasicPassword",
    description="/asr and /detect-language only: HTTP Basic with the API key as the password "
    "(any user name), for clients that can only be given an endpoint URL "
    "(`http://bazarr:<key>@127.0.0.1:8000`).",
)
BasicDep = Annotated[HTTPBasicCredentials | None, Depends(basic)]


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


StateDep = Annotated[ServerState, Depends(get_state)]


@dataclass(frozen=True)
class Caller:
    key_id: str  # a hash of the key, or "anonymous:<address>"


def _identify(request: Request, state: ServerState, key: str | None) -> Caller:
    keys = state.keys
    if keys is None:
        raise NotReady("the server is starting")
    address = request.client.host if request.client else "unknown"
    if keys.anonymous:
        return Caller(f"{ANONYMOUS}:{address}")
    ident = keys.identify(key)
    if ident is None:
        # Guessing keys costs a token of the caller's address: a flood gets 429, not 401s.
        wait = state.unauthenticated.take(address)
        if wait is not None:
            raise RateLimited(wait, "requests without a valid API key from this address")
        raise Unauthorized()
    return Caller(ident)


def _admit(request: Request, state: ServerState, key: str | None) -> Caller:
    """401 without a valid key; then one token from the key's bucket, or 429."""
    caller = _identify(request, state, key)
    append_keys(key_id=caller.key_id)
    wait = state.limiter.take(caller.key_id)
    if wait is not None:
        raise RateLimited(wait)
    return caller


async def authenticate(request: Request, state: StateDep, credentials: CredentialsDep) -> Caller:
    return _admit(request, state, credentials.credentials if credentials else None)


async def authenticate_asr(
    request: Request, state: StateDep, credentials: CredentialsDep, password: BasicDep
) -> Caller:
    """A bearer key, or the key as the HTTP Basic password (Bazarr's endpoint URL)."""
    if credentials is not None:
        return _admit(request, state, credentials.credentials)
    return _admit(request, state, password.password if password else None)


async def authenticate_metrics(
    request: Request, state: StateDep, credentials: CredentialsDep
) -> Caller | None:
    """/metrics: like every endpoint, unless METRICS_PUBLIC=true (then open, not rate limited)."""
    if state.settings.metrics_public:
        return None
    return _identify(request, state, credentials.credentials if credentials else None)


CallerDep = Annotated[Caller, Depends(authenticate)]
MetricsCallerDep = Annotated[Caller | None, Depends(authenticate_metrics)]
AsrCallerDep = Annotated[Caller, Depends(authenticate_asr)]
