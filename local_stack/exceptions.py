"""Errors of the local stack, each naming what to read."""

from __future__ import annotations

from pathlib import Path

__all__ = ["MotoStopped", "StackError"]


class StackError(RuntimeError):
    """A step of bringing the stack up failed; ``log_path``, when known, says why."""

    def __init__(self, step: str, log_path: Path | None, detail: str = "") -> None:
        read = f" (read {log_path})" if log_path else ""
        super().__init__(f"{step} failed{': ' + detail if detail else ''}{read}")
        self.step = step
        self.log_path = log_path


class MotoStopped(RuntimeError):
    """moto's server died: its state (every bucket, queue and transcript) went with it."""

    def __init__(self, returncode: int | None, log_path: Path) -> None:
        super().__init__(
            f"moto (the local AWS endpoint) exited with status {returncode}: every bucket, "
            f"queue and transcript it held is gone, so nothing can be restarted onto it "
            f"(read {log_path})"
        )
        self.returncode = returncode
        self.log_path = log_path
