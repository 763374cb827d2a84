"""CloudWatch metrics as embedded-metric-format (EMF) log lines: no API call per event.

One JSON line per routed object on stdout. It is the object's result record too (route,
reason, key, output key, attempts, elapsed time), and CloudWatch turns its ``_aws``
directive into the metrics ``events``, ``elapsed_ms`` and ``attempts`` by ``route`` and by
``route`` × ``reason``. See
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["Metrics"]

METRICS = (
    {"Name": "events", "Unit": "Count"},
    {"Name": "elapsed_ms", "Unit": "Milliseconds"},
    {"Name": "attempts", "Unit": "Count"},
)
DIMENSIONS = (("route",), ("route", "reason"))


class Metrics:
    def __init__(
        self, namespace: str, service: str = "lambda-router", stream: TextIO | None = None
    ) -> None:
        self.namespace = namespace
        self.service = service
        self.stream = stream
        self._lock = threading.Lock()

    def emit(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``record`` (it holds ``route``, ``reason``, ``elapsed_ms``, ``attempts``)."""
        line: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [list(d) for d in DIMENSIONS],
                        "Metrics": [dict(m) for m in METRICS],
                    }
                ],
            },
            "service": self.service,
            "level": "INFO",
            "message": f"{record.get('route')}: {record.get('reason')}",
            "events": 1,
            **record,
        }
        text = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(text)
            stream.flush()
        return line
