"""Process helpers for tests: the same ones the local stack uses (``local_stack.processes``)."""

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

__all__ = [
    "ROOT",
    "free_port",
    "moto_server",
    "running",
    "spawn",
    "stop",
    "wait_for_http",
    "wait_until_ready",
]
