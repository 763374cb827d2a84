"""`make up`'s supervision: a service that dies is started again; moto's death ends the stack.

moto's server holds every bucket, queue and transcript in memory, so it is never restarted
(a new one would be empty) and nothing else is stopped for a crashed server, pump or worker:
each is started again after a backoff (RESTART_BACKOFF_SECONDS, doubled for each crash in a
row, at most RESTART_BACKOFF_MAX_SECONDS; a process that ran RESTART_RESET_SECONDS starts a
new row). Every crash and restart is said with a status line counting the restarts, and the
restarts are recorded in ``stack.json`` next to the process ids.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from local_stack.exceptions import MotoStopped
from local_stack.stack import Stack

__all__ = ["Supervisor"]


@dataclass
class _Watch:
    """What the supervisor knows of one service."""

    process: subprocess.Popen[bytes] | None
    started: float
    crashes_in_a_row: int = 0
    restart_at: float | None = None  # set while a dead service waits for its restart
    last_exit: int | None = None


class Supervisor:
    def __init__(
        self,
        stack: Stack,
        *,
        say: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.settings = stack.settings
        self.say = say or stack.say
        self.clock = clock
        now = clock()
        self._watches = {
            name: _Watch(stack.processes.get(name), started=now) for name in stack.commands
        }

    def backoff(self, crashes_in_a_row: int) -> float:
        """Seconds to wait before restarting a service after its n-th crash in a row."""
        s = self.settings
        delay = s.restart_backoff_seconds * 2 ** max(crashes_in_a_row - 1, 0)
        return float(min(s.restart_backoff_max_seconds, delay))

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Check every ``interval`` seconds until ``stop`` is set; raises MotoStopped."""
        while not stop.wait(interval):
            self.check()

    def check(self) -> None:
        """One look at every process: MotoStopped if moto is gone; else restart what is due."""
        moto = self.stack.processes.get("moto")
        if moto is not None and moto.poll() is not None:
            raise MotoStopped(moto.returncode, self.stack.log_path("moto"))
        now = self.clock()
        for name, watch in self._watches.items():
            process = self.stack.processes.get(name)
            if process is None:  # stopped on purpose: nothing to watch
                continue
            if process is not watch.process:  # started by someone else (e.g. the demo)
                watch.process, watch.started, watch.restart_at = process, now, None
            if watch.restart_at is None and process.poll() is not None:
                self._died(name, watch, process.returncode, now)
            elif watch.restart_at is not None and now >= watch.restart_at:
                self._restart(name, watch, now)

    def _died(self, name: str, watch: _Watch, returncode: int | None, now: float) -> None:
        ran = now - watch.started
        in_a_row = ran < self.settings.restart_reset_seconds
        watch.crashes_in_a_row = watch.crashes_in_a_row + 1 if in_a_row else 1
        watch.last_exit = returncode
        delay = self.backoff(watch.crashes_in_a_row)
        watch.restart_at = now + delay
        self._say(
            f"{name} exited with status {returncode} after {ran:.0f} s; restarting it in "
            f"{delay:g} s (read {self.stack.log_path(name)})"
        )

    def _restart(self, name: str, watch: _Watch, now: float) -> None:
        self.stack.restart_service(name, watch.last_exit)
        watch.process, watch.started, watch.restart_at = self.stack.processes[name], now, None
        self._say(f"{name} started again (restart {self.stack.restarts[name]})")

    def status_line(self) -> str:
        parts = ["moto up"]
        now = self.clock()
        for name, watch in self._watches.items():
            if name not in self.stack.processes:
                state = "stopped"
            elif watch.restart_at is not None:
                state = f"restarting in {round(max(watch.restart_at - now, 0), 1):g} s"
            else:
                state = "up"
            restarts = self.stack.restarts.get(name, 0)
            counted = f" ({restarts} restart{'s' if restarts != 1 else ''})" if restarts else ""
            parts.append(f"{name} {state}{counted}")
        return "status: " + " · ".join(parts)

    def _say(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.say(f"[{stamp}] {message}\n[{stamp}] {self.status_line()}")
