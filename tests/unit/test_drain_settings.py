"""When the GPU server drains the jobs queues: SERVER_DRAINS_QUEUE and its default."""

from __future__ import annotations

import pytest

from fastapi_server.settings import ServerSettings
from transcription.exceptions import SettingsError
from transcription.settings import load

BASE = {"AUDIO_BUCKET": "audio", "AWS_REGION": "us-east-1"}
QUEUE = "http://127.0.0.1:5000/123456789012/jobs"
MOTO = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}


def test_default_is_on_aws_with_a_queue_and_off_elsewhere() -> None:
    assert load(ServerSettings, {**BASE, "QUEUE_URL": QUEUE}).drains_queue  # a deployment
    assert not load(ServerSettings, BASE).drains_queue  # no queue known
    assert not load(ServerSettings, {**BASE, **MOTO, "QUEUE_URL": QUEUE}).drains_queue  # local


def test_explicit_setting_wins_both_ways() -> None:
    env = {**BASE, **MOTO, "QUEUE_URL": QUEUE}
    assert load(ServerSettings, {**env, "SERVER_DRAINS_QUEUE": "true"}).drains_queue
    off = {**BASE, "QUEUE_URL": QUEUE, "SERVER_DRAINS_QUEUE": "false"}
    assert not load(ServerSettings, off).drains_queue


def test_queues_are_drained_highest_first_each_once() -> None:
    env = {**BASE, "QUEUE_URL": QUEUE, "QUEUE_URL_HIGH": QUEUE + "-high",
           "QUEUE_URL_LOW": QUEUE}  # fmt: skip
    assert load(ServerSettings, env).drain.queue_urls == (QUEUE + "-high", QUEUE)


def test_draining_without_a_queue_or_with_a_bad_wait_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="SERVER_DRAINS_QUEUE=true needs QUEUE_URL"):
        load(ServerSettings, {**BASE, "SERVER_DRAINS_QUEUE": "true"})
    with pytest.raises(SettingsError, match="DRAIN_WAIT_SECONDS"):
        load(ServerSettings, {**BASE, "DRAIN_WAIT_SECONDS": "0"})
    with pytest.raises(SettingsError, match="DRAIN_QUIET_SECONDS"):
        load(ServerSettings, {**BASE, "DRAIN_QUIET_SECONDS": "-1"})
