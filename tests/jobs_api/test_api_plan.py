"""POST /v1/plan on the real app (uvicorn, moto's server): the same plan as the command.

The answer's ``plan`` is what ``transcription-router plan --json`` prints for the same
inputs (the command is run in-process here); bad input is a 422 naming the field.
"""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from tests.jobs_api.conftest import Api, bearer
from transcription.planner.command import add_plan_parser, run_plan


@pytest.fixture
def reader(api: Api) -> dict[str, str]:
    return bearer(api.issue("planners", ["jobs:read"])["key"])


def command_json(*args: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    add_plan_parser(parser.add_subparsers())
    out = io.StringIO()
    with redirect_stdout(out):
        assert run_plan(parser.parse_args(["plan", *args, "--json"]), "plan") == 0
    answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


def test_the_plan_is_the_commands_and_the_chart_holds_the_crossover(
    api: Api, reader: dict[str, str]
) -> None:
    body = {"tasks_per_month": 50000, "minutes_per_task": 3, "peak_ratio": 4, "spot_share": 0.5}
    response = api.http.post("/v1/plan", json=body, headers=reader)
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = command_json(
        "--tasks-per-month", "50000", "--minutes-per-task", "3", "--peak-ratio", "4",
        "--spot-share", "0.5",
    )  # fmt: skip
    assert answer["plan"] == expected
    chart = answer["chart"]
    volumes = [p["tasks_per_month"] for p in chart["points"]]
    assert volumes == sorted(volumes) and volumes[0] < 50000 < volumes[-1]
    crossover = expected["crossover_tasks_per_month"]
    assert crossover is not None and chart["crossover"]["tasks_per_month"] == crossover
    # The lines cross there: self-hosted dearer below it, cheaper above it.
    below = [p for p in chart["points"] if p["tasks_per_month"] < crossover]
    above = [p for p in chart["points"] if p["tasks_per_month"] > crossover]
    assert all(p["self_hosted_usd"] > p["managed_usd"] for p in below)
    assert all(p["self_hosted_usd"] <= p["managed_usd"] for p in above)
    assert chart["plan_tasks_per_month"] == 50000
    assert "large-v3" in answer["choices"]["models"]
    assert "g5.xlarge" in answer["choices"]["instance_types"]


def test_another_volume_gives_another_plan(api: Api, reader: dict[str, str]) -> None:
    small = api.http.post(
        "/v1/plan", json={"tasks_per_month": 100, "minutes_per_task": 3}, headers=reader
    ).json()
    large = api.http.post(
        "/v1/plan", json={"tasks_per_month": 5_000_000, "minutes_per_task": 3}, headers=reader
    ).json()
    assert small["plan"]["phase"] == "managed" and large["plan"]["phase"] != "managed"
    assert large["plan"]["gpus_peak"] > small["plan"]["gpus_peak"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"minutes_per_task": 3}, "tasks_per_month"),
        ({"tasks_per_month": -1, "minutes_per_task": 3}, "tasks_per_month"),
        ({"tasks_per_month": 10, "minutes_per_task": 3, "spot_share": 1.5}, "spot_share"),
        ({"tasks_per_month": 10, "minutes_per_task": 3, "peak_ratio": 30}, "peak_ratio"),
        ({"tasks_per_month": 10, "minutes_per_task": 3, "colour": "red"}, "colour"),
        ({"tasks_per_month": 10, "minutes_per_task": 3, "model": "nope"}, "model"),
        ({"tasks_per_month": 10, "minutes_per_task": 3, "instance_type": "x1"}, "instance_type"),
        (
            {"tasks_per_month": 10, "minutes_per_task": 3, "longest_task_minutes": 1},
            "longest_task_minutes",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: Api, reader: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = api.http.post("/v1/plan", json=body, headers=reader)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_planning_needs_a_key(api: Api) -> None:
    body = {"tasks_per_month": 10, "minutes_per_task": 3}
    assert api.http.post("/v1/plan", json=body).status_code == 401
    assert api.http.post("/v1/plan", json=body, headers=bearer("nope")).status_code == 401
