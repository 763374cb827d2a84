"""Real processes for the local stack, tests and benchmarks: free ports, start, wait, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for_http(url: str, timeout: float = 30.0, ok_statuses: tuple[int, ...] = (200,)) -> None:
    """Poll ``url`` until it answers with one of ``ok_statuses`` or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in ok_statuses:
                    return
                last = response.status
        except urllib.error.HTTPError as error:
            if error.code in ok_statuses:
                return
            last = error.code
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s (last: {last})")


def spawn(
    args: list[str], *, env: Mapping[str, str] | None = None, log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own process group (so stopping it stops its children too).

    Output goes to ``log_path`` (appended) or nowhere.
    """
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]


def wait_until_ready(
    process: subprocess.Popen[bytes], ready_url: str, timeout: float = 60.0
) -> None:
    """Wait for ``ready_url`` to answer 200; fail at once if the process exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            wait_for_http(ready_url, timeout=min(1.0, max(deadline - time.monotonic(), 0.1)))
            return
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise


@contextlib.contextmanager
def running(
    args: list[str],
    *,
    ready_url: str | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``args``, wait for ``ready_url``, and stop it (and its children) on exit."""
    process = spawn(args, env=env, log_path=log_path)
    try:
        if ready_url:
            wait_until_ready(process, ready_url, ready_timeout)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def moto_server(
    port: int | None = None,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """moto's server on 127.0.0.1: a real AWS endpoint over HTTP. Yields its URL.

    ``env``: moto's own settings, e.g. ``MOTO_DISABLE_GLOBAL_CORS=true`` (by default its
    server lets every origin in, whatever a bucket's CORS rules say)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(args, ready_url=f"{url}/moto-api/", env=env, log_path=log_path):
        yield url
