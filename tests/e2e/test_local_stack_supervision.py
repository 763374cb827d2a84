"""`make up` supervises: a service that dies is started again, moto's death ends the stack.

Most tests use real processes in the services' places (a Python that sleeps, or one that
exits at once), started and watched by the stack's own Stack and Supervisor; a settable
clock drives the backoff so no test waits for it. The last one runs the real `make up`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.banner import write_env_file
from local_stack.exceptions import MotoStopped
from local_stack.settings import LocalSettings
from local_stack.stack import Stack
from local_stack.supervisor import Supervisor
from tests.support.processes import free_port, local_stack_up, spawn, stop
from transcription.exceptions import SettingsError

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def said() -> list[str]:
    return []


@pytest.fixture
def stack(tmp_path: Path, said: list[str]) -> Iterator[Stack]:
    settings = LocalSettings(
        local_dir=str(tmp_path / "local"),
        restart_backoff_seconds=1.0,
        restart_backoff_max_seconds=4.0,
        restart_reset_seconds=60.0,
    )
    stack = Stack(
        settings,
        say=said.append,
        commands={"server": SLEEPER, "worker": SLEEPER},
    )
    stack.logs.mkdir(parents=True)
    stack.processes["moto"] = spawn(SLEEPER)  # moto's place: a process that must stay up
    try:
        yield stack
    finally:
        stack.stop()


def wait_for_exit(stack: Stack, name: str) -> None:
    stack.processes[name].wait(timeout=10)


def state(stack: Stack) -> dict[str, dict[str, int]]:
    return dict(json.loads(stack.state_file.read_text()))


def test_a_killed_service_is_started_again_and_counted(stack: Stack, said: list[str]) -> None:
    for name in ("server", "worker"):
        stack.start_service(name, wait=False)
    clock = Clock()
    supervisor = Supervisor(stack, clock=clock)
    moto, worker, server = (stack.processes[n] for n in ("moto", "worker", "server"))

    os.kill(server.pid, signal.SIGKILL)
    wait_for_exit(stack, "server")
    supervisor.check()
    assert "server exited with status -9 after 0 s; restarting it in 1 s" in said[-1]
    assert "server restarting in 1 s" in said[-1]
    clock.now += 0.5
    supervisor.check()  # the backoff has not passed yet
    assert stack.processes["server"] is server
    clock.now += 0.5
    supervisor.check()

    restarted = stack.processes["server"]
    assert restarted is not server and restarted.poll() is None
    assert stack.processes["worker"] is worker and stack.processes["moto"] is moto
    assert worker.poll() is None and moto.poll() is None
    assert "server started again (restart 1)" in said[-1]
    assert "status: moto up · server up (1 restart) · worker up" in said[-1]
    assert state(stack)["restarts"] == {"server": 1}
    assert state(stack)["pids"]["server"] == restarted.pid
    log = stack.log_path("server").read_text()
    assert "=== restart 1 by the local stack (the previous process exited with -9)" in log


def test_a_crash_loop_backs_off_doubling_up_to_the_maximum(stack: Stack, said: list[str]) -> None:
    stack.commands["worker"] = CRASHER
    stack.start_service("worker", wait=False)
    clock = Clock()
    supervisor = Supervisor(stack, clock=clock)
    delays = []
    for _ in range(4):
        wait_for_exit(stack, "worker")
        supervisor.check()
        delay = float(re.findall(r"restarting it in (\d+) s", said[-1])[0])
        delays.append(delay)
        clock.now += delay
        supervisor.check()
    assert delays == [1.0, 2.0, 4.0, 4.0]
    assert stack.restarts == {"worker": 4}
    assert [supervisor.backoff(n) for n in (1, 2, 3, 9)] == [1.0, 2.0, 4.0, 4.0]


def test_a_service_that_ran_long_enough_starts_a_new_row(stack: Stack, said: list[str]) -> None:
    stack.start_service("worker", wait=False)
    clock = Clock()
    supervisor = Supervisor(stack, clock=clock)
    for _ in range(2):  # two quick crashes: the second restart waits 2 s
        os.kill(stack.processes["worker"].pid, signal.SIGKILL)
        wait_for_exit(stack, "worker")
        supervisor.check()
        clock.now += 4
        supervisor.check()
    exits = [message for message in said if " exited with status " in message]
    assert "restarting it in 2 s" in exits[-1]
    clock.now += 61  # ran longer than RESTART_RESET_SECONDS: back to the first wait
    os.kill(stack.processes["worker"].pid, signal.SIGKILL)
    wait_for_exit(stack, "worker")
    supervisor.check()
    assert "after 61 s; restarting it in 1 s" in said[-1]


def test_a_service_stopped_on_purpose_is_left_stopped(stack: Stack) -> None:
    stack.start_service("server", wait=False)
    stack.start_service("worker", wait=False)
    clock = Clock()
    supervisor = Supervisor(stack, clock=clock)
    stack.stop_service("server")  # as `make demo` does for the batch path
    clock.now += 10
    supervisor.check()
    assert "server" not in stack.processes
    assert supervisor.status_line() == "status: moto up · server stopped · worker up"


def test_moto_dying_ends_the_supervision_saying_its_state_is_gone(stack: Stack) -> None:
    stack.start_service("worker", wait=False)
    supervisor = Supervisor(stack, clock=Clock())
    worker = stack.processes["worker"]
    os.kill(stack.processes["moto"].pid, signal.SIGKILL)
    wait_for_exit(stack, "moto")
    with pytest.raises(MotoStopped) as raised:
        supervisor.check()
    message = str(raised.value)
    assert "moto (the local AWS endpoint) exited with status -9" in message
    assert "every bucket, queue and transcript it held is gone" in message
    assert str(stack.log_path("moto")) in message
    assert stack.processes["worker"] is worker and worker.poll() is None  # no restart of moto
    stack.stop()
    assert worker.poll() is not None and not stack.processes


def test_restart_settings_are_validated() -> None:
    with pytest.raises(SettingsError, match="RESTART_BACKOFF_MAX_SECONDS"):
        LocalSettings(restart_backoff_seconds=5.0, restart_backoff_max_seconds=1.0)
    with pytest.raises(SettingsError, match="RESTART_RESET_SECONDS"):
        LocalSettings(restart_reset_seconds=0)


# --- .local/env.sh holds the API key: 0600 ---------------------------------------------


def env_stack(tmp_path: Path) -> Stack:
    stack = Stack(LocalSettings(local_dir=str(tmp_path / "local")), say=lambda _: None)
    stack.env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5055",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "API_KEY": stack.api_key,
    }
    return stack


def test_env_file_is_private_even_with_an_open_umask(tmp_path: Path) -> None:
    stack = env_stack(tmp_path)
    old_umask = os.umask(0)
    try:
        write_env_file(stack)
    finally:
        os.umask(old_umask)
    path = stack.root / "env.sh"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"export API_KEY='{stack.api_key}'" in path.read_text()
    assert [p.name for p in stack.root.iterdir()] == ["env.sh"]  # no temporary file left


def test_an_older_readable_env_file_is_replaced_never_opened_for_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = env_stack(tmp_path)
    path = stack.root / "env.sh"
    path.parent.mkdir(parents=True)
    path.write_text("export API_KEY='old'\n")
    path.chmod(0o644)
    old_inode = path.stat().st_ino
    modes_at_replace = []
    real_replace = os.replace

    def replace(source: str, target: Path) -> None:
        # The moment the key becomes visible under its name, the file is already private.
        modes_at_replace.append(stat.S_IMODE(os.stat(source).st_mode))
        assert "old" in Path(target).read_text()  # the old file was not rewritten in place
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    write_env_file(stack)
    assert modes_at_replace == [0o600]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != old_inode
    assert stack.api_key in path.read_text()


def test_stop_stops_what_a_restart_started(stack: Stack) -> None:
    stack.start_service("worker", wait=False)
    clock = Clock()
    supervisor = Supervisor(stack, clock=clock)
    os.kill(stack.processes["worker"].pid, signal.SIGKILL)
    wait_for_exit(stack, "worker")
    supervisor.check()
    clock.now += 1
    supervisor.check()
    restarted = stack.processes["worker"]
    stack.stop()
    assert restarted.poll() is not None
    assert not stack.state_file.exists()
    stop(restarted)  # already stopped: a no-op


# --- the real `make up` ------------------------------------------------------------------


@pytest.mark.slow
def test_make_up_stops_everything_when_moto_dies_saying_its_state_is_gone(
    tmp_path: Path,
) -> None:
    local_dir = tmp_path / "local"
    env = {
        "MOTO_PORT": str(free_port()),
        "PORT": str(free_port()),
        "JOBS_API_PORT": str(free_port()),
        "LOCAL_DIR": str(local_dir),
    }
    output = tmp_path / "up.out"
    with local_stack_up(env, output) as up:
        assert stat.S_IMODE((local_dir / "env.sh").stat().st_mode) == 0o600
        pids = json.loads((local_dir / "stack.json").read_text())["pids"]
        os.kill(pids["worker"], signal.SIGKILL)  # a service: started again, the stack stays
        deadline = time.monotonic() + 30
        while "worker started again (restart 1)" not in output.read_text():
            assert up.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        pids = json.loads((local_dir / "stack.json").read_text())["pids"]
        os.kill(pids["moto"], signal.SIGKILL)
        assert up.wait(timeout=90) == 1
    said = output.read_text()
    assert "moto (the local AWS endpoint) exited with status -9" in said
    assert "every bucket, queue and transcript it held is gone" in said
    assert "stopping everything" in said
    assert not (local_dir / "stack.json").exists()
    assert set(pids) == {"moto", "server", "pump", "worker", "jobs-api", "jobs-pump"}
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # stopped and reaped: nothing the stack started is left
