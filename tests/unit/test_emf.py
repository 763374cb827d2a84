"""The one EMF writer (``transcription.emf``) that the router and the worker share."""

from __future__ import annotations

import io
import json
import threading

from batch_worker import metrics as worker_metrics
from lambda_router import metrics as router_metrics
from transcription.emf import EmfWriter, MetricSchema

SCHEMA = MetricSchema(dimensions=(("route",),), units=(("events", "Count"), ("ms", "Milliseconds")))


def test_a_line_declares_only_the_metrics_it_carries_and_leads_with_the_directive() -> None:
    stream = io.StringIO()
    written = EmfWriter("NS", SCHEMA, stream).write({"route": "direct", "events": 1})
    [text] = stream.getvalue().splitlines()
    line = json.loads(text)
    assert line == written
    assert next(iter(line)) == "_aws"
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "NS",
        "Dimensions": [["route"]],
        "Metrics": [{"Name": "events", "Unit": "Count"}],
    }
    assert isinstance(line["_aws"]["Timestamp"], int)


def test_lines_written_from_many_threads_stay_whole() -> None:
    stream = io.StringIO()
    writer = EmfWriter("NS", SCHEMA, stream)
    threads = [
        threading.Thread(target=lambda: [writer.write({"route": "x" * 500}) for _ in range(50)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 200
    assert all(json.loads(line)["route"] == "x" * 500 for line in lines)


def test_the_router_and_the_worker_declare_through_the_same_writer() -> None:
    assert isinstance(router_metrics.SCHEMA, MetricSchema)
    assert isinstance(worker_metrics.SCHEMA, MetricSchema)
    stream = io.StringIO()
    record = {"route": "queued", "reason": "server_down", "attempts": 0, "elapsed_ms": 1.5}
    line = router_metrics.Metrics("NS", stream=stream).emit(record)
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["route"], ["route", "reason"]]
    assert [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
        "events",
        "elapsed_ms",
        "attempts",
    ]
