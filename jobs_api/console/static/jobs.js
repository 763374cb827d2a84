// /console: upload files as one job (presigned PUTs, a progress bar each), and the caller's
// jobs, newest first, polled live, with a cancel button for those still running.
"use strict";

(() => {
  const { api, el, TERMINAL } = Console;
  const POLL_MS = 1000;
  const files = []; // {file, id, progress, state}
  const rows = new Map(); // job_id → {row, status, progress, counts, action}

  function itemId(name, taken) {
    let base = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[^A-Za-z0-9]+/, "");
    base = (base || "audio").slice(0, 120);
    let id = base;
    for (let n = 2; taken.has(id) || id.endsWith(".error"); n += 1) id = `${base}-${n}`;
    taken.add(id);
    return id;
  }

  function extension(name) {
    const found = /\.([A-Za-z0-9]{1,5})$/.exec(name);
    return found ? found[1].toLowerCase() : null;
  }

  function addFiles(list) {
    for (const file of list) {
      const progress = el("progress", { max: 1, value: 0 });
      progress.setAttribute("aria-label", `Upload of ${file.name}`);
      const state = el("span", { className: "file-state" }, "ready");
      const remove = el("button", { type: "button", className: "link" }, "Remove");
      remove.setAttribute("aria-label", `Remove ${file.name}`);
      const entry = { file, progress, state };
      const li = el(
        "li",
        {},
        el("span", { className: "file-name" }, file.name),
        el("span", { className: "file-size" }, `${(file.size / 1024).toFixed(1)} KiB`),
        progress,
        state,
        remove,
      );
      remove.addEventListener("click", () => {
        files.splice(files.indexOf(entry), 1);
        li.remove();
      });
      entry.li = li;
      files.push(entry);
      document.getElementById("upload-list").append(li);
    }
  }

  function put(entry, url) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("PUT", url);
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) entry.progress.value = event.loaded / event.total;
      });
      request.addEventListener("load", () => {
        if (request.status >= 200 && request.status < 300) {
          entry.progress.value = 1;
          entry.state.textContent = "uploaded";
          resolve();
        } else {
          entry.state.textContent = `upload failed (${request.status})`;
          reject(new Error(`upload of ${entry.file.name}: HTTP ${request.status}`));
        }
      });
      request.addEventListener("error", () => {
        entry.state.textContent = "upload failed";
        reject(new Error(`upload of ${entry.file.name} failed`));
      });
      entry.state.textContent = "uploading";
      request.send(entry.file);
    });
  }

  function jobRequest(pending) {
    const form = document.getElementById("upload-form");
    const taken = new Set();
    const items = pending.map((entry) => {
      entry.id = itemId(entry.file.name, taken);
      const item = { id: entry.id, upload: true };
      const ext = extension(entry.file.name);
      if (ext) item.ext = ext;
      return item;
    });
    const formats = [...form.querySelectorAll("input[name=formats]:checked")].map((i) => i.value);
    const options = { formats };
    if (form.model.value) options.model = form.model.value;
    if (form.diarize.checked) options.diarize = true;
    const body = { job_type: "asr", items, priority: form.priority.value, options };
    if (form.language.value) body.default_src_lng = form.language.value;
    return body;
  }

  async function startJob(event) {
    event.preventDefault();
    const status = document.getElementById("upload-status");
    const pending = files.filter((entry) => !entry.sent);
    if (!pending.length) {
      status.textContent = "Choose or drop audio files first.";
      return;
    }
    const button = document.getElementById("start-job");
    button.disabled = true;
    try {
      const accepted = await api("POST", "/v1/jobs", jobRequest(pending));
      status.textContent = `Job ${accepted.job_id} created; uploading ${pending.length} file(s)…`;
      const urls = new Map((accepted.uploads || []).map((u) => [u.id, u.url]));
      pending.forEach((entry) => (entry.sent = true));
      await Promise.all(pending.map((entry) => put(entry, urls.get(entry.id))));
      status.textContent = `Job ${accepted.job_id}: ${pending.length} file(s) uploaded.`;
      refresh();
    } catch (error) {
      const field = error.field ? ` (${error.field})` : "";
      status.textContent = `Could not start the job: ${error.message}${field}`;
    } finally {
      button.disabled = false;
    }
  }

  function jobRow(job) {
    const link = el("a", { href: `/console/jobs/${encodeURIComponent(job.job_id)}` });
    link.append(el("code", {}, job.job_id));
    const status = el("td", { className: "status" });
    const progress = el("progress", { max: 1, value: 0 });
    progress.setAttribute("aria-label", `Progress of job ${job.job_id}`);
    const counts = el("span", { className: "counts" });
    const action = el("td");
    const row = el(
      "tr",
      {},
      el("td", {}, new Date(job.created_at).toLocaleString()),
      el("td", {}, link),
      status,
      el("td", {}, progress, counts),
      action,
    );
    row.dataset.jobId = job.job_id;
    return { row, status, progress, counts, action, cancel: null };
  }

  function update(entry, job) {
    entry.status.textContent = job.status;
    entry.row.dataset.status = job.status;
    const { finished, total } = Console.progressOf(job.progress);
    entry.progress.max = Math.max(total, 1);
    entry.progress.value = finished;
    entry.counts.textContent = ` ${Console.countsText(job.progress)}`;
    const ended = TERMINAL.has(job.status);
    if (!ended && !entry.cancel) {
      entry.cancel = el("button", { type: "button" }, "Cancel");
      entry.cancel.setAttribute("aria-label", `Cancel job ${job.job_id}`);
      entry.cancel.addEventListener("click", () => cancel(job.job_id, entry));
      entry.action.append(entry.cancel);
    } else if (ended && entry.cancel) {
      entry.cancel.remove();
      entry.cancel = null;
    }
  }

  async function cancel(jobId, entry) {
    entry.cancel.disabled = true;
    try {
      update(entry, await api("DELETE", `/v1/jobs/${encodeURIComponent(jobId)}`));
    } catch (error) {
      document.getElementById("jobs-error").textContent = `Cancel failed: ${error.message}`;
      if (entry.cancel) entry.cancel.disabled = false;
    }
  }

  async function refresh() {
    const tbody = document.querySelector("#jobs tbody");
    let page;
    try {
      page = await api("GET", "/v1/jobs?limit=50");
      document.getElementById("jobs-error").textContent = "";
    } catch (error) {
      document.getElementById("jobs-error").textContent = `Could not list jobs: ${error.message}`;
      return false;
    }
    page.jobs.forEach((job, index) => {
      let entry = rows.get(job.job_id);
      if (!entry) {
        entry = jobRow(job);
        rows.set(job.job_id, entry);
      }
      update(entry, job);
      if (tbody.children[index] !== entry.row) tbody.insertBefore(entry.row, tbody.children[index] || null);
    });
    document.getElementById("jobs-empty").hidden = page.jobs.length > 0;
    return false; // keep polling: new jobs may come from elsewhere
  }

  function ready() {
    Console.poll(refresh, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const input = document.getElementById("files");
    input.addEventListener("change", () => {
      addFiles(input.files);
      input.value = "";
    });
    const zone = document.getElementById("drop-zone");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      addFiles(event.dataTransfer.files);
    });
    document.getElementById("upload-form").addEventListener("submit", startJob);
    Console.start(ready);
  });
})();
