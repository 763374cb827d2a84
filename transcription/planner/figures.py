"""The planner's figures: prices and speeds read from one versioned data file.

``prices.json`` beside this module is the default; ``PLANNER_PRICES`` names another file of the
same shape. Every price carries a :class:`Source` (url, date, kind), so a reader can tell a list
price from an estimate and a measured speed from a cited one. :func:`calibrated` replaces speeds
with a user's own measurements from a bench file (``plan --calibrate bench.json``), written by
``bench/bench_engine.py --json`` through :func:`write_bench_file`::

    {"version": 1, "measured_at": "2026-12-01T23:00:00Z", "host": "…",
     "speeds": [{"model": "tiny.en", "accelerator": "cpu-2vcpu", "speed": 18.6,
                 "audio_seconds": 64.4, "rounds": 3}]}

``speed`` is this repository's realtime factor: seconds of audio one instance transcribes per
second of wall time (18.6 = 18.6 x real time); the inverse of the "RTF" some papers quote.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transcription.planner.exceptions import FiguresError, UnknownFigure
from transcription.settings import load

__all__ = [
    "DEFAULT_PRICES",
    "BenchRecord",
    "Figures",
    "FleetAssumptions",
    "Instance",
    "Overhead",
    "PlannerSettings",
    "Source",
    "Speed",
    "SummaryPrices",
    "Tier",
    "TranscribePrices",
    "calibrated",
    "load_figures",
    "write_bench_file",
]

DEFAULT_PRICES = Path(__file__).with_name("prices.json")
BENCH_VERSION = 1


@dataclass(frozen=True)
class PlannerSettings:
    """``PLANNER_PRICES``: another data file of prices.json's shape (default: the shipped one)."""

    planner_prices: str | None = None


@dataclass(frozen=True)
class Source:
    url: str
    date: str
    kind: str  # list price, estimate, measured, cited, derived, calibrated
    note: str = ""


@dataclass(frozen=True)
class Tier:
    up_to_minutes: float | None  # the tier's upper bound in minutes a month; None: no bound
    usd_per_minute: float


@dataclass(frozen=True)
class TranscribePrices:
    tiers: tuple[Tier, ...]
    minimum_seconds_per_job: float
    source: Source


@dataclass(frozen=True)
class SummaryPrices:
    model: str
    usd_per_1k_input_tokens: float
    usd_per_1k_output_tokens: float
    input_tokens_per_audio_minute: float
    prompt_tokens: float
    output_tokens: float
    source: Source


@dataclass(frozen=True)
class Instance:
    name: str
    accelerator: str
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float
    on_demand_source: Source
    spot_source: Source


@dataclass(frozen=True)
class Speed:
    model: str
    accelerator: str
    speed: float  # audio seconds per wall second, one instance
    source: Source


@dataclass(frozen=True)
class FleetAssumptions:
    hours_per_month: float
    always_on_servers: int
    peak_window_seconds: float
    worker_start_seconds: float
    worker_idle_seconds: float


@dataclass(frozen=True)
class Overhead:
    fixed_usd_per_month: Mapping[str, float]
    usd_per_task: float
    source: Source

    @property
    def fixed_total(self) -> float:
        return sum(self.fixed_usd_per_month.values())


@dataclass(frozen=True)
class Figures:
    version: int
    as_of: str
    region: str
    path: str
    transcribe: TranscribePrices
    summary: SummaryPrices
    instances: Mapping[str, Instance]
    speeds: Mapping[tuple[str, str], Speed]
    fleet: FleetAssumptions
    overhead: Overhead
    growth_max_gpus_peak: int
    calibrations: tuple[str, ...] = field(default=())

    def instance(self, name: str) -> Instance:
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(sorted(self.instances))
            raise UnknownFigure(
                f"instance_type={name!r}: no price in {self.path} (known: {known})"
            ) from None

    def speed_on(self, model: str, instance_type: str) -> Speed:
        """One instance's speed for ``model``: what the planner sizes with, and what the
        router's overflow decision will read for the fleet's instance type."""
        return self.speed(model, self.instance(instance_type).accelerator)

    def speed(self, model: str, accelerator: str) -> Speed:
        try:
            return self.speeds[(model, accelerator)]
        except KeyError:
            known = ", ".join(sorted(m for m, a in self.speeds if a == accelerator)) or "none"
            raise UnknownFigure(
                f"model={model!r}: no speed on {accelerator} in {self.path} (known on "
                f"{accelerator}: {known}); measure it with bench/bench_engine.py --json "
                "and pass --calibrate"
            ) from None


