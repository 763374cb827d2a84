"""A day of uploads through the fleet's real scaling decision, with and without the GPU server
draining the queue, on a simulated clock.

The trace (seeded, so every run replays the same day): idle night hours, a trickle of direct
requests and batch uploads in working hours, and bursts of batch jobs (a morning batch, a big
midday one, a small afternoon one, a night batch). Each second of the day:

* **direct requests** go to the always-on GPU server (one at a time); a request that finds it
  busy with a queued job waits for that job to end;
* **the server drains the queue** (``SERVER_DRAINS_QUEUE``) when it has no direct work: it
  takes the oldest job of the highest priority (modelled as the server helper builds it);
* **the fleet** is evaluated every minute as the group's policies do it:
  :func:`batch_worker.scaling.desired_capacity` (backlog per in-service worker against
  ``JOBS_PER_WORKER``; from no worker in service the first-worker step policy's
  ceil(backlog ÷ ``JOBS_PER_WORKER``) at once; ``MAX_WORKERS``). A launched worker is billed
  from launch and takes jobs after ``--boot-seconds`` (a cold boot: image pull, model load), or
  after ``--warm-boot-seconds`` when it comes from the group's warm pool (stopped,
  initialized instances: ``WORKER_WARM_POOL_SIZE`` prepared at most, default ``MAX_WORKERS``,
  minus the workers running; a worker leaving goes back to it; the pool's one-time
  initialization is not counted); scale-in removes only idle workers (a busy one is
  protected); a worker idle for ``IDLE_TIMEOUT_SECONDS`` terminates itself.

Printed side by side, in one run, for each mode (draining or not, warm pool or not; the
default deployment drains and has the warm pool):

* **idle ÷ busy GPU seconds**: idle = every billed second of a worker not transcribing (boot
  and idle time included: workers exist only for the queue) plus every second the server is
  idle *while jobs wait*; the server's idle time with an empty queue is not counted (it is
  kept for direct requests and paid for anyway). Busy = seconds any GPU transcribes.
  Target with draining: ≤ 0.1.
* **p95 wait of a batch job** (upload → a GPU starts it) against ``BATCH_LATENCY_TARGET_SECONDS``,
  and the longest a direct request waited behind a drained job.

The target ``JOBS_PER_WORKER`` comes from :func:`batch_worker.scaling.backlog_target`: the
latency target, less the time a worker asked for needs to take its first job (one
evaluation minute plus the warm start, as deployed), ÷ the mean job time (mean audio
seconds × ``--realtime-factor``, the workers' ``realtime_factor`` metric; 0.1 is a large-v3
float16 worker on an A10G-class GPU, measure yours). Every mode runs with that one setting.

    .venv/bin/python bench/bench_fleet.py [--realtime-factor 0.1] [--max-workers 20]
        [--warm-pool N (default: --max-workers)] [--boot-seconds 240]
        [--warm-boot-seconds 60] [--idle-timeout 300] [--jobs-per-worker N]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batch_worker.scaling import backlog_target, desired_capacity  # noqa: E402

DAY = 86_400
EVALUATION_SECONDS = 60  # the alarms' and target tracking's period
TARGET_IDLE_RATIO = 0.1
PRIORITIES = ("high", "normal", "low")


@dataclass(frozen=True)
class Upload:
    at: int  # second of the day
    audio_seconds: float
    direct: bool
    priority: str = "normal"


@dataclass
class Job:
    upload: Upload
    work_seconds: int
    started: int | None = None


@dataclass
class Gpu:
    """The server or one worker: billed from ``launched``, usable from ``ready``."""

    launched: int
    ready: int
    job: Job | None = None
    busy_until: int = 0
    idle_since: int = 0
    busy_seconds: int = 0
    idle_seconds: int = 0


@dataclass
class Outcome:
    idle_seconds: int = 0
    busy_seconds: int = 0
    boot_seconds: int = 0
    launches: int = 0
    peak_workers: int = 0
    batch_waits: list[int] = field(default_factory=list)
    direct_waits: list[int] = field(default_factory=list)

    @property
    def idle_ratio(self) -> float:
        return self.idle_seconds / self.busy_seconds if self.busy_seconds else math.inf

    def p95(self, waits: list[int]) -> float:
        if len(waits) < 2:
            return float(waits[0]) if waits else 0.0
        return statistics.quantiles(waits, n=20, method="inclusive")[18]


def day_trace(seed: int) -> list[Upload]:
    """Bursts and idle hours: the same day for every run with the same seed."""
    rng = random.Random(seed)
    uploads: list[Upload] = []

    def batch_audio() -> float:
        return min(3 * 3600.0, rng.lognormvariate(math.log(300), 0.8))

    def poisson(start_h: float, end_h: float, per_hour: float, direct: bool) -> None:
        t = start_h * 3600
        while True:
            t += rng.expovariate(per_hour / 3600)
            if t >= end_h * 3600:
                return
            audio = rng.uniform(5, 120) if direct else batch_audio()
            priority = "normal" if direct else rng.choice(PRIORITIES)
            uploads.append(Upload(int(t), audio, direct, priority))

    def burst(at_h: float, count: int, over_seconds: int, priority: str) -> None:
        for _ in range(count):
            at = int(at_h * 3600) + rng.randrange(over_seconds)
            uploads.append(Upload(at, batch_audio(), False, priority))

    poisson(0, 7, 1, direct=True)  # night: almost nothing
    poisson(7, 19, 30, direct=True)  # working hours: direct requests
    poisson(19, 24, 4, direct=True)
    poisson(8, 18, 6, direct=False)  # a trickle of batch uploads
    burst(9.5, 120, 120, "normal")  # the morning batch
    burst(13.0, 400, 300, "low")  # a big archive
    burst(16.25, 40, 60, "high")
    burst(22.0, 60, 600, "normal")  # the night batch
    return sorted(uploads, key=lambda u: u.at)


@dataclass
class Fleet:
    max_workers: int
    jobs_per_worker: int
    boot_seconds: int
    idle_timeout_seconds: int
    warm_pool: int = 0  # stopped, initialized instances now in the pool
    warm_boot_seconds: int = 60
    pool_size: int = 0  # the most prepared, running or warm (WORKER_WARM_POOL_SIZE)
    workers: list[Gpu] = field(default_factory=list)

    def in_service(self, now: int) -> list[Gpu]:
        return [w for w in self.workers if w.ready <= now]

    def evaluate(self, now: int, backlog: int, out: Outcome) -> None:
        """The group's policies, once a minute: launch up to desired, scale in idle workers."""
        desired = desired_capacity(
            backlog,
            len(self.in_service(now)),
            self.jobs_per_worker,
            self.max_workers,
            launched=len(self.workers),
        )
        for _ in range(desired - len(self.workers)):
            boot = self.boot_seconds
            if self.warm_pool > 0:  # a warm instance starts; it comes back on scale-in
                self.warm_pool -= 1
                boot = self.warm_boot_seconds
            self.workers.append(Gpu(launched=now, ready=now + boot, idle_since=now))
            out.launches += 1
        surplus = len(self.workers) - desired
        for worker in [w for w in self.in_service(now) if w.job is None]:
            if surplus <= 0:
                break
            self.leave(worker, now, out)  # unprotected (idle): scale-in may take it
            surplus -= 1
        out.peak_workers = max(out.peak_workers, len(self.workers))

    def leave(self, worker: Gpu, now: int, out: Outcome) -> None:
        self.workers.remove(worker)
        if self.pool_size:  # ReuseOnScaleIn, up to the prepared capacity minus those running
            self.warm_pool = max(0, min(self.pool_size - len(self.workers), self.warm_pool + 1))
        out.idle_seconds += worker.idle_seconds
        out.busy_seconds += worker.busy_seconds
        out.boot_seconds += min(now, worker.ready) - worker.launched

    def idle_leave(self, now: int, out: Outcome) -> None:
        """Workers idle for IDLE_TIMEOUT_SECONDS terminate themselves (with a decrement)."""
        for worker in list(self.in_service(now)):
            if worker.job is None and now - worker.idle_since >= self.idle_timeout_seconds:
                self.leave(worker, now, out)


