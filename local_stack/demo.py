"""`make demo`: both paths of the product, end to end, on the local stack.

1. direct: upload a sample; the router finds the server healthy and calls it.
2. batch: stop the server, upload a second sample; the router queues it and the batch
   worker transcribes it.
3. API: start the server again and curl it with a third sample.
4. batch job: a job of two inline (base64) items through the jobs API, polled to its end.
5. languages (``MODEL=base make demo``, a multilingual model): a Spanish sample detected
   (``/detect-language``) and translated to English (``/v1/audio/translations``).
Then a summary table. Any failure names the step and the log file to read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import ClientError

from local_stack.exceptions import StackError
from local_stack.jobs_client import JobsClient, JobsClientError, base64_item
from local_stack.processes import ROOT
from local_stack.stack import Stack
from transcription.aws_errors import is_not_found

__all__ = ["DemoRow", "run_demo", "wait_for_object"]

SAMPLES = ROOT / "tests" / "samples"
TRANSCRIPT_TIMEOUT_SECONDS = 90.0
JOB_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class DemoRow:
    file: str
    route: str
    seconds: float
    text: str

    def first_words(self, count: int = 6) -> str:
        words = self.text.split()
        return " ".join(words[:count]) + (" …" if len(words) > count else "")


def wait_for_object(s3: Any, bucket: str, key: str, timeout: float) -> bytes | None:
    """The object's body once it exists, or ``None`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as error:
            if not is_not_found(error):
                raise
        time.sleep(0.2)
    return None


def router_results(log_path: Path) -> Iterator[dict[str, Any]]:
    """The per-object results the event pump logged (JSON lines with a ``route``)."""
    if not log_path.exists():
        return
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "route" in record:
            yield record


def router_result_for(log_path: Path, key: str) -> dict[str, Any] | None:
    for record in router_results(log_path):
        if key in (record.get("s3_key"), record.get("key")):
            return record
    return None


