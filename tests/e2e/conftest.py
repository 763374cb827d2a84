"""The local stack (`make up`) of the end-to-end tests, started once and shared.

``test_local_stack.py`` (uploads) and ``test_local_stack_jobs.py`` (the jobs API) drive the
same processes: moto's server, the deploy scripts, the FastAPI server with tiny.en, the event
pump calling the router, the batch worker (one), the jobs API and the jobs pump, all on
127.0.0.1 as `make up` starts them. Tests that start stacks of their own (supervision,
chaos) define their own fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.settings import LocalSettings
from local_stack.stack import Stack
from tests.support.processes import free_port


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = LocalSettings(
        moto_port=free_port(),
        port=free_port(),
        jobs_api_port=free_port(),
        local_dir=str(tmp_path_factory.mktemp("local-stack")),
        concurrency=1,
        pump_concurrency=4,
    )
    stack = Stack(settings, say=lambda message: None)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
