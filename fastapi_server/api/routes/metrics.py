"""``GET /metrics``: Prometheus text format (a key is needed unless METRICS_PUBLIC=true)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fastapi_server.api.deps import MetricsCallerDep, StateDep
from fastapi_server.api.schemas import errors

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics."},
        **errors(401, 503),
    },
    summary="Prometheus metrics",
)
async def metrics(state: StateDep, caller: MetricsCallerDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