class Demo:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.bucket = stack.env["AUDIO_BUCKET"]
        self.input_prefix = stack.env.get("INPUT_PREFIX", "audio/")
        self.output_prefix = stack.env.get("OUTPUT_PREFIX", "transcripts/")
        self.s3 = stack.client("s3")
        self.multilingual = multilingual(stack.settings.model)
        self.steps = 5 if self.multilingual else 4

    def upload_and_wait(self, sample: str, step: str) -> tuple[dict[str, Any], float]:
        path = SAMPLES / f"speech-{sample}.wav"
        relative = f"demo/{path.name}"
        started = time.monotonic()
        self.s3.upload_file(str(path), self.bucket, self.input_prefix + relative)
        self.stack.say(f"  uploaded s3://{self.bucket}/{self.input_prefix}{relative}")
        body = wait_for_object(
            self.s3, self.bucket, f"{self.output_prefix}{relative}.json", TRANSCRIPT_TIMEOUT_SECONDS
        )
        if body is None:
            raise StackError(
                step,
                self.stack.log_path("pump"),
                f"no transcript after {TRANSCRIPT_TIMEOUT_SECONDS:.0f} s",
            )
        return json.loads(body), time.monotonic() - started

    def direct(self) -> DemoRow:
        self.stack.say(f"\n[1/{self.steps}] direct path: upload while the server is up")
        transcript, seconds = self.upload_and_wait("one", "direct path")
        self.stack.say(f"  transcript ({transcript['route']}): {transcript['text']}")
        return DemoRow("speech-one.wav", transcript["route"], seconds, transcript["text"])

    def batch(self) -> DemoRow:
        self.stack.say(f"\n[2/{self.steps}] batch path: stop the server, then upload")
        self.stack.stop_service("server")
        transcript, seconds = self.upload_and_wait("two", "batch path")
        key = f"{self.input_prefix}demo/speech-two.wav"
        result = router_result_for(self.stack.log_path("pump"), key) or {}
        self.stack.say(f"  router: {result.get('route', '?')} ({result.get('reason', '?')})")
        self.stack.say(f"  transcript ({transcript['route']}): {transcript['text']}")
        return DemoRow("speech-two.wav", transcript["route"], seconds, transcript["text"])

    def api(self) -> DemoRow:
        self.stack.say(f"\n[3/{self.steps}] API: start the server again and curl it")
        self.stack.start_service("server")
        path = SAMPLES / "speech-three.wav"
        url = f"{self.stack.server_url}/transcribe"
        started = time.monotonic()
        body = self._post_file(url, path)
        transcript = json.loads(body)
        seconds = time.monotonic() - started
        self.stack.say(f"  transcript ({transcript['route']}): {transcript['text']}")
        return DemoRow(path.name, transcript["route"], seconds, transcript["text"])

    def batch_job(self) -> list[DemoRow]:
        self.stack.say(f"\n[4/{self.steps}] batch job: two items through the jobs API")
        started = time.monotonic()
        admin = JobsClient(self.stack.jobs_api_url, self.stack.admin_key)
        try:
            client = admin.as_key(admin.issue_key("demo")["key"])
            samples = {"one": SAMPLES / "speech-one.wav", "two": SAMPLES / "speech-two.wav"}
            accepted = client.submit([base64_item(i, p) for i, p in samples.items()])
            job_id = accepted["job_id"]
            self.stack.say(f"  POST /v1/jobs → job {job_id}")
            seen: list[str] = []

            def show(job: dict[str, Any]) -> None:
                line = f"  {job['status']:<16} {job['progress']}"
                if not seen or seen[-1] != line:
                    seen.append(line)
                    self.stack.say(line)

            client.wait(job_id, JOB_TIMEOUT_SECONDS, each=show)
            results = client.results(job_id)
        except (JobsClientError, OSError) as error:
            raise StackError("batch job", self.stack.log_path("jobs-pump"), str(error)) from None
        seconds = time.monotonic() - started
        rows = []
        for item in results["items"]:
            link = item["results"].get("json")
            text = json.loads(download(link["url"]))["text"] if link else str(item["error"])
            self.stack.say(f"  {item['id']}: {item['status']}: {text}")
            rows.append(DemoRow(f"job item {item['id']}", "job", seconds, text))
        return rows

    def languages(self) -> DemoRow:
        self.stack.say(f"\n[5/{self.steps}] languages: a Spanish sample, detected and translated")
        path = SAMPLES / "multilingual-es.wav"
        headers = {"Authorization": f"Bearer {self.stack.api_key}"}
        started = time.monotonic()
        try:
            with httpx.Client(base_url=self.stack.server_url, headers=headers, timeout=120) as http:
                detected = http.post("/detect-language", files={"audio_file": path.read_bytes()})
                detected.raise_for_status()
                translated = http.post(
                    "/v1/audio/translations",
                    files={"file": (path.name, path.read_bytes(), "audio/wav")},
                )
                translated.raise_for_status()
        except httpx.HTTPError as error:
            raise StackError("languages", self.stack.log_path("server"), str(error)) from None
        language = detected.json()["language_code"]
        text = translated.json()["text"]
        self.stack.say(f"  detected: {language} ({detected.json()['detected_language']})")
        self.stack.say(f"  in English: {text}")
        return DemoRow(path.name, f"{language}→en", time.monotonic() - started, text)

    def _post_file(self, url: str, path: Path) -> str:
        auth = f"Authorization: Bearer {self.stack.api_key}"
        self.stack.say(
            f'  curl -H "Authorization: Bearer …" -F file=@{path.relative_to(ROOT)} {url}'
        )
        if shutil.which("curl"):
            result = subprocess.run(
                ["curl", "-sS", "--fail-with-body", "-H", auth, "-F", f"file=@{path}", url],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise StackError(
                    "API call", self.stack.log_path("server"), result.stdout + result.stderr
                )
            return result.stdout
        # no curl on this machine: the same request from Python
        with path.open("rb") as audio:
            response = httpx.post(
                url, headers={"Authorization": auth.split(": ", 1)[1]}, files={"file": audio}
            )
        if response.status_code != 200:
            raise StackError("API call", self.stack.log_path("server"), response.text)
        return response.text


def download(url: str) -> bytes:
    """A presigned URL's body."""
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def summary(rows: list[DemoRow]) -> str:
    header = f"{'file':<18} {'route':<7} {'seconds':>7}  first words"
    lines = [header, "-" * len(header)]
    lines += [f"{r.file:<18} {r.route:<7} {r.seconds:>7.1f}  {r.first_words()}" for r in rows]
    return "\n".join(lines)


def multilingual(model: str) -> bool:
    """An English-only model (``tiny.en``…) hears no Spanish: the languages step needs another."""
    return not model.endswith(".en")


def run_demo(stack: Stack) -> list[DemoRow]:
    demo = Demo(stack)
    rows = [demo.direct(), demo.batch(), demo.api(), *demo.batch_job()]
    if demo.multilingual:
        rows.append(demo.languages())
    return rows
