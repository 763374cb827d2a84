"""The capacity planner against hand-computed cases (transcription.planner).

The shipped figures (transcription/planner/prices.json) are used where the case is the
design's own; the worker arithmetic is checked on figures with round numbers made here, so
that every step can be followed by hand.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from transcription.planner import fleet
from transcription.planner.costs import transcribe_usd
from transcription.planner.crossover import cost_gap, find_crossover, search_top, volumes
from transcription.planner.exceptions import FiguresError, PlanInputError, UnknownFigure
from transcription.planner.figures import (
    DEFAULT_PRICES,
    BenchRecord,
    Figures,
    FleetAssumptions,
    Instance,
    Overhead,
    Source,
    Speed,
    Tier,
    TranscribePrices,
    calibrated,
    load_figures,
    write_bench_file,
)
from transcription.planner.plan import PlanInputs, make_plan, monthly_costs

ROOT = Path(__file__).resolve().parents[2]
HERE = Source(url="tests/unit/test_planner.py", date="2026-12-01", kind="estimate")


@pytest.fixture
def figures() -> Figures:
    return load_figures(DEFAULT_PRICES)


@pytest.fixture
def round_figures(figures: Figures) -> Figures:
    """One test GPU at 10x real time, $1/h on demand and $0.50/h on Spot; a 720-hour month;
    Transcribe at one flat $0.01 a minute; no overhead."""
    return replace(
        figures,
        instances={"test.gpu": Instance("test.gpu", "TESTGPU", 1.0, 0.5, HERE, HERE)},
        speeds={("m", "TESTGPU"): Speed("m", "TESTGPU", 10.0, HERE)},
        fleet=FleetAssumptions(
            hours_per_month=720,
            always_on_servers=1,
            peak_window_seconds=3600,
            worker_start_seconds=180,
            worker_idle_seconds=300,
        ),
        overhead=Overhead({}, 0.0, HERE),
        transcribe=TranscribePrices((Tier(None, 0.01),), 15, HERE),
    )


def test_the_designs_example_50000_tasks_of_3_minutes(figures: Figures) -> None:
    """50,000 tasks a month at 3 minutes, large-v3 on g5.xlarge, the defaults otherwise
    (peak 3x, latency target 3600 s, Spot share 0.8, no summaries).

    * audio: 50,000 x 180 s = 9,000,000 s = 150,000 min a month; a 730-hour month has
      2,628,000 s, so the mean rate is 3.4247 audio s/s, the peak 10.274.
    * speed: large-v3 on the A10G, 45.3x (derived from faster-whisper's cited benchmark).
      The longest task (3 min) takes 180 / 45.3 = 3.97 s, leaving 3596.03 s of the target.
    * GPUs at peak: a fleet speed S ≥ 10.274 x 3600 / (3600 + 3596.03) = 5.14 audio s/s
      lets the busiest hour's last task finish in time; one GPU (45.3) is far more: 1.
      GPUs on average: ⌈3.4247 / 45.3⌉ = 1. The off-peak rate (24 x 3.4247 - 10.274) / 23
      = 3.127 also needs 1, so no worker ever starts: 0 worker hours.
    * self-hosted: server 730 h x $1.006 = $734.38; overhead $30.00 fixed (endpoints $14.60,
      server volume $8.00, logs $5.00, scheduler and queues $2.40) + 50,000 x $0.00003
      = $1.50; total $765.88.
    * managed: 150,000 min, all in the first tier, x $0.024 = $3,600.00.
    * savings: (3,600 - 765.88) / 3,600 = 0.7873.
    * crossover: until a worker is needed the gap is 764.38 + 0.00003 v - 0.072 v, which
      reaches 0 at v = 764.38 / 0.07197 = 10,620.8: 10,621 tasks a month.
    * phase: above the crossover with 1 GPU at peak (≤ 8): growth.
    """
    instance = figures.instance("g5.xlarge")
    assert (instance.on_demand_usd_per_hour, instance.accelerator) == (1.006, "A10G")
    assert figures.speed("large-v3", "A10G").speed == 45.3
    assert figures.overhead.fixed_total == pytest.approx(30.0)

    plan = make_plan(PlanInputs(tasks_per_month=50_000, minutes_per_task=3), figures)

    assert plan.fleet.mean_rate == pytest.approx(3.42466, rel=1e-5)
    assert plan.fleet.peak_rate == pytest.approx(10.27397, rel=1e-5)
    assert (plan.gpus_peak, plan.gpus_mean, plan.fleet.gpus_off_peak) == (1, 1, 1)
    assert plan.self_hosted.worker_hours == 0
    assert plan.self_hosted.server_usd == pytest.approx(734.38)
    assert plan.self_hosted.overhead_usd == pytest.approx(31.50)
    assert plan.self_hosted_monthly_usd == pytest.approx(765.88)
    assert plan.managed.billed_minutes == 150_000
    assert plan.managed_monthly_usd == pytest.approx(3600.00)
    assert plan.savings_fraction == pytest.approx(0.78726, abs=1e-5)
    assert plan.crossover_tasks_per_month == 10_621
    assert plan.phase == "growth"


def test_a_tiny_volume_loses_to_transcribe(figures: Figures) -> None:
    """100 tasks of 3 min: the always-on server alone ($734.38) + $30 overhead is a hundred
    times Transcribe's 300 min x $0.024 = $7.20."""
    plan = make_plan(PlanInputs(tasks_per_month=100, minutes_per_task=3), figures)

    assert plan.self_hosted_monthly_usd == pytest.approx(734.38 + 30 + 0.003)
    assert plan.managed_monthly_usd == pytest.approx(7.20)
    assert plan.savings_fraction < -100
    assert plan.phase == "managed"


def test_a_large_volume_with_workers_wins(round_figures: Figures) -> None:
    """86,400 tasks of 10 min on the round figures: Spot share 0.5, peak 2.15x, target 3660 s.

    * audio 86,400 x 600 s = 51,840,000 s over 720 h = 2,592,000 s: mean 20 audio s/s, peak
      43, off-peak (24 x 20 - 43) / 23 = 19.
    * off-peak: ⌈19 / 10⌉ = 2 GPUs (the server and one worker, all day).
    * peak: the longest task takes 600 / 10 = 60 s, leaving 3600 s; S ≥ 43 x 3600 / 7200 =
      21.5, so 3 GPUs. Their backlog after the busy hour: (43 - 30) x 3600 = 46,800 s of
      audio; the last task waits 46,800 / 30 = 1560 s and runs 60 s: 1620 s ≤ 3660. Two
      GPUs would leave it 82,800 / 20 + 60 = 4200 s. The backlog clears 46,800 / (30 - 19)
      = 4254.55 s after the hour.
    * worker time a day: 1 x 86,400 s + 1 x (3600 + 4254.55 + 180 start + 300 idle) =
      94,734.55 s; x 30 days = 789.4545 h at 0.5 x $0.50 + 0.5 x $1.00 = $0.75: $592.09.
    * self-hosted: server 720 h x $1 = $720 + $592.09 = $1,312.09.
    * managed: 864,000 min x $0.01 = $8,640; savings 1 - 1312.09 / 8640 = 0.84814.
    * GPUs on average: ⌈20 / 10⌉ = 2.
    """
    inputs = PlanInputs(
        tasks_per_month=86_400,
        minutes_per_task=10,
        peak_ratio=2.15,
        latency_target_seconds=3660,
        model="m",
        instance_type="test.gpu",
        spot_share=0.5,
    )
    plan = make_plan(inputs, round_figures)

    assert plan.fleet.off_peak_rate == pytest.approx(19.0)
    assert (plan.gpus_peak, plan.fleet.gpus_off_peak, plan.gpus_mean) == (3, 2, 2)
    assert plan.fleet.peak_backlog_audio_seconds == pytest.approx(46_800)
    assert plan.fleet.backlog_clear_seconds == pytest.approx(4254.5454, rel=1e-6)
    assert plan.self_hosted.worker_hours == pytest.approx(789.4545, rel=1e-6)
    assert plan.self_hosted.workers_usd == pytest.approx(592.0909, rel=1e-6)
    assert plan.self_hosted_monthly_usd == pytest.approx(1312.0909, rel=1e-6)
    assert plan.managed_monthly_usd == pytest.approx(8640.0)
    assert plan.savings_fraction == pytest.approx(0.848138, abs=1e-6)
    # The same fleet passes the router's own test, one GPU less does not.
    for gpus, meets in ((3, True), (2, False)):
        speed_of_fleet = fleet.fleet_speed(gpus, 10.0)
        backlog = fleet.peak_backlog_audio_seconds(43.0, speed_of_fleet, 3600)
        assert fleet.finishes_within(backlog, speed_of_fleet, 600, 10.0, 3660) is meets


def test_the_crossover_is_where_the_lines_meet(round_figures: Figures) -> None:
    """Round figures, 10-minute tasks: the server's $720 against $0.10 a task; one GPU carries
    up to 10 x 2,592,000 / 600 / 2.15 tasks at peak, so the lines meet at exactly 7,200."""
    inputs = PlanInputs(1, 10, peak_ratio=2.15, model="m", instance_type="test.gpu")
    crossover = find_crossover(inputs, round_figures)
    gap = cost_gap(inputs, round_figures)

    assert crossover == 7200
    assert gap(crossover - 1) > 0 >= gap(crossover)
    assert all(gap(v) <= 0 for v in volumes(crossover, search_top(1)))


def test_the_crossover_of_the_shipped_figures_holds_numerically(figures: Figures) -> None:
    for minutes, model, instance in ((3, "large-v3", "g5.xlarge"), (30, "large-v2", "g4dn.xlarge"),
                                     (1, "tiny.en", "c7i.large")):  # fmt: skip
        inputs = PlanInputs(1000, minutes, model=model, instance_type=instance)
        crossover = find_crossover(inputs, figures)
        assert crossover is not None and crossover > 1
        gap = cost_gap(inputs, figures)
        assert gap(crossover - 1) > 0 >= gap(crossover), (minutes, model, instance)
        above = volumes(crossover, search_top(1000), per_decade=20)
        assert all(gap(v) <= 0 for v in above), (minutes, model, instance)


def test_no_crossover_when_self_hosting_never_pays(round_figures: Figures) -> None:
    """Transcribe at $0.0001 a minute: $0.001 a task never pays for a $720 server plus GPUs
    at $0.0125 a task (60 s of GPU time at $0.75/h)."""
    cheap = replace(round_figures, transcribe=TranscribePrices((Tier(None, 0.0001),), 15, HERE))
    plan = make_plan(PlanInputs(1000, 10, model="m", instance_type="test.gpu"), cheap)
    assert plan.crossover_tasks_per_month is None
    assert plan.phase == "managed"


def test_transcribe_tiers_and_the_15_second_minimum(figures: Figures) -> None:
    prices = figures.transcribe
    # 250,000 x 0.024 + 750,000 x 0.015 + 200,000 x 0.0102
    assert transcribe_usd(1_200_000, prices) == pytest.approx(6000 + 11_250 + 2040)
    # ... + 4,000,000 x 0.0102 + 1,000,000 x 0.0078 over 5 million
    assert transcribe_usd(6_000_000, prices) == pytest.approx(6000 + 11_250 + 40_800 + 7800)
    _, _, managed = monthly_costs(PlanInputs(1000, 10 / 60), figures)  # 10 s clips
    assert managed.billed_minutes == pytest.approx(250)  # billed as 15 s each
    assert managed.transcribe_usd == pytest.approx(6.0)


def test_summaries_cost_the_same_on_both_sides(figures: Figures) -> None:
    """One summary of a 3-minute task: (200 x 3 + 300) = 900 input tokens x $0.00025/1k +
    250 output tokens x $0.00125/1k = $0.000225 + $0.0003125 = $0.0005375."""
    plain = make_plan(PlanInputs(50_000, 3), figures)
    summed = make_plan(PlanInputs(50_000, 3, summary_share=0.5), figures)

    assert summed.managed.summary_usd == pytest.approx(25_000 * 0.0005375)
    assert summed.self_hosted.summary_usd == summed.managed.summary_usd
    assert summed.managed_monthly_usd - plain.managed_monthly_usd == pytest.approx(13.4375)
    assert summed.crossover_tasks_per_month == plain.crossover_tasks_per_month


def test_the_phase_follows_the_crossover_and_the_fleet_size(figures: Figures) -> None:
    volumes_and_phases = [(5_000, "managed"), (100_000, "growth"), (10_000_000, "scale")]
    for tasks, phase in volumes_and_phases:
        plan = make_plan(PlanInputs(tasks, 3), figures)
        assert plan.phase == phase, (tasks, plan.gpus_peak)
    assert make_plan(PlanInputs(10_000_000, 3), figures).gpus_peak > figures.growth_max_gpus_peak


def test_a_longer_latency_target_needs_fewer_gpus_at_peak(figures: Figures) -> None:
    """2,000,000 tasks of 3 min: mean 136.99 audio s/s, peak 410.96, 45.3x per GPU.

    A 60 s target leaves 60 - 180 / 45.3 = 56.03 s of slack: S ≥ 410.96 x 3600 / 3656.03 =
    404.66, 9 GPUs (the busy hour's peak alone would need 10). Four hours of slack let the
    fleet fall to the mean's ⌈136.99 / 45.3⌉ = 4, and never below it.
    """
    fast = make_plan(PlanInputs(2_000_000, 3, latency_target_seconds=60), figures)
    slow = make_plan(PlanInputs(2_000_000, 3, latency_target_seconds=4 * 3600), figures)
    assert (fast.gpus_peak, slow.gpus_peak, slow.gpus_mean) == (9, 4, 4)
    assert fast.self_hosted_monthly_usd > slow.self_hosted_monthly_usd


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"tasks_per_month": 0}, "tasks_per_month=0"),
        ({"minutes_per_task": -2}, "minutes_per_task=-2"),
        ({"peak_ratio": 30}, "peak_ratio=30"),
        ({"peak_ratio": 0.5}, "peak_ratio=0.5"),
        ({"spot_share": 1.5}, "spot_share=1.5"),
        ({"summary_share": -0.1}, "summary_share=-0.1"),
        ({"latency_target_seconds": 2}, "latency_target_seconds=2"),
        ({"longest_task_minutes": 1}, "longest_task_minutes=1"),
        ({"tasks_per_month": float("inf")}, "tasks_per_month=inf"),
    ],
)
def test_bad_inputs_are_refused_by_name(figures: Figures, change: dict, named: str) -> None:
    with pytest.raises(PlanInputError, match=named):
        make_plan(replace(PlanInputs(1000, 3), **change), figures)