class Queue:
    """The three priority queues: the oldest job of the highest priority comes first."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int, Job]] = []
        self._count = 0

    def put(self, job: Job) -> None:
        rank = PRIORITIES.index(job.upload.priority)
        heapq.heappush(self._heap, (rank, job.upload.at, self._count, job))
        self._count += 1

    def take(self) -> Job | None:
        return heapq.heappop(self._heap)[3] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


def start(gpu: Gpu, job: Job, now: int) -> None:
    job.started = now
    gpu.job = job
    gpu.busy_until = now + job.work_seconds


def tick(gpu: Gpu, now: int) -> None:
    """One second of ``gpu``: finish its job when due, count the second busy or idle."""
    if gpu.job is not None and now >= gpu.busy_until:
        gpu.job = None
        gpu.idle_since = now
    if gpu.job is not None:
        gpu.busy_seconds += 1


def replay(
    uploads: list[Upload], args: argparse.Namespace, *, drains: bool, warm_pool: int
) -> Outcome:
    out = Outcome()
    fleet = Fleet(
        args.max_workers,
        args.jobs_per_worker,
        args.boot_seconds,
        args.idle_timeout,
        warm_pool=warm_pool,
        warm_boot_seconds=args.warm_boot_seconds,
        pool_size=warm_pool,
    )
    server = Gpu(launched=0, ready=0)
    queue, direct = Queue(), deque[Job]()
    pending = deque(uploads)
    for now in range(DAY + 6 * 3600):  # the day, then time for the last jobs to finish
        while pending and pending[0].at <= now:
            upload = pending.popleft()
            job = Job(upload, max(1, round(upload.audio_seconds * args.realtime_factor)))
            if upload.direct:
                direct.append(job)
            else:
                queue.put(job)
        for gpu in (server, *fleet.workers):
            tick(gpu, now)
        if server.job is None and direct:
            job = direct.popleft()
            out.direct_waits.append(now - job.upload.at)
            start(server, job, now)
        elif server.job is None and drains and len(queue):
            job = queue.take()
            assert job is not None
            out.batch_waits.append(now - job.upload.at)
            start(server, job, now)
        for worker in fleet.in_service(now):
            if worker.job is None and len(queue):
                job = queue.take()
                assert job is not None
                out.batch_waits.append(now - job.upload.at)
                start(worker, job, now)
        for worker in fleet.workers:
            if worker.job is None:
                worker.idle_seconds += 1  # billed, not transcribing (booting included)
        if server.job is None and len(queue):
            out.idle_seconds += 1  # the server idles while jobs wait
        fleet.idle_leave(now, out)
        if now % EVALUATION_SECONDS == 0:
            fleet.evaluate(now, len(queue), out)
    for worker in list(fleet.workers):
        fleet.leave(worker, DAY + 6 * 3600, out)
    out.busy_seconds += server.busy_seconds
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--realtime-factor", type=float, default=0.1)
    parser.add_argument("--latency-target", type=float, default=900.0)
    parser.add_argument("--max-workers", type=int, default=20)
    parser.add_argument("--boot-seconds", type=int, default=240)
    parser.add_argument("--idle-timeout", type=int, default=300)
    parser.add_argument(
        "--warm-pool", type=int, default=None, help="WORKER_WARM_POOL_SIZE (default: MAX_WORKERS)"
    )
    parser.add_argument("--warm-boot-seconds", type=int, default=60)
    parser.add_argument("--jobs-per-worker", type=int, default=0, help="0: from the target")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    pool = args.max_workers if args.warm_pool is None else args.warm_pool
    uploads = day_trace(args.seed)
    batch = [u for u in uploads if not u.direct]
    mean_job = statistics.fmean(u.audio_seconds for u in batch) * args.realtime_factor
    start = args.warm_boot_seconds if pool else args.boot_seconds  # as deployed
    startup = EVALUATION_SECONDS + start
    if args.jobs_per_worker <= 0:
        args.jobs_per_worker = backlog_target(args.latency_target, mean_job, startup)
    print(
        f"trace: {len(uploads)} uploads ({len(batch)} batch jobs, {len(uploads) - len(batch)} "
        f"direct); mean batch job {mean_job:.0f} s at realtime factor {args.realtime_factor}"
    )
    print(
        f"JOBS_PER_WORKER = (BATCH_LATENCY_TARGET_SECONDS {args.latency_target:.0f} - startup "
        f"{startup} s: {EVALUATION_SECONDS} s evaluation + {start} s start) ÷ {mean_job:.0f} s "
        f"= {args.jobs_per_worker}; MAX_WORKERS {args.max_workers}, WORKER_WARM_POOL_SIZE "
        f"{pool}, cold boot {args.boot_seconds} s, warm start {args.warm_boot_seconds} s, "
        f"IDLE_TIMEOUT_SECONDS {args.idle_timeout}"
    )
    print(f"{'':>27} {'idle÷busy':>9} {'≤ 0.1':>6} {'p95 wait':>9} "
          f"{'≤ ' + str(round(args.latency_target)):>6} {'launches':>8} {'peak':>4} "
          f"{'boot s':>6} {'direct wait max':>15}")  # fmt: skip
    modes = {
        f"drains, warm pool {pool}": (True, pool),
        "drains, no warm pool": (True, 0),
        f"no draining, warm pool {pool}": (False, pool),
        "no draining, no warm pool": (False, 0),
    }
    for label, (drains, size) in modes.items():
        out = replay(uploads, args, drains=drains, warm_pool=size)
        p95 = out.p95(out.batch_waits)
        idle_met = "yes" if out.idle_ratio <= TARGET_IDLE_RATIO else "NO"
        p95_met = "yes" if p95 <= args.latency_target else "NO"
        print(
            f"{label:>27} {out.idle_ratio:>9.3f} {idle_met:>6} {p95:>8.0f}s {p95_met:>6} "
            f"{out.launches:>8} {out.peak_workers:>4} {out.boot_seconds:>6} "
            f"{max(out.direct_waits, default=0):>14}s"
        )
    print(
        f"targets: idle ÷ busy ≤ {TARGET_IDLE_RATIO} with the server draining; p95 batch wait "
        f"≤ BATCH_LATENCY_TARGET_SECONDS {args.latency_target:.0f} s. The first row is the "
        "default deployment."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
