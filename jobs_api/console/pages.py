"""The console's three pages as HTML: a shared shell (navigation, sign-in) around each body.

The pages carry no user data: the one value put in server-side is a job id the route has
matched against ``[0-9a-f]{32}`` (escaped all the same). Everything else is filled in by the
page's script with ``textContent``.
"""

from __future__ import annotations

from html import escape

__all__ = ["job_page", "jobs_page", "planner_page"]

SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Transcription console</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/common.js" defer></script>
<script src="/console/static/{script}" defer></script>
</head>
<body>
<header class="bar">
  <a class="brand" href="/console">Transcription console</a>
  <nav aria-label="Pages">
    <a href="/console">Jobs</a>
    <a href="/console/planner">Planner</a>
  </nav>
  <button type="button" id="sign-out" hidden>Sign out</button>
</header>
<main id="main" data-page="{page}"{data}>
<section id="sign-in" aria-labelledby="sign-in-title" hidden>
  <h1 id="sign-in-title">Sign in</h1>
  <form id="sign-in-form" method="post" autocomplete="off">
    <label for="api-key">API key</label>
    <input id="api-key" name="api_key" type="password" required autocomplete="off"
           spellcheck="false">
    <button type="submit">Sign in</button>
    <p id="sign-in-error" class="error" role="alert"></p>
  </form>
  <p class="hint">The key stays in this tab (session storage) and is sent only to this
  server, as <code>Authorization: Bearer</code>.</p>
</section>
<div id="content" hidden>
{body}
</div>
</main>
</body>
</html>
"""

JOBS_BODY = """<h1>Jobs</h1>
<section aria-labelledby="upload-title" class="card">
  <h2 id="upload-title">New job</h2>
  <form id="upload-form">
    <div id="drop-zone" class="drop-zone">
      <label for="files">Audio files (drop them here, or choose)</label>
      <input id="files" name="files" type="file" multiple accept="audio/*,video/*">
    </div>
    <ul id="upload-list" class="upload-list" aria-label="Files to upload"></ul>
    <div class="fields">
      <label for="model">Model</label>
      <select id="model" name="model">
        <option value="">server default</option>
        <option value="tiny.en">tiny.en</option>
        <option value="base">base</option>
        <option value="small">small</option>
        <option value="medium">medium</option>
        <option value="large-v3">large-v3</option>
      </select>
      <label for="language">Language</label>
      <select id="language" name="language">
        <option value="">detect</option>
        <option value="en">English (en)</option>
        <option value="es">Spanish (es)</option>
        <option value="de">German (de)</option>
        <option value="fr">French (fr)</option>
        <option value="it">Italian (it)</option>
        <option value="pt">Portuguese (pt)</option>
      </select>
      <label for="priority">Priority</label>
      <select id="priority" name="priority">
        <option value="high">high</option>
        <option value="normal" selected>normal</option>
        <option value="low">low</option>
      </select>
      <span class="check"><input id="diarize" name="diarize" type="checkbox">
      <label for="diarize">Label the speakers (diarize)</label></span>
    </div>
    <fieldset class="formats">
      <legend>Formats</legend>
      <span class="check"><input id="format-json" type="checkbox" name="formats" value="json"
        checked disabled><label for="format-json">json (always)</label></span>
      <span class="check"><input id="format-txt" type="checkbox" name="formats" value="txt"
        checked><label for="format-txt">txt</label></span>
      <span class="check"><input id="format-srt" type="checkbox" name="formats" value="srt"
        checked><label for="format-srt">srt</label></span>
      <span class="check"><input id="format-vtt" type="checkbox" name="formats" value="vtt"
        checked><label for="format-vtt">vtt</label></span>
      <span class="check"><input id="format-tsv" type="checkbox" name="formats" value="tsv"
        checked><label for="format-tsv">tsv</label></span>
    </fieldset>
    <button type="submit" id="start-job">Start the job</button>
    <p id="upload-status" role="status"></p>
  </form>
</section>
<section aria-labelledby="jobs-title" class="card">
  <h2 id="jobs-title">Your jobs</h2>
  <p id="jobs-error" class="error" role="alert"></p>
  <table id="jobs">
    <thead><tr><th scope="col">Created</th><th scope="col">Job</th><th scope="col">Status</th>
      <th scope="col">Progress</th><th scope="col">Action</th></tr></thead>
    <tbody></tbody>
  </table>
  <p id="jobs-empty" hidden>No jobs yet.</p>
</section>
"""

JOB_BODY = """<p><a href="/console">← All jobs</a></p>
<h1>Job <code id="job-id"></code></h1>
<p id="job-error" class="error" role="alert"></p>
<p class="summary"><span>Status: <strong id="job-status"></strong></span>
  <progress id="job-progress" max="1" value="0" aria-label="Job progress"></progress>
  <span id="job-counts"></span></p>
