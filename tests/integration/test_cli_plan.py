"""``transcription-router plan`` as a user runs it: the console script and ``python -m``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from transcription.planner.figures import DEFAULT_PRICES, BenchRecord, write_bench_file

COMMAND = Path(sys.executable).with_name("transcription-router")  # the installed console script
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ["--tasks-per-month", "50000", "--minutes-per-task", "3"]
KEYS = {
    "gpus_peak",
    "gpus_mean",
    "self_hosted_monthly_usd",
    "managed_monthly_usd",
    "savings_fraction",
    "phase",
    "crossover_tasks_per_month",
}


def plan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PLANNER_PRICES"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "transcription.inference.cli", "plan", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=environ,
    )  # fmt: skip


def row(table: str, name: str) -> str:
    """The value printed after ``name`` in the table (names and values are two spaces apart)."""
    (line,) = [line for line in table.splitlines() if line.startswith(name + "  ")]
    return line[len(name) :].strip()


def test_the_console_script_prints_the_table() -> None:
    assert COMMAND.exists(), f"console script missing: {COMMAND} (pip install -e .)"
    result = subprocess.run([str(COMMAND), "plan", *EXAMPLE], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)  # fmt: skip

    assert result.returncode == 0, result.stderr
    table = result.stdout
    assert row(table, "GPUs at peak").startswith("1  (peak 3x the mean rate")
    assert row(table, "GPUs on average") == "1"
    assert row(table, "self-hosted").startswith("$765.88/month  (server $734.38")
    assert row(table, "managed").startswith("$3,600.00/month")
    assert row(table, "savings") == "78.7% of the managed cost"
    assert row(table, "crossover") == "10,621 tasks/month"
    assert row(table, "phase").startswith("growth: Phase 2")
    assert row(table, "model on instance") == (
        "large-v3 on g5.xlarge (A10G): 45.3x real time (derived)"
    )


def test_json_has_the_headline_keys() -> None:
    result = plan(*EXAMPLE, "--json")

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer.keys() >= KEYS
    assert answer["gpus_peak"] == 1 and answer["gpus_mean"] == 1
    assert answer["self_hosted_monthly_usd"] == 765.88
    assert answer["managed_monthly_usd"] == 3600.0
    assert answer["savings_fraction"] == pytest.approx(0.7873, abs=1e-4)
    assert answer["phase"] == "growth"
    assert answer["crossover_tasks_per_month"] == 10_621
    assert answer["speed"]["source"]["kind"] == "derived"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--tasks-per-month", "-5", "--minutes-per-task", "3"], "--tasks-per-month: '-5'"),
        (["--tasks-per-month", "many", "--minutes-per-task", "3"], "'many': not a number"),
        ([*EXAMPLE, "--spot-share", "2"], "--spot-share: '2': must be between 0 and 1"),
        ([*EXAMPLE, "--peak-ratio", "30"], "peak_ratio=30.0: must be between 1 and 24"),
        ([*EXAMPLE, "--instance-type", "p9.huge"], "instance_type='p9.huge'"),
        ([*EXAMPLE, "--model", "tiny.en"], "model='tiny.en': no speed on A10G"),
        ([*EXAMPLE, "--latency-target", "1"], "latency_target_seconds=1: shorter than"),
        ([*EXAMPLE, "--calibrate", "/nonexistent/bench.json"], "bench.json: cannot read"),
        (["--minutes-per-task", "3"], "--tasks-per-month"),
    ],
)
def test_bad_input_exits_2_naming_it(args: list[str], named: str) -> None:
    result = plan(*args)

    assert result.returncode == 2, result.stdout
    assert named in result.stderr
    assert result.stdout == ""


def test_chart_and_calibration(tmp_path: Path) -> None:
    bench = tmp_path / "bench.json"
    write_bench_file(bench, [BenchRecord("large-v3", "A10G", 90.6, 64.4, 3)])
    chart = tmp_path / "plan.png"

    result = plan("--tasks-per-month", "2000000", "--minutes-per-task", "3", "--json",
                  "--calibrate", str(bench), "--chart", str(chart))  # fmt: skip

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["speed"]["speed"] == 90.6 and answer["speed"]["source"]["kind"] == "calibrated"
    assert answer["gpus_mean"] == 2  # 136.99 audio s/s ÷ 90.6, not ÷ 45.3 (4)
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert f"chart written to {chart}" in result.stderr


def test_planner_prices_points_at_another_file(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PRICES.read_text())
    data["instances"]["g5.xlarge"]["on_demand_usd_per_hour"] = 2.0
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(data))

    result = plan(*EXAMPLE, "--json", env={"PLANNER_PRICES": str(prices)})

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["self_hosted"]["server_usd"] == pytest.approx(1460.0)
    assert answer["figures"]["path"] == str(prices)
    broken = plan(*EXAMPLE, env={"PLANNER_PRICES": str(tmp_path / "nothing.json")})
    assert broken.returncode == 2 and "nothing.json: cannot read" in broken.stderr


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Capacity planning\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_commands_run_and_its_table_is_what_they_print(tmp_path: Path) -> None:
    section = readme_section()
    commands = [
        line for line in section.splitlines() if line.startswith("transcription-router plan")
    ]
    assert len(commands) == 4
    # The --calibrate example reads the bench file that the bench command above it writes.
    write_bench_file(tmp_path / "bench.json", [BenchRecord("large-v3", "A10G", 90.6, 64.4, 3)])
    outputs = []
    for command in commands:
        args = command.split()[1:]
        result = subprocess.run([str(COMMAND), *args], capture_output=True, text=True,
                                timeout=60, cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, (command, result.stderr)
        outputs.append(result.stdout)
    assert (tmp_path / "crossover.png").exists()
    shown = section.split("it prints:\n\n```\n", 1)[1].split("```", 1)[0]
    for line in shown.splitlines():
        assert line in outputs[0].splitlines(), line