def test_an_unknown_instance_or_model_lists_the_known_ones(figures: Figures) -> None:
    with pytest.raises(UnknownFigure, match=r"instance_type='p9.huge'.*g5\.xlarge"):
        make_plan(PlanInputs(1000, 3, instance_type="p9.huge"), figures)
    with pytest.raises(UnknownFigure, match=r"model='tiny.en'.*A10G.*large-v3.*--calibrate"):
        make_plan(PlanInputs(1000, 3, model="tiny.en"), figures)


def test_every_figure_has_a_source_with_a_date(figures: Figures) -> None:
    data = json.loads(DEFAULT_PRICES.read_text())
    assert data["version"] == figures.version == 1 and data["as_of"] == figures.as_of
    sources = [figures.transcribe.source, figures.summary.source, figures.overhead.source]
    sources += [s for i in figures.instances.values() for s in (i.on_demand_source, i.spot_source)]
    sources += [s.source for s in figures.speeds.values()]
    kinds = {"list price", "estimate", "measured", "cited", "derived"}
    for source in sources:
        assert source.url and source.date == "2026-12-01" and source.kind in kinds, source
    assert {"g4dn.xlarge", "g5.xlarge", "g6.xlarge", "g6e.xlarge"} <= set(figures.instances)
    assert figures.speed("tiny.en", "cpu-2vcpu").source.kind == "measured"
    assert figures.speed("large-v2", "RTX3070Ti").source.kind == "cited"


