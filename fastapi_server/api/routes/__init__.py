"""One router per topic; :data:`ROUTERS` is what the app includes, in order."""

from fastapi_server.api.routes import asr, health, metrics, openai, s3, transcribe

ROUTERS = (
    health.router,
    transcribe.router,
    s3.router,
    openai.router,
    asr.router,
    metrics.router,
)

__all__ = ["ROUTERS"]
