"""``/console`` routes: the three pages and their static assets, with the console's headers.

Left out of the OpenAPI document (they are pages, not API). The pages need no key to load:
what they show comes from API calls made with the key the user signs in with.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import HTMLResponse

from jobs_api.api.deps import StateDep
from jobs_api.console import pages
from jobs_api.console.policy import headers
from jobs_api.exceptions import ApiError

__all__ = ["ASSET_TYPES", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)
ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class AssetNotFound(ApiError):
    code = "not_found"
    status = 404


@functools.cache
def assets() -> dict[str, bytes]:
    """Every shipped asset by file name, read once."""
    folder = resources.files("jobs_api.console") / "static"
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and any(entry.name.endswith(s) for s in ASSET_TYPES)
    }


def _html(state: StateDep, text: str) -> HTMLResponse:
    return HTMLResponse(text, headers=headers(state))


@router.get("")
async def jobs(state: StateDep) -> HTMLResponse:
    return _html(state, pages.jobs_page())


@router.get("/jobs/{job_id}")
async def job(
    state: StateDep, job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> HTMLResponse:
    return _html(state, pages.job_page(job_id))


@router.get("/planner")
async def planner(state: StateDep) -> HTMLResponse:
    return _html(state, pages.planner_page())


@router.get("/static/{name}")
async def asset(state: StateDep, name: str) -> Response:
    body = assets().get(name)
    if body is None:
        raise AssetNotFound(f"no console asset {name!r}")
    media_type = ASSET_TYPES[name[name.rindex(".") :]]
    return Response(body, media_type=media_type, headers=headers(state))
