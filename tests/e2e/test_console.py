"""End to end: the web console in a real browser against the real local stack (`make up`).

Debian's Chromium, headless, driven by Playwright (its own browser download cannot work
here: ``executable_path`` names /usr/bin/chromium). The stack is the one of
tests/e2e/conftest.py: moto's server over HTTP, the deploy steps, the router, the FastAPI
server and the batch worker with tiny.en, the jobs API on uvicorn serving /console, and the
jobs pump. The key is the one `make up` issues for the console (``stack.console_key``).

The browser signs in, drops two espeak-ng clips as one job (presigned PUTs to moto, each
with its progress bar), watches the job reach ``succeeded`` without reloading, opens the
transcript, plays it, sees the highlighted word move, clicks a word and checks the
player's time, downloads the srt and compares it with the API's; cancels a job; moves a
planner slider and sees the chart change. Security (the XSS file name, no page without a
key, the CSP header, the key in no URL, log line or localStorage) and accessibility
(keyboard reach of every control, axe-core with no serious or critical violation) too.
Each page's screenshot lands in ``CONSOLE_SCREENSHOTS`` (default: a temp folder).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, Playwright, sync_playwright

from local_stack.banner import banner
from local_stack.jobs_client import JobsClient
from local_stack.stack import Stack
from tests.support.conversation import converse
from tests.support.speech import speak
from transcription.inference.audio import SAMPLE_RATE

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
JOB_TIMEOUT_MS = 180_000
NAME, PHRASE = "library.wav", "The new library opens next month, with a reading room for children."
MEETING = "meeting.wav"  # two espeak-ng voices taking turns
XSS_NAME = "<img src=x onerror=alert(1)>.wav"


@dataclass
class Browsing:
    """The browser, the console's URL and key, and what every page of the module did."""

    browser: Browser
    url: str
    key: str
    shots: Path
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def context(self) -> BrowserContext:
        context = self.browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("page", self._watch)
        return context

    def _watch(self, page: Page) -> None:
        def dialog(d: Dialog) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, context: BrowserContext, path: str, *, sign_in: bool = True) -> Page:
        page = context.new_page()
        page.goto(f"{self.url}{path}")
        if sign_in:
            page.fill("input[name=api_key]", self.key)
            page.click("#sign-in button[type=submit]")
            page.wait_for_selector("#content", state="visible")
        return page

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"console-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browsing(
    playwright: Playwright, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browsing]:
    assert stack.console_key, "the stack issues a console key at start-up"
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    shots.mkdir(parents=True, exist_ok=True)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield Browsing(browser, stack.console_url, stack.console_key, shots)
    finally:
        browser.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One voice reading a phrase, and two voices taking turns (diarized: two speakers)."""
    folder = tmp_path_factory.mktemp("console-clips")
    talk = converse(folder, speakers=2, turns=4)
    meeting = folder / MEETING
    with wave.open(str(meeting), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(talk.samples, -1, 1) * 32767).astype("<i2").tobytes())
    return {NAME: speak("en", folder / NAME, PHRASE), MEETING: meeting}


def drop_files(page: Page, paths: list[Path], names: list[str] | None = None) -> None:
    """Drop ``paths`` on the drop zone, as a drag from the desktop does (a DataTransfer)."""
    files = [
        {"name": name, "data": base64.b64encode(path.read_bytes()).decode()}
        for path, name in zip(paths, names or [p.name for p in paths], strict=True)
    ]
    transfer = page.evaluate_handle(
        """files => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, {type: "audio/wav"}));
            }
            return transfer;
        }""",
        files,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})


@dataclass(frozen=True)
class Uploaded:
    job_id: str
    upload_progress: list[float]
    upload_states: list[str]
    statuses_seen: list[str]
    same_document: bool


@pytest.fixture(scope="module")
def uploaded(browsing: Browsing, clips: dict[str, Path]) -> Iterator[Uploaded]:
    """Sign in, drop two files, start one job, and watch the list until it succeeds."""
    context = browsing.context()
    page = browsing.open(context, "")
    page.evaluate("window.__sameDocument = true")
    drop_files(page, list(clips.values()))
    page.select_option("#model", "tiny.en")
    page.select_option("#language", "en")
    page.select_option("#priority", "high")
    page.check("#diarize")
    page.click("#start-job")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.file-state')]"
        ".every(s => s.textContent === 'uploaded')"
    )
    progress = page.eval_on_selector_all("#upload-list progress", "bars => bars.map(b => b.value)")
    states = page.eval_on_selector_all("#upload-list .file-state", "s => s.map(x => x.textContent)")
    status = page.text_content("#upload-status") or ""
    job_id = re.search(r"Job ([0-9a-f]{32})", status)
    assert job_id, status
    row = f"#jobs tr[data-job-id='{job_id.group(1)}']"
    page.wait_for_selector(row)
    seen = []
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        current = page.get_attribute(row, "data-status") or ""
        if not seen or seen[-1] != current:
            seen.append(current)
        if current in {"succeeded", "partially_failed", "failed", "canceled"}:
            break
        page.wait_for_timeout(200)
    same = bool(page.evaluate("window.__sameDocument === true"))
    browsing.shot(page, "jobs")
    yield Uploaded(job_id.group(1), progress, states, seen, same)
    context.close()


# --- the flow -----------------------------------------------------------------------------
def test_make_up_prints_the_console_url_and_a_key_that_signs_in(stack: Stack) -> None:
    text = banner(stack)
    assert f"{stack.jobs_api_url}/console" in text and f"{stack.console_key}" in text
    listed = httpx.get(
        f"{stack.jobs_api_url}/v1/jobs", headers={"Authorization": f"Bearer {stack.console_key}"}
    )
    assert listed.status_code == 200


def test_two_dropped_files_become_one_job_that_succeeds_live(
    uploaded: Uploaded, stack: Stack, clips: dict[str, Path]
) -> None:
    assert uploaded.upload_progress == [1, 1] and uploaded.upload_states == ["uploaded"] * 2
    assert uploaded.statuses_seen[-1] == "succeeded", uploaded.statuses_seen
    assert len(uploaded.statuses_seen) >= 2, "the status changed on the page, live"
    assert uploaded.same_document, "the page was never reloaded"
    job = JobsClient(stack.jobs_api_url, stack.console_key).job(uploaded.job_id)
    assert sorted(item["id"] for item in job["items"]) == sorted(clips)
    assert job["priority"] == "high" and job["progress"]["succeeded"] == 2


def test_the_transcript_follows_the_audio_and_downloads_the_apis_srt(
    browsing: Browsing, uploaded: Uploaded, stack: Stack
) -> None:
    context = browsing.context()
    page = browsing.open(context, f"/jobs/{uploaded.job_id}")
    page.wait_for_selector("#viewer", state="visible")
    page.wait_for_selector("#transcript .word")  # the first item's, opened at once
    page.click(f"button[aria-label='Show the transcript of {NAME}']")
    page.wait_for_selector(f"#viewer[data-item='{NAME}']")
    assert page.text_content("#viewer-language") == "en"
    assert page.text_content("#job-status") == "succeeded"
    text = " ".join(
        page.eval_on_selector_all("#transcript .word", "w => w.map(x => x.textContent)")
    )
    item = page.text_content("#viewer-item") or ""
    assert any(word in text.lower() for word in ("library", "month", "children")), text
    page.wait_for_function("() => document.getElementById('audio').readyState >= 2")

    page.evaluate("document.getElementById('audio').play()")
    page.wait_for_selector("#transcript .word.current")
    first = page.get_attribute("#transcript .word.current", "data-start")
    page.wait_for_function(
        "start => document.querySelector('#transcript .word.current')?.dataset.start !== start",
        arg=first,
        timeout=15_000,
    )
    later = page.get_attribute("#transcript .word.current", "data-start")
    assert float(later or 0) > float(first or 0)
    browsing.shot(page, "transcript")

    words = page.locator("#transcript .word")
    target = words.nth(min(3, words.count() - 1))
    start = float(target.get_attribute("data-start") or 0)
    target.click()
    now = page.evaluate("document.getElementById('audio').currentTime")
    assert start <= now < start + 0.75, (start, now)
    assert target.get_attribute("class") == "word current"

    with page.expect_download() as downloading:
        page.click(".downloads button[data-format=srt]")
    downloaded = Path(downloading.value.path()).read_text()
    assert downloading.value.suggested_filename == f"{item}.srt"
    results = JobsClient(stack.jobs_api_url, stack.console_key).results(uploaded.job_id)
    srt = next(i for i in results["items"] if i["id"] == item)["results"]["srt"]["url"]
    assert downloaded == httpx.get(srt, timeout=30).text
    assert downloaded.startswith("1\n00:00:")
    assert not browsing.errors
    context.close()


def test_speakers_are_labelled_in_their_own_colours(browsing: Browsing, uploaded: Uploaded) -> None:
    context = browsing.context()
    page = browsing.open(context, f"/jobs/{uploaded.job_id}")
    page.click(f"button[aria-label='Show the transcript of {MEETING}']")
    page.wait_for_selector(f"#viewer[data-item='{MEETING}']")
    page.wait_for_selector("#transcript .speaker")
    labels = page.eval_on_selector_all(
        "#transcript .speaker",
        "spans => spans.map(s => [s.textContent, s.className,"
        " getComputedStyle(s).backgroundColor])",
    )
    by_speaker = {text: (cls, colour) for text, cls, colour in labels}
    assert set(by_speaker) == {"SPEAKER_00", "SPEAKER_01"}, labels
    assert by_speaker["SPEAKER_00"][0] == "speaker speaker-0"
    assert by_speaker["SPEAKER_01"][0] == "speaker speaker-1"
    assert by_speaker["SPEAKER_00"][1] != by_speaker["SPEAKER_01"][1]
    browsing.shot(page, "speakers")
    context.close()


def test_a_job_is_canceled_from_the_list(browsing: Browsing, stack: Stack) -> None:
    api = JobsClient(stack.jobs_api_url, stack.console_key)
    waiting = api.submit([{"id": "never-uploaded", "upload": True, "ext": "wav"}])["job_id"]
    context = browsing.context()
    page = browsing.open(context, "")
    row = f"#jobs tr[data-job-id='{waiting}']"
    page.click(f"{row} button[aria-label='Cancel job {waiting}']")
    page.wait_for_selector(f"{row}[data-status=canceled]")
    assert page.locator(f"{row} button").count() == 0
    assert api.job(waiting)["status"] == "canceled"
    context.close()


def test_moving_a_planner_slider_redraws_the_chart(browsing: Browsing) -> None:
    context = browsing.context()
    page = browsing.open(context, "/planner")
    page.wait_for_selector("#chart polyline.self-hosted")
    page.wait_for_selector("#chart circle.crossover")
    before = page.get_attribute("#chart polyline.self-hosted", "points")
    crossover = page.get_attribute("#chart circle.crossover", "cx")
    table = page.text_content("#plan-table")
    browsing.shot(page, "planner")
    page.focus("#minutes_per_task_slider")
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    assert page.input_value("#minutes_per_task") == "13"
    page.wait_for_function(
        "before => document.querySelector('#chart polyline.self-hosted')"
        ".getAttribute('points') !== before",
        arg=before,
    )
    assert page.get_attribute("#chart circle.crossover", "cx") != crossover
    assert page.text_content("#plan-table") != table
    assert not browsing.errors
    context.close()


# --- security -------------------------------------------------------------------------------
def test_a_hostile_file_name_renders_as_text(browsing: Browsing, clips: dict[str, Path]) -> None:
    context = browsing.context()
    page = browsing.open(context, "")
    drop_files(page, [next(iter(clips.values()))], [XSS_NAME])
    page.wait_for_selector("#upload-list .file-name")
    assert page.text_content("#upload-list .file-name") == XSS_NAME
    assert page.locator("img").count() == 0
    page.wait_for_timeout(300)
    assert not browsing.dialogs
    context.close()


@pytest.mark.parametrize("path", ["", "/planner", "/jobs/" + "0" * 32])
def test_no_page_works_without_a_key(browsing: Browsing, stack: Stack, path: str) -> None:
    context = browsing.context()
    page = browsing.open(context, path, sign_in=False)
    assert page.is_visible("input[name=api_key]") and page.is_hidden("#content")
    page.fill("input[name=api_key]", "not-a-key")
    page.click("#sign-in button[type=submit]")
    page.wait_for_function("() => document.getElementById('sign-in-error').textContent !== ''")
    assert page.is_hidden("#content")
    assert page.evaluate("sessionStorage.length") == 0
    if not path:
        browsing.shot(page, "sign-in")
    context.close()
    api = stack.jobs_api_url
    assert httpx.get(f"{api}/v1/jobs").status_code == 401
    assert httpx.get(f"{api}/v1/jobs/{'0' * 32}").status_code == 401
    plan = {"tasks_per_month": 10, "minutes_per_task": 1}
    assert httpx.post(f"{api}/v1/plan", json=plan).status_code == 401


def test_the_browser_gets_the_strict_policy(browsing: Browsing, stack: Stack) -> None:
    context = browsing.context()
    page = context.new_page()
    response = page.goto(browsing.url)
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert f"connect-src 'self' {stack.endpoint}" in policy
    # An inline script the policy forbids does not run (the browser enforces the header).
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.__inline = 1'; document.body.append(s); }"""
    )
    assert page.evaluate("window.__inline") is None
    context.close()