def test_calibration_replaces_the_speeds(tmp_path: Path, figures: Figures) -> None:
    bench = tmp_path / "bench.json"
    write_bench_file(bench, [BenchRecord("large-v3", "A10G", 90.6, 64.4, 3),
                             BenchRecord("tiny.en", "A10G", 300.0, 64.4, 3)])  # fmt: skip
    tuned = calibrated(figures, bench)

    assert tuned.speed("large-v3", "A10G").speed == 90.6
    assert tuned.speed("large-v3", "A10G").source.kind == "calibrated"
    assert tuned.speed("tiny.en", "A10G").speed == 300.0  # a pair the shipped file lacks
    assert tuned.speed("large-v3", "T4") == figures.speed("large-v3", "T4")
    base = make_plan(PlanInputs(2_000_000, 3), figures)
    faster = make_plan(PlanInputs(2_000_000, 3), tuned)
    assert faster.gpus_mean < base.gpus_mean
    assert faster.self_hosted.workers_usd < base.self_hosted.workers_usd


def test_a_bad_bench_file_is_named(tmp_path: Path, figures: Figures) -> None:
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"version": 1, "speeds": [{"model": "m", "accelerator": "A10G",
                                                           "speed": 0}]}))  # fmt: skip
    with pytest.raises(
        FiguresError, match=r"bench\.json: speeds\[0\]\.speed=0: expected a number > 0"
    ):
        calibrated(figures, bench)
    bench.write_text("not json")
    with pytest.raises(FiguresError, match="not JSON"):
        calibrated(figures, bench)
    with pytest.raises(FiguresError, match="cannot read"):
        calibrated(figures, tmp_path / "missing.json")


