"""One router per topic; :data:`ROUTERS` is what the app includes, in order."""

from jobs_api.api.routes import health, jobs, keys, plan
from jobs_api.console.routes import router as console

ROUTERS = (health.router, keys.router, jobs.router, plan.router, console)

__all__ = ["ROUTERS"]
