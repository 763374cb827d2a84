"""The planner's recommendation for three workloads, beside what this machine measures.

Measures the CLI code path's realtime factor of tiny.en and base on this machine (a ~30 s
speech file from the committed samples, two rounds each, median; about half a minute on 2
cores) and prints:

* for each model, the speed the planner's figures use on this machine's kind of CPU, the
  speed measured now, and **used ÷ measured** (1.0: the shipped figure holds here; the GPU
  figures cannot be measured here, they are cited or derived);
* for three workloads (a pilot, the design's 50,000 tasks of 3 minutes, a large service),
  side by side: GPUs, monthly costs, savings, phase and crossover of large-v3 on g5.xlarge,
  and of tiny.en on CPU boxes (c7i.large) with the shipped speed and with the measured one.

    .venv/bin/python bench/bench_planner.py [--seconds 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench_engine import build_speech_file, cli_speed, default_accelerator

from transcription.planner import PlanInputs, UnknownFigure, load_figures, make_plan
from transcription.planner.figures import BenchRecord, Figures, calibrated, write_bench_file
from transcription.planner.plan import Plan

MODELS = ("tiny.en", "base")
WORKLOADS = (  # name, tasks a month, minutes a task
    ("pilot", 2_000, 2.0),
    ("design example", 50_000, 3.0),
    ("large service", 2_000_000, 5.0),
)
CPU_INSTANCE = "c7i.large"
ROWS = (  # label, cell
    ("  instances", "gpus"),
    ("  self-hosted / month", "self"),
    ("  managed / month", "managed"),
    ("  savings", "savings"),
    ("  phase", "phase"),
    ("  crossover tasks/month", "crossover"),
)


def measure(seconds: float, rounds: int, accelerator: str) -> list[BenchRecord]:
    with tempfile.TemporaryDirectory(prefix="bench-planner-") as tmp:
        path = Path(tmp) / "speech.wav"
        audio_seconds = build_speech_file(path, seconds)
        return [
            BenchRecord(
                model,
                accelerator,
                cli_speed(model, path, audio_seconds, rounds),
                audio_seconds,
                rounds,
            )
            for model in MODELS
        ]


def speed_table(figures: Figures, records: list[BenchRecord]) -> None:
    print(f"{'model':<10}{'on':<12}{'used':>8}{'measured':>10}{'used/measured':>15}  kind")
    for record in records:
        try:
            used = figures.speed(record.model, record.accelerator)
        except UnknownFigure:  # another machine's CPU: nothing shipped to compare with
            print(f"{record.model:<10}{record.accelerator:<12}{'-':>8}{record.speed:>9.1f}x")
            continue
        ratio = used.speed / record.speed
        print(f"{record.model:<10}{record.accelerator:<12}{used.speed:>7.1f}x"
              f"{record.speed:>9.1f}x{ratio:>15.2f}  {used.source.kind}")  # fmt: skip


def row(label: str, plans: list[Plan], cell: str) -> None:
    cells = "".join(f"{cell_value(plan, cell):>22}" for plan in plans)
    print(f"{label:<28}{cells}")


def cell_value(plan: Plan, cell: str) -> str:
    if cell == "gpus":
        return f"{plan.gpus_peak} peak / {plan.gpus_mean} mean"
    if cell == "self":
        return f"${plan.self_hosted_monthly_usd:,.0f}"
    if cell == "managed":
        return f"${plan.managed_monthly_usd:,.0f}"
    if cell == "savings":
        return f"{plan.savings_fraction:.1%}"
    if cell == "phase":
        return plan.phase
    crossover = plan.crossover_tasks_per_month
    return "none" if crossover is None else f"{crossover:,}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    accelerator = default_accelerator("cpu") or "cpu"
    figures = load_figures()
    records = measure(args.seconds, args.rounds, accelerator)
    print(f"this machine: {accelerator}, load average {os.getloadavg()[0]:.2f}")
    if accelerator != "cpu-2vcpu":
        print(f"(the figures' CPU speeds are for cpu-2vcpu; {accelerator} has none)")
    speed_table(figures, records)

    with tempfile.TemporaryDirectory(prefix="bench-planner-") as tmp:
        bench = Path(tmp) / "bench.json"
        write_bench_file(bench, [BenchRecord(r.model, "cpu-2vcpu", r.speed, r.audio_seconds,
                                             r.rounds) for r in records])  # fmt: skip
        measured = calibrated(figures, bench)
    print()
    print(f"{'workload':<28}" + "".join(f"{name:>22}" for name, _, _ in WORKLOADS))
    print(f"{'tasks/month x minutes':<28}"
          + "".join(f"{f'{t:,} x {m:g}':>22}" for _, t, m in WORKLOADS))  # fmt: skip
    setups = (
        ("large-v3 on g5.xlarge", figures, "large-v3", "g5.xlarge"),
        (f"tiny.en on {CPU_INSTANCE}, shipped", figures, "tiny.en", CPU_INSTANCE),
        (f"tiny.en on {CPU_INSTANCE}, measured", measured, "tiny.en", CPU_INSTANCE),
    )
    for title, chosen, model, instance in setups:
        plans = [
            make_plan(PlanInputs(tasks, minutes, model=model, instance_type=instance), chosen)
            for _, tasks, minutes in WORKLOADS
        ]
        print(f"-- {title}")
        for label, cell in ROWS:
            row(label, plans, cell)
    return 0


if __name__ == "__main__":
    sys.exit(main())
