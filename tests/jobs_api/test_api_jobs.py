"""POST/GET/DELETE /v1/jobs on the real app (uvicorn) against moto's server over HTTP."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.jobs_api.conftest import Api, bearer


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message body on the queue (received and left to reappear later)."""
    bodies: dict[str, dict[str, Any]] = {}
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not got:
            return list(bodies.values())
        for message in got:
            bodies[message["MessageId"]] = {
                **json.loads(message["Body"]),
                "_attributes": {
                    k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
                },
            }


@pytest.fixture
def writer(api: Api) -> dict[str, str]:
    key = api.issue("team-a", ["jobs:write", "jobs:read"])
    return bearer(key["key"])


@pytest.fixture
def audio(api: Api, s3: Any, samples: dict[str, Path]) -> str:
    """An s3:// URL of a real speech sample in the allowed bucket."""
    s3.put_object(Bucket=api.stack.bucket, Key="in/one.wav", Body=samples["one"].read_bytes())
    return f"s3://{api.stack.bucket}/in/one.wav"


def test_a_mixed_job_is_accepted_at_once(
    api: Api, writer: dict[str, str], audio: str, s3: Any, sqs: Any, samples: dict[str, Path]
) -> None:
    wav = samples["two"].read_bytes()
    body = {
        "job_type": "asr",
        "priority": "high",
        "default_src_lng": "en",
        "items": [
            {"id": "from-s3", "audio_url": audio},
            {"id": "inline.wav", "audio_base64": base64.b64encode(wav).decode()},
            {"id": "later", "upload": True, "ext": "mp3"},
        ],
        "options": {"formats": ["srt", "json"], "max_speakers": 3},
        "deadline": 600,
    }
    response = api.http.post("/v1/jobs", json=body, headers=writer)
    assert response.status_code == 202, response.text
    accepted = response.json()
    job_id = accepted["job_id"]
    assert accepted["enqueued_tasks"] == 2
    [upload] = accepted["uploads"]
    assert upload["id"] == "later" and upload["method"] == "PUT"

    [message] = receive_all(sqs, api.stack.queues["high"])
    assert receive_all(sqs, api.stack.queues["normal"]) == []
    head = s3.head_object(Bucket=api.stack.bucket, Key="in/one.wav")
    assert message["version"] == 1
    assert (message["bucket"], message["key"]) == (api.stack.bucket, "in/one.wav")
    assert message["etag"] == head["ETag"].strip('"') and message["size"] == head["ContentLength"]
    assert message["output_key"] == f"transcripts/jobs/{job_id}/from-s3.json"
    assert (message["job_id"], message["priority"], message["job_type"]) == (job_id, "high", "asr")
    assert message["task_id"] and message["reason"] == "job"
    assert message["options"]["language"] == "en"
    assert message["options"]["formats"] == ["json", "srt"]
    assert (message["diarize"], message["max_speakers"]) == (True, 3)  # a count implies it
    assert message["_attributes"] == {"reason": "job", "trace_id": job_id}

    stored = s3.get_object(Bucket=api.stack.bucket, Key=f"audio/jobs/{job_id}/inline.wav.wav")
    assert stored["Body"].read() == wav  # under the input prefix: the router routes it
    spec = s3.get_object(Bucket=api.stack.bucket, Key=f"transcripts/jobs/{job_id}/spec")
    assert json.loads(spec["Body"].read()) == {  # the router queues the uploads by it
        "job_id": job_id, "job_type": "asr", "priority": "high", "src_lng": "en",
        "tgt_lng": None, "model": None, "diarize": {"max_speakers": 3},
        "formats": ["json", "srt"], "items": {}, "deadline": 600.0,
    }  # fmt: skip

    put = httpx.put(upload["url"], content=wav)
    assert put.status_code == 200
    uploaded = s3.get_object(Bucket=api.stack.bucket, Key=f"audio/jobs/{job_id}/later.mp3")
    assert uploaded["Body"].read() == wav

    view = api.http.get(f"/v1/jobs/{job_id}", headers=writer).json()
    assert view["status"] == "queued" and view["priority"] == "high"
    assert view["progress"] == {
        "total": 3, "queued": 3, "running": 0, "succeeded": 0, "failed": 0, "canceled": 0,
    }  # fmt: skip
    assert {i["id"]: i["source"] for i in view["items"]} == {
        "from-s3": "s3", "inline.wav": "base64", "later": "upload",
    }  # fmt: skip


