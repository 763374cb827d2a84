"""Process helpers for tests: the same ones the local stack uses (``local_stack.processes``),
and the real ``python -m local_stack up`` (what `make up` runs) in the background."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from local_stack.processes import (
    ROOT,
    free_port,
    moto_server,
    running,
    spawn,
    stop,
    wait_for_http,
    wait_until_ready,
)
from local_stack.stack import stop_from_state

__all__ = [
    "ROOT",
    "free_port",
    "local_stack_up",
    "moto_server",
    "running",
    "spawn",
    "stop",
    "wait_for_http",
    "wait_until_ready",
]

READY_LINE = "is running locally"  # in the banner `make up` prints once everything runs


@contextlib.contextmanager
def local_stack_up(
    env: Mapping[str, str], output: Path, timeout: float = 240.0
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m local_stack up`` with ``env`` (MOTO_PORT, PORT, LOCAL_DIR, ...), its
    output in ``output``; yields once its banner is printed. On exit whatever it left
    running is stopped (as `make down` does)."""
    process = spawn([sys.executable, "-m", "local_stack", "up"], env=env, log_path=output)
    try:
        deadline = time.monotonic() + timeout
        while READY_LINE not in output.read_text(errors="replace"):
            said = output.read_text(errors="replace")
            assert process.poll() is None, f"make up exited:\n{said}"
            assert time.monotonic() < deadline, f"make up did not start:\n{said}"
            time.sleep(0.5)
        yield process
    finally:
        stop_from_state(Path(env["LOCAL_DIR"]))
        stop(process)
