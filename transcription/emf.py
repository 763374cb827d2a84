"""CloudWatch Embedded Metric Format (EMF): metrics carried by a JSON log line, no API call.

A line whose ``_aws`` member declares a namespace, dimension sets and metric names becomes
CloudWatch metrics once it reaches CloudWatch Logs; the dimensions and metric values are
plain members of the same line. :class:`MetricSchema` builds that member (declaring only
the metrics the line carries); :class:`EmfWriter` writes whole lines to a stream. See
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["EmfWriter", "MetricSchema"]


@dataclass(frozen=True)
class MetricSchema:
    """What a kind of line declares: its dimension sets and each metric's unit."""

    dimensions: tuple[tuple[str, ...], ...]
    units: tuple[tuple[str, str], ...]  # (metric name, CloudWatch unit), in declaration order

    def directive(self, namespace: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The ``_aws`` member for a line holding ``values``."""
        return {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(d) for d in self.dimensions],
                    "Metrics": [
                        {"Name": name, "Unit": unit} for name, unit in self.units if name in values
                    ],
                }
            ],
        }


class EmfWriter:
    """Writes one EMF line per call to ``stream`` (default: stdout at the time of writing)."""

    def __init__(self, namespace: str, schema: MetricSchema, stream: TextIO | None = None) -> None:
        self.namespace = namespace
        self.schema = schema
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``{"_aws": …, **fields}`` as one JSON line; returns the line."""
        line: dict[str, Any] = {"_aws": self.schema.directive(self.namespace, fields), **fields}
        text = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(text)
            stream.flush()
        return line