def load_figures(path: str | Path | None = None) -> Figures:
    """Read and check a data file (default: ``PLANNER_PRICES``, else the shipped prices.json)."""
    if path is None:
        path = load(PlannerSettings).planner_prices or DEFAULT_PRICES
    where = str(path)
    data = _read_json(Path(path))
    reader = _Reader(where)
    return Figures(
        version=reader.number(data, "version", integer=True),
        as_of=reader.text(data, "as_of"),
        region=reader.text(data, "region"),
        path=where,
        transcribe=_transcribe(reader, reader.mapping(data, "transcribe")),
        summary=_summary(reader, reader.mapping(data, "summary")),
        instances=_instances(reader, reader.mapping(data, "instances")),
        speeds=_speeds(reader, reader.items(data, "speeds")),
        fleet=_fleet(reader, reader.mapping(data, "fleet")),
        overhead=_overhead(reader, reader.mapping(data, "overhead")),
        growth_max_gpus_peak=reader.number(
            reader.mapping(data, "phases"), "growth_max_gpus_peak", integer=True
        ),
    )


def calibrated(figures: Figures, bench_path: str | Path) -> Figures:
    """``figures`` with the speeds of a bench file in place of (or beside) the shipped ones."""
    where = str(bench_path)
    data = _read_json(Path(bench_path))
    reader = _Reader(where)
    version = reader.number(data, "version", integer=True)
    if version != BENCH_VERSION:
        raise FiguresError(f"{where}: version={version}: expected {BENCH_VERSION}")
    date = str(data.get("measured_at", ""))
    speeds = dict(figures.speeds)
    for i, item in enumerate(reader.items(data, "speeds")):
        at = f"speeds[{i}]"
        model = reader.text(item, "model", at)
        accelerator = reader.text(item, "accelerator", at)
        speed = reader.number(item, "speed", at, positive=True)
        note = f"{item.get('audio_seconds', '?')} s of audio, {item.get('rounds', '?')} rounds"
        source = Source(url=where, date=date, kind="calibrated", note=note)
        speeds[(model, accelerator)] = Speed(model, accelerator, speed, source)
    return replace(figures, speeds=speeds, calibrations=(*figures.calibrations, where))


@dataclass(frozen=True)
class BenchRecord:
    """One measured speed, as a bench writes it for ``plan --calibrate``."""

    model: str
    accelerator: str
    speed: float
    audio_seconds: float
    rounds: int


def write_bench_file(path: str | Path, records: Iterable[BenchRecord]) -> None:
    """Write the bench file :func:`calibrated` reads (one shape, one writer)."""
    document = {
        "version": BENCH_VERSION,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": socket.gethostname(),
        "speeds": [
            {
                "model": r.model,
                "accelerator": r.accelerator,
                "speed": round(r.speed, 2),
                "audio_seconds": round(r.audio_seconds, 1),
                "rounds": r.rounds,
            }
            for r in records
        ],
    }
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# --- reading -------------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FiguresError(f"{path}: cannot read: {error.strerror or error}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FiguresError(f"{path}: not JSON: {error}") from error
    if not isinstance(data, dict):
        raise FiguresError(f"{path}: expected a JSON object at the top")
    return data


class _Reader:
    """Typed access to the JSON with errors naming the file and the field's path."""

    def __init__(self, where: str) -> None:
        self.where = where

    def _get(self, obj: Mapping[str, Any], key: str, at: str) -> Any:
        name = f"{at}.{key}" if at else key
        if key not in obj:
            raise FiguresError(f"{self.where}: {name} is missing")
        return obj[key]

    def fail(self, at: str, key: str, expected: str, value: Any) -> FiguresError:
        name = f"{at}.{key}" if at else key
        return FiguresError(f"{self.where}: {name}={value!r}: expected {expected}")

    def text(self, obj: Mapping[str, Any], key: str, at: str = "") -> str:
        value = self._get(obj, key, at)
        if not isinstance(value, str) or not value:
            raise self.fail(at, key, "a non-empty string", value)
        return value

    def number(
        self,
        obj: Mapping[str, Any],
        key: str,
        at: str = "",
        *,
        integer: bool = False,
        positive: bool = False,
        optional: bool = False,
    ) -> Any:
        value = self._get(obj, key, at)
        if value is None and optional:
            return None
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            raise self.fail(at, key, "an integer ≥ 0" if integer else "a number ≥ 0", value)
        if positive and value <= 0:
            raise self.fail(at, key, "a number > 0", value)
        return value

    def mapping(self, obj: Mapping[str, Any], key: str, at: str = "") -> Mapping[str, Any]:
        value = self._get(obj, key, at)
        if not isinstance(value, dict):
            raise self.fail(at, key, "an object", value)
        return value

    def items(self, obj: Mapping[str, Any], key: str, at: str = "") -> list[Mapping[str, Any]]:
        value = self._get(obj, key, at)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(at, key, "a list of objects", value)
        return value

    def source(self, obj: Mapping[str, Any], key: str, at: str) -> Source:
        item = self.mapping(obj, key, at)
        where = f"{at}.{key}"
        return Source(
            url=self.text(item, "url", where),
            date=self.text(item, "date", where),
            kind=self.text(item, "kind", where),
            note=str(item.get("note", "")),
        )