def test_an_nmt_job_stores_each_text_and_queues_its_translation(
    api: Api, writer: dict[str, str], s3: Any, sqs: Any
) -> None:
    body = {
        "job_type": "nmt",
        "default_src_lng": "eng",
        "default_tgt_lng": "es",
        "items": [
            {"id": "greeting", "text": "Hello world."},
            {"id": "back", "text": "Hola mundo.", "src_lng": "spa", "tgt_lng": "en"},
        ],
    }
    response = api.http.post("/v1/jobs", json=body, headers=writer)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.json()["enqueued_tasks"] == 2 and response.json().get("uploads") is None
    messages = {m["task_id"]: m for m in receive_all(sqs, api.stack.queues["normal"])}
    by_item = {m["output_key"].rsplit("/", 1)[1]: m for m in messages.values()}
    greeting, back = by_item["greeting.json"], by_item["back.json"]
    assert (greeting["job_type"], greeting["src_lng"], greeting["tgt_lng"]) == ("nmt", "en", "es")
    assert (back["src_lng"], back["tgt_lng"]) == ("es", "en")  # ISO 639-3 read as 639-1
    text_key = f"transcripts/jobs/{job_id}/texts/greeting.txt"
    assert greeting["text_key"] == greeting["key"] == text_key
    stored = s3.get_object(Bucket=api.stack.bucket, Key=text_key)
    assert stored["Body"].read() == b"Hello world."
    assert greeting["etag"] == stored["ETag"].strip('"') and greeting["size"] == 12
    assert greeting["options"]["formats"] == ["json", "txt"]
    listed = s3.list_objects_v2(Bucket=api.stack.bucket, Prefix=f"transcripts/jobs/{job_id}/")
    assert not any(o["Key"].endswith("/spec") for o in listed["Contents"])  # nothing routed
    view = api.http.get(f"/v1/jobs/{job_id}", headers=writer).json()
    assert {i["id"]: i["source"] for i in view["items"]} == {"greeting": "text", "back": "text"}


