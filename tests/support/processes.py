"""Process helpers for tests: the same ones the local stack uses (``local_stack.processes``)."""

from local_stack.processes import ROOT, free_port, moto_server, running, stop, wait_for_http

__all__ = ["ROOT", "free_port", "moto_server", "running", "stop", "wait_for_http"]
