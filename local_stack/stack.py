"""Bring the whole product up on 127.0.0.1, with no cloud account.

moto's server stands in for AWS; the numbered deploy scripts create the resources in it
(local mode: the EventBridge rules target SQS queues); then the FastAPI server (tiny.en on
the CPU), the event pump (EventBridge → router Lambda stand-in), the batch worker, the jobs
API (uvicorn) and the jobs pump (the stand-in for the tracker's and the webhook sender's
Lambda triggers) run as processes. Every process's output goes to
``.local/logs/<name>.log``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_stack.exceptions import StackError
from local_stack.files import write_atomically
from local_stack.jobs_client import JobsClient
from local_stack.processes import ROOT, port_in_use, spawn, stop, wait_until_ready
from local_stack.settings import LocalSettings
from transcription.aws import make_client
from transcription.settings import AwsSettings

__all__ = ["LOCAL_STEPS", "SERVICES", "Stack", "read_config", "stop_from_state"]

log = logging.getLogger(__name__)

# The deploy steps that make sense against moto's server, in order. The GPU instance and
# the Lambda code steps are left out: locally the server and the router run as processes.
LOCAL_STEPS: tuple[tuple[str, ...], ...] = (
    ("step-000-setup-configuration.sh", "--non-interactive"),
    ("step-001-validate-configuration.sh",),
    ("step-020-create-sqs-resources.sh",),
    ("step-030-create-s3-bucket.sh",),
    ("step-341-configure-eventbridge-trigger.sh",),
    ("step-360-create-jobs-tables.sh",),
    ("step-361-validate-jobs-tables.sh",),
    ("step-375-configure-result-events.sh",),
)

# name → module run with ``python -m``; the server is ready when /health answers 200, the
# jobs API when /v1/health does.
SERVICES = {
    "server": "fastapi_server",
    "pump": "lambda_router.pump",
    "worker": "batch_worker",
    "jobs-api": "jobs_api",
    "jobs-pump": "local_stack.jobs_pump",
}
READY_PATHS = {"server": "/health", "jobs-api": "/v1/health"}
ADMIN_KEY_FILE = "jobs-admin-key"
CONSOLE_OWNER = "console"  # the owner of the key `make up` issues for the web console


def read_config(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a config.env (quotes stripped, comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        parts = shlex.split(value, comments=True) if value.strip() else [""]
        values[name.strip().removeprefix("export ").strip()] = parts[0] if parts else ""
    return values


@dataclass
class Stack:
    settings: LocalSettings = field(default_factory=LocalSettings)
    say: Callable[[str], None] = lambda message: print(message, file=sys.stderr)  # noqa: T201
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    env: dict[str, str] = field(default_factory=dict)
    # name → command of each service (default: ``python -m`` of its module in SERVICES)
    commands: dict[str, list[str]] = field(
        default_factory=lambda: {name: [sys.executable, "-m", m] for name, m in SERVICES.items()}
    )
    restarts: dict[str, int] = field(default_factory=dict)  # by the supervisor, per service
    console_key: str | None = None  # issued at start-up for the web console (jobs:read+write)

    # --- paths -------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return ROOT / self.settings.local_dir

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config_file(self) -> Path:
        return self.root / "config.env"

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.moto_port}"

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def jobs_api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.jobs_api_port}"

    @property
    def admin_key(self) -> str:
        """The jobs API's bootstrap admin key: made once, kept in ``.local/`` (0600)."""
        path = self.root / ADMIN_KEY_FILE
        if not path.exists():
            write_atomically(path, secrets.token_urlsafe(32), mode=0o600)
        return path.read_text().strip()

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's local endpoint, with its stand-in credentials."""
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        aws = AwsSettings(aws_region=self.settings.aws_region, aws_endpoint_url=self.endpoint)
        return make_client(service, aws, session=session)

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """moto → deploy scripts → server, pump, worker. Raises StackError naming the step."""
        for name, port in (
            ("MOTO_PORT", self.settings.moto_port),
            ("PORT", self.settings.port),
            ("JOBS_API_PORT", self.settings.jobs_api_port),
        ):
            if port_in_use(port):
                raise StackError(
                    "checking ports",
                    None,
                    f"127.0.0.1:{port} is in use (is `make up` running? `make down` stops it; "
                    f"or set {name})",
                )
        self.logs.mkdir(parents=True, exist_ok=True)
        for old in self.logs.glob("*.log"):
            old.unlink()
        self.env = self._base_env()
        self._start_moto()
        self.deploy()
        self.env.update(read_config(self.config_file))
        self.env.update(self._process_env())
        self.allow_console_uploads()
        for name in self.commands:
            self.start_service(name)
        if "jobs-api" in self.commands:
            self.console_key = JobsClient(self.jobs_api_url, self.admin_key).issue_key(
                CONSOLE_OWNER
            )["key"]

    @property
    def console_url(self) -> str:
        return f"{self.jobs_api_url}/console"

    def allow_console_uploads(self) -> None:
        """A CORS rule on the local buckets: the console (the jobs API's origin) PUTs uploads
        to presigned URLs and GETs transcripts and audio from moto's, another origin. On AWS
        the bucket's CORS rule comes from the deploy steps."""
        s3 = self.client("s3")
        origins = [self.jobs_api_url, f"http://localhost:{self.settings.jobs_api_port}"]
        rule = {
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 600,
        }
        buckets = {self.env["AUDIO_BUCKET"], self.env.get("TRANSCRIPT_BUCKET") or ""} - {""}
        for bucket in sorted(buckets):
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})

    def _base_env(self) -> dict[str, str]:
        s = self.settings
        return {
            "CONFIG_FILE": str(self.config_file),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": s.aws_region,
            "AWS_DEFAULT_REGION": s.aws_region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": str(self.root / "aws" / "config"),
            "PROJECT_NAME": s.local_project,
            "AUDIO_BUCKET": s.local_bucket,
            "SERVER_URL": self.server_url,
            "API_KEY": self.api_key,
            "API_KEYS": self.api_key,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def _process_env(self) -> dict[str, str]:
        """Settings of the local processes that the deploy config does not hold."""
        s = self.settings
        return {
            "HOST": "127.0.0.1",
            "PORT": str(s.port),
            "MODEL": s.model,
            "DEVICE": "cpu",
            "ENGINE": "faster-whisper",
            "CONCURRENCY": str(s.concurrency),
            "PUMP_CONCURRENCY": str(s.pump_concurrency),
            "SERVER_URL": self.server_url,
            "API_KEY": self.api_key,
            "API_KEYS": self.api_key,
            "PYTHONUNBUFFERED": "1",
            # One shared 2-core box runs the model, moto and the router side by side: give
            # the health check more time than a GPU box would need, and let the breaker
            # retry sooner, so a busy moment does not send everything to the queue.
            "HEALTH_TIMEOUT_SECONDS": "3",
            "BREAKER_COOLDOWN_SECONDS": "5",
            # The jobs API and the jobs pump (the queues and tables come from config.env).
            "JOBS_API_HOST": "127.0.0.1",
            "JOBS_API_PORT": str(s.jobs_api_port),
            "JOBS_API_URL": self.jobs_api_url,
            "JOBS_ADMIN_KEY": self.admin_key,
            "WEBHOOK_ALLOW_LOOPBACK": "true",  # local only: a receiver on 127.0.0.1
        }

    def _start_moto(self) -> None:
        args = [
            sys.executable,
            "-m",
            "local_stack.serial_moto",  # moto's server, DynamoDB made atomic as on AWS
            "-H",
            "127.0.0.1",
            "-p",
            str(self.settings.moto_port),
        ]
        # Without this moto's server answers every origin's CORS preflight itself; with it
        # the buckets' CORS rules decide, as on AWS (allow_console_uploads sets the rule).
        cors = {"MOTO_DISABLE_GLOBAL_CORS": "true"}
        self._launch("moto", args, ready_url=f"{self.endpoint}/moto-api/", env=cors)

    def deploy(self) -> None:
        """Run the local deploy steps; the first failure raises StackError."""
        self.config_file.unlink(missing_ok=True)
        deploy_log = self.log_path("deploy")
        for step, *args in LOCAL_STEPS:
            self.say(f"  deploy: {step}")
            with deploy_log.open("ab") as out:
                out.write(f"\n=== {step} {' '.join(args)}\n".encode())
                out.flush()
                result = subprocess.run(
                    ["bash", str(ROOT / "scripts" / step), *args],
                    cwd=ROOT,
                    env={**os.environ, **self.env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            if result.returncode != 0:
                raise StackError(step, deploy_log, f"exit status {result.returncode}")

    def start_service(self, name: str, *, wait: bool = True) -> None:
        """Start service ``name``; ``wait``: until its health check (READY_PATHS) answers 200."""
        base = self.jobs_api_url if name == "jobs-api" else self.server_url
        ready = f"{base}{READY_PATHS[name]}" if name in READY_PATHS and wait else None
        self._launch(name, self.commands[name], ready_url=ready)

    def restart_service(self, name: str, previous_exit: int | None) -> None:
        """Start ``name`` again after it died (counted; the log says so), without waiting."""
        self.restarts[name] = self.restarts.get(name, 0) + 1
        with self.log_path(name).open("ab") as out:
            out.write(
                f"\n=== restart {self.restarts[name]} by the local stack "
                f"(the previous process exited with {previous_exit})\n".encode()
            )
        self.start_service(name, wait=False)

    def _launch(
        self,
        name: str,
        args: list[str],
        ready_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.say(f"  start: {name}")
        process = spawn(args, env={**self.env, **(env or {})}, log_path=self.log_path(name))
        self.processes[name] = process
        self._write_state()
        if ready_url:
            try:
                wait_until_ready(process, ready_url, timeout=120)
            except (RuntimeError, TimeoutError) as error:
                raise StackError(f"starting {name}", self.log_path(name), str(error)) from None

    def stop_service(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            stop(process)
        self._write_state()

    def stop(self) -> None:
        """Stop every process this stack started, the services first and moto last."""
        for name in [*reversed([n for n in self.processes if n != "moto"]), "moto"]:
            self.stop_service(name)
        self.state_file.unlink(missing_ok=True)

    def _write_state(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        pids = {name: p.pid for name, p in self.processes.items()}
        state = {"owner": os.getpid(), "pids": pids, "restarts": self.restarts}
        write_atomically(self.state_file, json.dumps(state, indent=2))


def stop_from_state(local_dir: Path, timeout: float = 60.0) -> list[str]:
    """`make down`: ask the running `make up` to stop everything, in order.

    If that process is gone (killed), stop the process groups it recorded instead.
    """
    state_file = local_dir / "stack.json"
    if not state_file.exists():
        return []
    state = json.loads(state_file.read_text())
    names = list(state["pids"])
    try:
        os.kill(state["owner"], signal.SIGTERM)
    except ProcessLookupError:
        pass
    else:
        deadline = time.monotonic() + timeout
        while state_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not state_file.exists():
            return names
    stopped = []
    for name, pid in state["pids"].items():
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped.append(name)
        except ProcessLookupError:
            continue
    state_file.unlink(missing_ok=True)
    return stopped