def test_the_same_idempotency_key_makes_one_job(
    api: Api, writer: dict[str, str], audio: str, sqs: Any
) -> None:
    body = {"job_type": "asr", "items": [{"id": f"i{n}", "audio_url": audio} for n in range(3)]}
    headers = {**writer, "Idempotency-Key": "retry-me-1"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: api.http.post("/v1/jobs", json=body, headers=headers), range(4))
        )
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["job_id"] for a in answers}) == 1
    listed = api.http.get("/v1/jobs", headers=writer).json()["jobs"]
    assert len(listed) == 1
    assert len(receive_all(sqs, api.stack.queues["normal"])) == 3

    changed = api.http.post("/v1/jobs", json={**body, "priority": "low"}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["error"]["field"] == "Idempotency-Key"
    other = api.http.post("/v1/jobs", json=body, headers={**writer, "Idempotency-Key": "other"})
    assert other.json()["job_id"] != answers[0].json()["job_id"]


def test_a_thousand_items_are_accepted_in_one_request(
    api: Api, writer: dict[str, str], audio: str, sqs: Any
) -> None:
    body = {
        "job_type": "asr",
        "items": [{"id": f"item-{n}", "audio_url": audio} for n in range(1000)],
    }
    response = api.http.post("/v1/jobs", json=body, headers=writer)
    assert response.status_code == 202, response.text
    assert response.json()["enqueued_tasks"] == 1000
    attributes = sqs.get_queue_attributes(
        QueueUrl=api.stack.queues["normal"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1000"
    job_id = response.json()["job_id"]
    first = api.http.get(f"/v1/jobs/{job_id}", params={"limit": 400}, headers=writer).json()
    assert first["progress"]["queued"] == 1000 and len(first["items"]) == 400
    seen = {i["id"] for i in first["items"]}
    cursor = first["next_cursor"]
    while cursor:
        page = api.http.get(
            f"/v1/jobs/{job_id}", params={"limit": 400, "cursor": cursor}, headers=writer
        ).json()
        seen |= {i["id"] for i in page["items"]}
        cursor = page["next_cursor"]
    assert len(seen) == 1000


def test_another_owners_job_is_404(api: Api, writer: dict[str, str], audio: str) -> None:
    body = {"job_type": "asr", "items": [{"id": "a", "audio_url": audio}]}
    job_id = api.http.post("/v1/jobs", json=body, headers=writer).json()["job_id"]
    stranger = bearer(api.issue("team-b", ["jobs:read", "jobs:write"])["key"])
    for method, path in (
        ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/results"),
        ("DELETE", f"/v1/jobs/{job_id}"),
    ):
        response = api.http.request(method, path, headers=stranger)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "job_not_found"
    assert api.http.get("/v1/jobs", headers=stranger).json()["jobs"] == []
    assert api.http.get(f"/v1/jobs/{job_id}", headers=writer).status_code == 200


def test_list_is_newest_first_with_cursor_and_status(
    api: Api, writer: dict[str, str], audio: str
) -> None:
    body = {"job_type": "asr", "items": [{"id": "a", "audio_url": audio}]}
    made = [api.http.post("/v1/jobs", json=body, headers=writer).json()["job_id"] for _ in range(3)]
    api.http.delete(f"/v1/jobs/{made[0]}", headers=writer)
    first = api.http.get("/v1/jobs", params={"limit": 2}, headers=writer).json()
    rest = api.http.get(
        "/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}, headers=writer
    ).json()
    assert [j["job_id"] for j in first["jobs"] + rest["jobs"]] == made[::-1]
    canceled = api.http.get("/v1/jobs", params={"status": "canceled"}, headers=writer).json()
    assert [j["job_id"] for j in canceled["jobs"]] == [made[0]]
    bad = api.http.get("/v1/jobs", params={"cursor": "not-a-cursor"}, headers=writer)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"


def test_cancel_marks_queued_tasks_and_completes_the_job(
    api: Api, writer: dict[str, str], audio: str, s3: Any, sqs: Any
) -> None:
    body = {"job_type": "asr", "items": [{"id": f"i{n}", "audio_url": audio} for n in range(5)]}
    job_id = api.http.post("/v1/jobs", json=body, headers=writer).json()["job_id"]
    response = api.http.delete(f"/v1/jobs/{job_id}", headers=writer)
    assert response.status_code == 200
    job = response.json()
    assert job["status"] == "canceled" and job["completed_at"]
    assert job["progress"]["canceled"] == 5 and job["progress"]["queued"] == 0
    listed = s3.list_objects_v2(Bucket=api.stack.bucket, Prefix=f"transcripts/jobs/{job_id}/")
    assert [o["Key"] for o in listed["Contents"]] == [f"transcripts/jobs/{job_id}/canceled"]
    marker = f"transcripts/jobs/{job_id}/canceled"
    assert s3.head_object(Bucket=api.stack.bucket, Key=marker)["ContentLength"] == 0
    [event] = receive_all(sqs, api.stack.events_queue)
    assert event["detail"]["job_id"] == job_id and event["detail"]["status"] == "canceled"
    again = api.http.delete(f"/v1/jobs/{job_id}", headers=writer)
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_completed"


WAV = base64.b64encode(b"RIFF0000WAVE").decode()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"items": [{"id": "a", "upload": True, "ext": "wav"}]}, 422, "job_type"),
        ({"job_type": "asr"}, 422, "items"),
        ({"job_type": "asr", "items": []}, 422, "items"),
        ({"job_type": "nmt", "items": [{"id": "a", "text": "hi"}]}, 422, "items.0.tgt_lng"),
        ({"job_type": "nmt", "default_tgt_lng": "es", "items": [{"id": "a", "text": "hi"}]}, 422,
         "items.0.src_lng"),
        ({"job_type": "nmt", "default_src_lng": "en", "default_tgt_lng": "es",
          "items": [{"id": "a", "upload": True, "ext": "wav"}]}, 422, "items.0.text"),
        ({"job_type": "asr+nmt", "items": [{"id": "a", "upload": True, "ext": "wav"}]}, 422,
         "items.0.tgt_lng"),
        ({"job_type": "asr+nmt", "default_tgt_lng": "es", "items": [{"id": "a", "upload": True}]},
         422, "items.0.ext"),
        ({"job_type": "asr", "default_src_lng": "xx", "items": [{"id": "a", "upload": True,
                                                                 "ext": "wav"}]}, 422,
         "default_src_lng"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav",
                                        "src_lng": "zzz"}]}, 422, "items.0.src_lng"),
        ({"job_type": "asr", "items": [{"id": "a"}]}, 422, "items.0"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "audio_base64": WAV}]}, 422,
         "items.0"),
        ({"job_type": "asr", "items": [{"id": "a/b", "upload": True}]}, 422, "items.0.id"),
        ({"job_type": "asr", "items": [{"id": "a.error", "upload": True, "ext": "wav"}]}, 422,
         "items.0"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True}]}, 422, "items.0.ext"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"},
                                       {"id": "a", "upload": True, "ext": "wav"}]}, 422,
         "items.1.id"),
        ({"job_type": "asr", "items": [{"id": "a", "audio_url": "https://x/a.wav"}]}, 422,
         "items.0.audio_url"),
        ({"job_type": "asr", "items": [{"id": "a", "audio_url": "s3://other-bucket/a.wav"}]}, 422,
         "items.0.audio_url"),
        ({"job_type": "asr", "items": [{"id": "a", "audio_base64": "%%%", "ext": "wav"}]}, 422,
         "items.0.audio_base64"),
        ({"job_type": "asr", "items": [{"id": "a", "text": "hello"}]}, 422, "items.0.text"),
        ({"job_type": "asr", "priority": "urgent", "items": [{"id": "a", "upload": True}]}, 422,
         "priority"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"}],
          "options": {"formats": ["docx"]}}, 422, "options.formats.0"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"}],
          "options": {"min_speakers": 5, "max_speakers": 2}}, 422, "options.min_speakers"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"}],
          "options": {"diarize": False, "num_speakers": 2}}, 422, "options.num_speakers"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"}],
          "options": {"num_speakers": 30}}, 422, "options.num_speakers"),
        ({"job_type": "nmt", "default_src_lng": "en", "default_tgt_lng": "es",
          "items": [{"id": "a", "text": "hi"}], "options": {"diarize": True}}, 422,
         "options.diarize"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"}], "colour": 1},
         422, "colour"),
        ({"job_type": "asr", "items": [{"id": "a", "upload": True, "ext": "wav"}],
          "webhook_url": "ftp://localhost/hook"}, 422, "webhook_url"),
        ({"job_type": "asr", "items": "all of them"}, 422, "items"),
        ([1, 2, 3], 422, "body"),
    ],
)  # fmt: skip
def test_a_malformed_body_is_a_4xx_naming_the_field(
    api: Api, writer: dict[str, str], body: Any, status: int, field: str
) -> None:
    response = api.http.post("/v1/jobs", json=body, headers=writer)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert error["code"] and error["message"]