def test_a_malformed_prices_file_is_named(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PRICES.read_text())
    data["instances"]["g5.xlarge"]["spot_usd_per_hour"] = "cheap"
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FiguresError, match=r"instances\.g5\.xlarge\.spot_usd_per_hour='cheap'"):
        load_figures(path)
    data = json.loads(DEFAULT_PRICES.read_text())
    data["transcribe"]["tiers"][-1]["up_to_minutes"] = 9_000_000
    path.write_text(json.dumps(data))
    with pytest.raises(FiguresError, match="the last tier must have no bound"):
        load_figures(path)


def test_planner_prices_names_another_data_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(DEFAULT_PRICES.read_text())
    data["instances"]["g5.xlarge"]["on_demand_usd_per_hour"] = 2.0
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("PLANNER_PRICES", str(path))

    figures = load_figures()

    assert figures.path == str(path)
    assert make_plan(PlanInputs(50_000, 3), figures).self_hosted.server_usd == pytest.approx(1460)


def test_expected_wait_is_backlog_over_fleet_speed() -> None:
    assert fleet.expected_wait_seconds(9000, fleet.fleet_speed(2, 45)) == 100
    assert fleet.expected_wait_seconds(1, 0) == math.inf
    assert fleet.finishes_within(9000, 90, 180, 45, deadline_seconds=104)
    assert not fleet.finishes_within(9000, 90, 180, 45, deadline_seconds=103.9)
    with pytest.raises(ValueError, match="shorter than processing"):
        fleet.gpus_for_deadline(10, 45, 3600, longest_task_audio_seconds=4500,
                                deadline_seconds=99)  # fmt: skip


