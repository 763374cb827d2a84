"""The deploy steps run as a user runs them, against a moto server (local mode).

:class:`Deployment` is one project's configuration (its ``CONFIG_FILE``, environment and
moto endpoint): ``step("370")`` runs ``scripts/step-370-*.sh`` as a process and logs its
output to ``steps.log``; ``client("lambda")`` is boto3 on the same endpoint to check what the
steps made. Shared by ``tests/integration/test_deploy_scripts.py`` and
``test_deploy_jobs_api.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local_stack.stack import read_config
from tests.support.processes import ROOT, free_port

__all__ = [
    "REGION",
    "SCRIPTS",
    "SKIPS",
    "Deployment",
    "StepResult",
    "local_deployment",
    "local_env",
    "step_env",
]

SCRIPTS = ROOT / "scripts"
REGION = "us-east-1"
# What a step that is allowed to be skipped here must say about why.
SKIPS = {
    "301": "no Docker engine",
    "331": "no server answers",
    "342": "the local stack is not running",
}
LOG_LOCK = threading.Lock()


def local_env(url: str, home: Path, config: Path, project: str) -> dict[str, str]:
    """What a user's shell gives the steps in local mode: moto's endpoint and stand-in
    credentials, a HOME without the machine user's ~/.aws/config, the config file and the
    project (its audio bucket named after it)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CONFIG_FILE": str(config),
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PROJECT_NAME": project,
        "AUDIO_BUCKET": f"{project}-audio",
    }


@dataclass
class StepResult:
    step: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def changes(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if ": changed: " in line]


@dataclass
class Deployment:
    url: str
    env: dict[str, str]
    config: Path
    project: str
    port: int
    zip_note: str
    log_dir: Path
    unrelated: dict[str, str] = field(default_factory=dict)
    results: dict[str, list[StepResult]] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return self.env["AUDIO_BUCKET"]

    def values(self) -> dict[str, str]:
        return read_config(self.config)

    def client(self, service: str, key: str = "testing", secret: str = "testing") -> Any:
        session = boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
        )
        config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard"})
        return session.client(service, endpoint_url=self.url, config=config)

    def step(self, number: str, *args: str, env: dict[str, str] | None = None) -> StepResult:
        (path,) = SCRIPTS.glob(f"step-{number}-*.sh")
        if number == "000" and not args:
            args = ("--non-interactive",)
        done = subprocess.run(
            ["bash", str(path), *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result = StepResult(number, done.returncode, done.stdout, done.stderr)
        with LOG_LOCK, (self.log_dir / "steps.log").open("a") as log:
            log.write(f"=== step-{number} {' '.join(args)} → {done.returncode}\n{done.stderr}\n")
        return result

    def run_ok(self, steps: list[str], phase: str, *, parallel: int = 1) -> list[StepResult]:
        """Run ``steps`` in order (``parallel`` > 1: read-only steps, two at a time)."""
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            results = list(pool.map(self.step, steps))
        for result in results:
            number = result.step
            assert result.returncode == 0, f"{phase}: step-{number} failed:\n{result.stderr}"
            if number in SKIPS and "skipped" in result.stderr:
                assert SKIPS[number] in result.stderr, result.stderr
        self.results[phase] = results
        return results

    def record(self, name: str, value: str) -> None:
        """Set NAME in config.env as a step records it (scripts/lib/config_file.py)."""
        config_file = SCRIPTS / "lib" / "config_file.py"
        subprocess.run(
            [sys.executable, str(config_file), "set", str(self.config), name, value],
            check=True,
            capture_output=True,
        )


def step_env(work: Path, url: str, project: str, **settings: str) -> dict[str, str]:
    """The environment the steps run in, in local mode against moto's server at ``url``
    (step-000 writes these settings into ``work``/config.env)."""
    (work / "home").mkdir(exist_ok=True)
    return {
        **local_env(url, work / "home", work / "config.env", project),
        "PORT": str(free_port()),
        # moto's image list has no "Deep Learning Base OSS" AMI; it has this one.
        "GPU_AMI_NAME": "Deep Learning AMI Ubuntu*",
        "POLL_SECONDS": "1",
        **settings,
    }


def local_deployment(
    work: Path, url: str, project: str, note: str, env: dict[str, str]
) -> Deployment:
    return Deployment(url, env, work / "config.env", project, int(env["PORT"]), note, work)