def test_invalid_json_names_the_body(api: Api, writer: dict[str, str]) -> None:
    response = api.http.post(
        "/v1/jobs", content=b"{not json", headers={**writer, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"


def test_a_missing_object_and_a_too_large_base64_item_are_refused(
    api: Api, writer: dict[str, str]
) -> None:
    missing = {
        "job_type": "asr",
        "items": [{"id": "gone", "audio_url": f"s3://{api.stack.bucket}/no/such.wav"}],
    }
    response = api.http.post("/v1/jobs", json=missing, headers=writer)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "items.0.audio_url"
    limit = api.stack.settings.max_base64_bytes
    big = base64.b64encode(b"\0" * (limit + 1)).decode()
    too_large = {"job_type": "asr", "items": [{"id": "big", "audio_base64": big, "ext": "wav"}]}
    response = api.http.post("/v1/jobs", json=too_large, headers=writer)
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "items.0.audio_base64"
    assert api.http.get("/v1/jobs", headers=writer).json()["jobs"] == []  # nothing was made


def test_a_cursor_of_another_job_is_refused(api: Api, writer: dict[str, str], audio: str) -> None:
    body = {"job_type": "asr", "items": [{"id": f"i{n}", "audio_url": audio} for n in range(3)]}
    first = api.http.post("/v1/jobs", json=body, headers=writer).json()["job_id"]
    second = api.http.post("/v1/jobs", json=body, headers=writer).json()["job_id"]
    cursor = api.http.get(f"/v1/jobs/{first}", params={"limit": 1}, headers=writer).json()[
        "next_cursor"
    ]
    response = api.http.get(f"/v1/jobs/{second}", params={"cursor": cursor}, headers=writer)
    assert response.status_code == 422 and response.json()["error"]["field"] == "cursor"
    malformed = api.http.get(f"/v1/jobs/{'x' * 40}", headers=writer)
    assert malformed.status_code == 422 and malformed.json()["error"]["field"] == "job_id"
