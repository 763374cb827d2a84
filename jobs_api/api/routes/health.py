"""``GET /v1/health``: no auth, no AWS call (the API is up when it answers)."""

from __future__ import annotations

from fastapi import APIRouter

from jobs_api.api.schemas import HealthResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/v1/health", response_model=HealthResponse, summary="The API answers")
async def health() -> HealthResponse:
    return HealthResponse(status="ok")