def test_plan_loads_no_engine_and_no_matplotlib() -> None:
    """The plan command in a fresh interpreter: nothing heavy comes in."""
    code = (
        "import sys\n"
        "from transcription.inference.cli import main\n"
        "status = main(['plan', '--tasks-per-month', '50000', '--minutes-per-task', '3'])\n"
        "heavy = ('numpy', 'av', 'faster_whisper', 'ctranslate2', 'tqdm', 'matplotlib')\n"
        "print('HEAVY', *(m for m in heavy if m in sys.modules), status, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)  # fmt: skip
    assert "HEAVY 0" in result.stderr.splitlines()[-1], result.stderr
    assert "crossover" in result.stdout


def test_the_chart_marks_the_crossover_where_it_is(tmp_path: Path, figures: Figures) -> None:
    """Draw the chart, read the PNG back and look for the marker's colour at the pixel that
    the crossover's volume and cost map to on the chart's log axes."""
    from matplotlib import colors, image

    from transcription.planner.chart import (
        CROSSOVER_COLOUR,
        MANAGED_COLOUR,
        SELF_HOSTED_COLOUR,
        draw_chart,
    )

    plan = make_plan(PlanInputs(50_000, 3), figures)
    chart = draw_chart(plan, figures, tmp_path / "crossover.png")
    pixels = image.imread(chart.path)[:, :, :3]

    assert pixels.shape[:2] == (chart.height_px, chart.width_px)
    white = (pixels > 0.98).all(axis=2)
    assert (~white).mean() > 0.02  # far from a blank canvas
    for colour in (SELF_HOSTED_COLOUR, MANAGED_COLOUR):  # both lines are drawn
        assert (abs(pixels - colors.to_rgb(colour)).max(axis=2) < 0.02).sum() > 100

    assert chart.crossover is not None and chart.crossover_px is not None
    volume, cost = chart.crossover
    assert volume == plan.crossover_tasks_per_month == 10_621
    _, _, managed = monthly_costs(PlanInputs(volume, 3), figures)
    assert cost == pytest.approx(managed.total_usd)
    # Where the crossover must be, from the axes' box and limits alone (log scale both ways).
    left, bottom, right, top = chart.axes_px
    (x0, x1), (y0, y1) = chart.xlim, chart.ylim
    column = left + (right - left) * math.log(volume / x0) / math.log(x1 / x0)
    row = chart.height_px - (bottom + (top - bottom) * math.log(cost / y0) / math.log(y1 / y0))
    assert chart.crossover_px == pytest.approx((column, row), abs=0.5)
    marker = colors.to_rgb(CROSSOVER_COLOUR)
    at = pixels[round(row) - 1 : round(row) + 2, round(column) - 1 : round(column) + 2]
    assert (abs(at - marker).max(axis=2) < 0.02).all(), at


def test_planner_prices_is_documented_with_its_default() -> None:
    example = (ROOT / "config.env.example").read_text()
    assert "\nPLANNER_PRICES=\n" in example
    assert "(transcription/planner/figures.py: PlannerSettings)" in example