def test_the_local_bucket_lets_the_console_in_and_no_other_origin(stack: Stack) -> None:
    """moto runs with its global CORS off: the bucket's rule decides, as on AWS."""
    url = f"{stack.endpoint}/{stack.env['AUDIO_BUCKET']}/audio/jobs/x/y.wav"

    def preflight(origin: str) -> httpx.Response:
        headers = {"Origin": origin, "Access-Control-Request-Method": "PUT"}
        return httpx.options(url, headers=headers, timeout=10)

    allowed = preflight(stack.jobs_api_url)
    assert allowed.headers.get("access-control-allow-origin") == stack.jobs_api_url
    assert "PUT" in allowed.headers.get("access-control-allow-methods", "")
    assert "access-control-allow-origin" not in preflight("http://localhost:1").headers


def test_the_key_is_in_no_url_log_line_or_local_storage(
    browsing: Browsing, uploaded: Uploaded, stack: Stack
) -> None:
    context = browsing.context()
    for path in ("", f"/jobs/{uploaded.job_id}", "/planner"):
        page = browsing.open(context, path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("sessionStorage.length") == 1  # it is there, in session storage
        assert browsing.key not in page.evaluate("JSON.stringify(localStorage)")
        assert browsing.key not in page.url
        page.close()
    assert not context.cookies()
    context.close()
    assert len(browsing.requests) > 10
    assert not [url for url in browsing.requests if browsing.key in url]
    logs = {path.name: path.read_text(errors="replace") for path in stack.logs.glob("*.log")}
    assert "jobs-api.log" in logs and "moto.log" in logs
    assert not [name for name, text in logs.items() if browsing.key in text]


# --- accessibility ---------------------------------------------------------------------------
PAGES = {"jobs": "", "planner": "/planner"}


def page_paths(uploaded: Uploaded) -> dict[str, str]:
    return {**PAGES, "job": f"/jobs/{uploaded.job_id}"}


@pytest.mark.parametrize("name", ["jobs", "job", "planner", "sign-in"])
def test_axe_finds_no_serious_violation(browsing: Browsing, uploaded: Uploaded, name: str) -> None:
    context = browsing.context()
    signed_in = name != "sign-in"
    page = browsing.open(context, page_paths(uploaded).get(name, ""), sign_in=signed_in)
    if name == "job":
        page.wait_for_selector("#transcript .word")
    if name == "planner":
        page.wait_for_selector("#chart polyline")
    page.evaluate(AXE.read_text())  # (evaluated, not a script tag: the policy forbids inline)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, bad
    assert result["testEngine"]["version"].startswith("4.")
    context.close()


@pytest.mark.parametrize("name", ["jobs", "job", "planner"])
def test_every_control_is_reached_by_the_keyboard(
    browsing: Browsing, uploaded: Uploaded, name: str
) -> None:
    context = browsing.context()
    page = browsing.open(context, page_paths(uploaded)[name])
    if name == "job":
        page.wait_for_selector("#transcript .word")
    if name == "planner":
        page.wait_for_selector("#chart polyline")
    page.wait_for_load_state("networkidle")
    count = page.evaluate(
        """() => {
            const controls = [...document.querySelectorAll(
                'a[href], button, input, select, textarea, audio[controls]')]
              .filter(c => !c.disabled && c.getClientRects().length > 0);
            controls.forEach((c, i) => c.dataset.control = String(i));
            return controls.length;
        }"""
    )
    page.evaluate("document.activeElement.blur()")
    reached: set[str] = set()
    for _ in range(count * 2 + 10):
        page.keyboard.press("Tab")
        control = page.evaluate("document.activeElement?.dataset?.control ?? null")
        if control is not None:
            reached.add(control)
        if len(reached) == count:
            break
    missing = page.evaluate(
        "reached => [...document.querySelectorAll('[data-control]')]"
        ".filter(c => !reached.includes(c.dataset.control)).map(c => c.outerHTML.slice(0, 80))",
        sorted(reached),
    )
    assert count > 5 and not missing, missing
    context.close()


@pytest.fixture(scope="module", autouse=True)
def docs_screens(browsing: Browsing) -> Iterator[None]:
    """With CONSOLE_DOCS=1 the screenshots are copied into docs/ (done once, committed)."""
    yield
    if os.environ.get("CONSOLE_DOCS") == "1":
        docs = Path(__file__).resolve().parents[2] / "docs"
        docs.mkdir(exist_ok=True)
        for shot in browsing.shots.glob("console-*.png"):
            shutil.copy2(shot, docs / shot.name)
