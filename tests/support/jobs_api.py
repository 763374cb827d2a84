"""The jobs API for tests: its settings on moto's server, and the real app served by uvicorn.

``serve(app)`` runs uvicorn on 127.0.0.1:<free port> in a thread of the test process: a
real HTTP server, with the app's clients and DNS resolver injected by the test.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from tests.support.processes import free_port

__all__ = ["serve"]


@contextlib.contextmanager
def serve(app: Any, timeout: float = 15.0) -> Iterator[str]:
    """Serve ``app`` (its lifespan included); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
