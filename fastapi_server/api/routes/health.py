"""``GET /health``: no auth, answered from memory (the router polls it before every call)."""

from __future__ import annotations

import math

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import Histogram

from fastapi_server.api.deps import StateDep
from fastapi_server.api.schemas import HealthResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The model is not loaded (yet)."}},
    summary="Readiness and load: ready, busy, in flight, pending",
)
async def health(state: StateDep) -> JSONResponse:
    load = state.slots.default.load()  # the default model's: the router's question
    engine = state.engine
    drain = state.drain  # queued jobs while idle: they never make the server busy
    busy = load.busy if drain is None else drain.busy(load)
    settings = state.settings.engine
    body = HealthResponse(
        status=state.status,
        ready=engine is not None,
        busy=busy or engine is None,
        draining=drain is not None and drain.running > 0,
        in_flight=load.in_flight,
        capacity=load.capacity,
        pending=load.pending,
        max_pending=load.max_pending,
        estimated_wait_seconds=None
        if math.isinf(load.estimated_wait)
        else round(load.estimated_wait, 3),
        wait_budget_seconds=load.wait_budget,
        realtime_factor=_mean_realtime_factor(state.metrics.realtime_factor),
        engine=engine.name if engine else settings.engine,
        model=engine.model if engine else settings.model,
        device=engine.device if engine else settings.device,
    )
    return JSONResponse(body.model_dump(), status_code=200 if engine is not None else 503)


def _mean_realtime_factor(histogram: Histogram) -> float | None:
    """Processing ÷ audio seconds, the mean over every route's transcriptions so far."""
    totals = {"_sum": 0.0, "_count": 0.0}
    for family in histogram.collect():
        for sample in family.samples:
            for suffix in totals:
                if sample.name.endswith(suffix):
                    totals[suffix] += sample.value
    if not totals["_count"]:
        return None
    return round(totals["_sum"] / totals["_count"], 4)