def _transcribe(reader: _Reader, data: Mapping[str, Any]) -> TranscribePrices:
    tiers: list[Tier] = []
    bound = 0.0
    for i, item in enumerate(reader.items(data, "tiers", "transcribe")):
        at = f"transcribe.tiers[{i}]"
        upper = reader.number(item, "up_to_minutes", at, positive=True, optional=True)
        if upper is not None and upper <= bound:
            raise reader.fail(at, "up_to_minutes", f"more than the tier before ({bound})", upper)
        if tiers and tiers[-1].up_to_minutes is None:
            raise FiguresError(f"{reader.where}: {at}: comes after the unbounded tier")
        tiers.append(Tier(upper, reader.number(item, "usd_per_minute", at)))
        bound = upper or bound
    if not tiers or tiers[-1].up_to_minutes is not None:
        raise FiguresError(f"{reader.where}: transcribe.tiers: the last tier must have no bound")
    return TranscribePrices(
        tiers=tuple(tiers),
        minimum_seconds_per_job=reader.number(data, "minimum_seconds_per_job", "transcribe"),
        source=reader.source(data, "source", "transcribe"),
    )


def _summary(reader: _Reader, data: Mapping[str, Any]) -> SummaryPrices:
    def number(key: str) -> float:
        return float(reader.number(data, key, "summary"))

    return SummaryPrices(
        model=reader.text(data, "model", "summary"),
        usd_per_1k_input_tokens=number("usd_per_1k_input_tokens"),
        usd_per_1k_output_tokens=number("usd_per_1k_output_tokens"),
        input_tokens_per_audio_minute=number("input_tokens_per_audio_minute"),
        prompt_tokens=number("prompt_tokens"),
        output_tokens=number("output_tokens"),
        source=reader.source(data, "source", "summary"),
    )


def _instances(reader: _Reader, data: Mapping[str, Any]) -> dict[str, Instance]:
    found = {}
    for name in data:
        at = f"instances.{name}"
        item = reader.mapping(data, name, "instances")
        found[name] = Instance(
            name=name,
            accelerator=reader.text(item, "accelerator", at),
            on_demand_usd_per_hour=reader.number(item, "on_demand_usd_per_hour", at),
            spot_usd_per_hour=reader.number(item, "spot_usd_per_hour", at),
            on_demand_source=reader.source(item, "on_demand_source", at),
            spot_source=reader.source(item, "spot_source", at),
        )
    return found


def _speeds(reader: _Reader, items: list[Mapping[str, Any]]) -> dict[tuple[str, str], Speed]:
    found = {}
    for i, item in enumerate(items):
        at = f"speeds[{i}]"
        speed = Speed(
            model=reader.text(item, "model", at),
            accelerator=reader.text(item, "accelerator", at),
            speed=reader.number(item, "speed", at, positive=True),
            source=reader.source(item, "source", at),
        )
        found[(speed.model, speed.accelerator)] = speed
    return found


def _fleet(reader: _Reader, data: Mapping[str, Any]) -> FleetAssumptions:
    at = "fleet"
    servers = reader.number(data, "always_on_servers", at, integer=True)
    if servers < 1:  # the plan's self-hosted side is built around an always-on server
        raise reader.fail(at, "always_on_servers", "at least 1", servers)
    return FleetAssumptions(
        hours_per_month=reader.number(data, "hours_per_month", at, positive=True),
        always_on_servers=servers,
        peak_window_seconds=reader.number(data, "peak_window_seconds", at, positive=True),
        worker_start_seconds=reader.number(data, "worker_start_seconds", at),
        worker_idle_seconds=reader.number(data, "worker_idle_seconds", at),
    )


def _overhead(reader: _Reader, data: Mapping[str, Any]) -> Overhead:
    fixed = reader.mapping(data, "fixed_usd_per_month", "overhead")
    at = "overhead.fixed_usd_per_month"
    return Overhead(
        fixed_usd_per_month={key: float(reader.number(fixed, key, at)) for key in fixed},
        usd_per_task=reader.number(data, "usd_per_task", "overhead"),
        source=reader.source(data, "source", "overhead"),
    )
