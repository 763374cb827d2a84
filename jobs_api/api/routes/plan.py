"""``POST /v1/plan``: the capacity planner (what ``transcription-router plan --json`` prints).

Any key may plan (``jobs:read``); bad input is a 422 naming the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from jobs_api.api.deps import ReaderDep
from jobs_api.api.schemas import ErrorResponse, PlanIn
from jobs_api.planning import figures, plan_answer
from transcription.planner import PlanInputs

__all__ = ["router"]

router = APIRouter(tags=["planner"])


@router.post(
    "/v1/plan",
    responses={
        401: {"model": ErrorResponse, "description": "No key, an unknown or a revoked one."},
        422: {"model": ErrorResponse, "description": "Invalid input; error.field names it."},
        429: {"model": ErrorResponse, "description": "Rate limited; see Retry-After."},
    },
    summary="Capacity plan: GPUs, monthly costs, the crossover, and the chart's lines",
)
async def plan(body: PlanIn, key: ReaderDep) -> dict[str, Any]:
    inputs = PlanInputs(**body.model_dump())
    return await run_in_threadpool(lambda: plan_answer(inputs, figures()))
