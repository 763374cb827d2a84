"""`python -m local_stack up | down | demo` (what `make up`, `make down`, `make demo` run)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from local_stack.banner import banner
from local_stack.demo import run_demo, summary
from local_stack.exceptions import MotoStopped, StackError
from local_stack.settings import LocalSettings
from local_stack.stack import Stack, stop_from_state
from local_stack.supervisor import Supervisor
from transcription.settings import load


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201  (this is the command's output)


def up(stack: Stack) -> int:
    """Start everything and supervise it until Ctrl-C, `make down` or moto's death.

    A service that dies is started again (see local_stack.supervisor); only moto's death
    stops everything (exit status 1), since its state is gone with it.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # while starting: stop at once
    stack.start()
    say(banner(stack))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `make down`: stop in order
    try:
        Supervisor(stack, say=say).run(stop)
    except MotoStopped as error:
        say(f"\n{error}; stopping everything.")
        return 1
    return 0


def demo(stack: Stack) -> int:
    started = time.monotonic()
    stack.start()
    rows = run_demo(stack)
    say("\n" + summary(rows))
    say(f"\ndemo finished in {time.monotonic() - started:.0f} s; logs in {stack.logs}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "demo"])
    args = parser.parse_args(argv)
    settings = load(LocalSettings)
    stack = Stack(settings, say=say)
    if args.command == "down":
        stopped = stop_from_state(stack.root)
        say(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    try:
        return up(stack) if args.command == "up" else demo(stack)
    except StackError as error:
        say(f"\nFAILED: {error}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        say("stopping the local stack…")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
