"""One router per topic; :data:`ROUTERS` is what the app includes, in order."""

from jobs_api.api.routes import health, jobs, keys

ROUTERS = (health.router, keys.router, jobs.router)

__all__ = ["ROUTERS"]
