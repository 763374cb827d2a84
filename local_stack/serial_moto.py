"""moto's server with its DynamoDB requests taken one at a time.

``python -m local_stack.serial_moto -p PORT`` (127.0.0.1 unless ``-H`` says otherwise).

moto's threaded server does not isolate concurrent DynamoDB writes: its
``transact_write_items`` checks conditions, writes, and on a failure restores a deep copy of
the tables taken at its start, with no lock (moto/dynamodb/models/__init__.py), so two
concurrent conditional writes can both pass, and a failed one can undo a winner's write.
DynamoDB itself checks and applies each write and transaction atomically. Serializing the
DynamoDB requests (and only those: S3 and SQS long polls keep their threads) gives moto that
atomicity, so tests of concurrent duplicate completions test the code, not moto's race,
and the local stack's jobs pump, jobs API and cancels (concurrent transactions on one job)
count every task once. The local stack and the jobs API tests run this server.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class SerialDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, the response read inside the lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        SerialDynamoDB(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