<section aria-labelledby="items-title" class="card">
  <h2 id="items-title">Items</h2>
  <table id="items">
    <thead><tr><th scope="col">Item</th><th scope="col">Status</th><th scope="col">Language</th>
      <th scope="col">Duration</th><th scope="col">Transcript</th></tr></thead>
    <tbody></tbody>
  </table>
</section>
<section id="viewer" aria-labelledby="viewer-title" class="card" hidden>
  <h2 id="viewer-title">Transcript of <span id="viewer-item"></span></h2>
  <p class="meta">Language: <strong id="viewer-language"></strong>
    · Model: <span id="viewer-model"></span>
    · Duration: <span id="viewer-duration"></span></p>
  <ul id="viewer-warnings" class="warnings" aria-label="Warnings"></ul>
  <div class="downloads" role="group" aria-label="Downloads">
    <button type="button" data-format="json">Download json</button>
    <button type="button" data-format="txt">Download txt</button>
    <button type="button" data-format="srt">Download srt</button>
    <button type="button" data-format="vtt">Download vtt</button>
    <button type="button" data-format="tsv">Download tsv</button>
  </div>
  <div class="player">
    <audio id="audio" controls preload="auto" aria-label="Audio of the item"></audio>
    <div id="transcript" class="transcript" aria-label="Transcript" aria-live="off"></div>
  </div>
</section>
"""

PLANNER_BODY = """<h1>Capacity planner</h1>
<p>The same plan as <code>transcription-router plan</code>: GPUs, monthly costs and the
volume where self-hosting gets cheaper than AWS Transcribe.</p>
<form id="planner-form" class="planner card">
  <label for="tasks_per_month">Tasks per month</label>
  <input id="tasks_per_month" name="tasks_per_month" type="number" min="1" step="any"
         value="50000">
  <label for="tasks_per_month_slider">Tasks per month (slider, log scale)</label>
  <input id="tasks_per_month_slider" type="range" min="1" max="8" step="0.05" value="4.7"
         data-log-for="tasks_per_month">
  <label for="minutes_per_task">Minutes per task</label>
  <input id="minutes_per_task" name="minutes_per_task" type="number" min="0.1" step="any"
         value="3">
  <label for="minutes_per_task_slider">Minutes per task (slider)</label>
  <input id="minutes_per_task_slider" type="range" min="0.5" max="120" step="0.5" value="3"
         data-for="minutes_per_task">
  <label for="peak_ratio">Peak ratio (busiest hour ÷ mean)</label>
  <input id="peak_ratio" name="peak_ratio" type="range" min="1" max="24" step="0.5" value="3">
  <output id="peak_ratio_value" for="peak_ratio"></output>
  <label for="latency_target_seconds">Latency target (seconds)</label>
  <input id="latency_target_seconds" name="latency_target_seconds" type="number" min="1"
         step="any" value="3600">
  <label for="spot_share">Spot share of worker hours</label>
  <input id="spot_share" name="spot_share" type="range" min="0" max="1" step="0.05" value="0.8">
  <output id="spot_share_value" for="spot_share"></output>
  <label for="summary_share">Share of tasks with a summary</label>
  <input id="summary_share" name="summary_share" type="range" min="0" max="1" step="0.05"
         value="0">
  <output id="summary_share_value" for="summary_share"></output>
  <label for="plan-model">Model</label>
  <select id="plan-model" name="model"><option value="large-v3">large-v3</option></select>
  <label for="instance_type">Instance type</label>
  <select id="instance_type" name="instance_type">
    <option value="g5.xlarge">g5.xlarge</option></select>
</form>
<p id="plan-error" class="error" role="alert"></p>
<div class="plan-out">
  <section aria-labelledby="plan-table-title" class="card">
    <h2 id="plan-table-title">Plan</h2>
    <table id="plan-table"><tbody></tbody></table>
  </section>
  <section aria-labelledby="chart-title" class="card">
    <h2 id="chart-title">Monthly cost against tasks per month</h2>
    <figure>
      <svg id="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 640 400"
           xmlns="http://www.w3.org/2000/svg"></svg>
      <figcaption id="chart-desc"></figcaption>
    </figure>
    <ul class="legend">
      <li class="legend-self">self-hosted</li>
      <li class="legend-managed">managed (AWS Transcribe)</li>
      <li class="legend-crossover">crossover</li>
      <li class="legend-plan">this plan</li>
    </ul>
  </section>
</div>
"""


def _page(title: str, page: str, script: str, body: str, **data: str) -> str:
    attributes = "".join(f' data-{name}="{escape(value)}"' for name, value in data.items())
    return SHELL.format(title=escape(title), page=page, script=script, body=body, data=attributes)


def jobs_page() -> str:
    return _page("Jobs", "jobs", "jobs.js", JOBS_BODY)


def job_page(job_id: str) -> str:
    return _page("Job", "job", "job.js", JOB_BODY, **{"job-id": job_id})


def planner_page() -> str:
    return _page("Planner", "planner", "planner.js", PLANNER_BODY)
