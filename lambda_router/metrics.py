"""The router's result records, written as CloudWatch EMF lines: no API call per event.

One JSON line per routed object on stdout. It is the object's result record too (route,
reason, key, output key, attempts, elapsed time), and CloudWatch turns its ``_aws``
directive into the metrics ``events``, ``elapsed_ms`` and ``attempts`` by ``route`` and by
``route`` × ``reason`` (see :mod:`transcription.emf`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from transcription.emf import EmfWriter, MetricSchema

__all__ = ["SCHEMA", "Metrics"]

SCHEMA = MetricSchema(
    dimensions=(("route",), ("route", "reason")),
    units=(("events", "Count"), ("elapsed_ms", "Milliseconds"), ("attempts", "Count")),
)


class Metrics:
    def __init__(
        self, namespace: str, service: str = "lambda-router", stream: TextIO | None = None
    ) -> None:
        self.namespace = namespace
        self.service = service
        self._writer = EmfWriter(namespace, SCHEMA, stream)

    def emit(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``record`` (it holds ``route``, ``reason``, ``elapsed_ms``, ``attempts``)."""
        return self._writer.write(
            {
                "service": self.service,
                "level": "INFO",
                "message": f"{record.get('route')}: {record.get('reason')}",
                "events": 1,
                **record,
            }
        )
