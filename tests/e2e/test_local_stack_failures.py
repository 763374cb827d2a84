"""`make demo` / `make up` failures name the step and the log to read, and exit non-zero."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT, free_port


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local_stack", "demo"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_busy_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        result = run_demo(
            {
                "MOTO_PORT": str(busy),
                "PORT": str(free_port()),
                "JOBS_API_PORT": str(free_port()),
                "LOCAL_DIR": str(tmp_path),
            }
        )
    assert result.returncode == 1
    assert f"checking ports failed: 127.0.0.1:{busy} is in use" in result.stdout
    assert "set MOTO_PORT" in result.stdout


def test_a_failing_deploy_step_is_named_with_its_log(tmp_path: Path) -> None:
    env = {
        "MOTO_PORT": str(free_port()),
        "PORT": str(free_port()),
        "JOBS_API_PORT": str(free_port()),
        "LOCAL_DIR": str(tmp_path),
        "LOCAL_BUCKET": "Not_A_Valid_Bucket!",
    }
    result = run_demo(env)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED:")]
    assert len(failed) == 1, result.stdout
    assert "step-0" in failed[0]
    assert f"(read {tmp_path / 'logs' / 'deploy.log'})" in failed[0]
    assert "AUDIO_BUCKET" in (tmp_path / "logs" / "deploy.log").read_text()
