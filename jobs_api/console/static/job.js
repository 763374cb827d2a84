// /console/jobs/{job_id}: the job's progress (polled until it ends), its items, and one
// item's transcript beside its audio: the word being spoken highlighted, a click on a word
// seeks there, speakers coloured, downloads of every format.
"use strict";

(() => {
  const { api, el, TERMINAL } = Console;
  const POLL_MS = 1000;
  const jobId = document.getElementById("main").dataset.jobId;
  let shown = null; // the item whose transcript is shown: {id, results}
  let words = []; // [{start, end, node}] in time order
  let current = null;
  let opening = 0;

  function clock(value) {
    const total = Math.max(0, Number(value) || 0);
    const minutes = Math.floor(total / 60);
    return `${minutes}:${(total - minutes * 60).toFixed(1).padStart(4, "0")}`;
  }

  function itemRow(item) {
    let action = "";
    if (item.status === "succeeded") {
      action = el("button", { type: "button" }, "Show");
      action.setAttribute("aria-label", `Show the transcript of ${item.id}`);
      action.addEventListener("click", () => openItem(item.id));
    } else if (item.error) {
      action = el("span", { className: "error" }, item.error.message || item.error.error || "failed");
    }
    const row = el(
      "tr",
      {},
      el("td", {}, el("code", {}, item.id)),
      el("td", { className: "status" }, item.status),
      el("td", {}, item.language || "–"),
      el("td", {}, Console.seconds(item.duration)),
      el("td", {}, action),
    );
    row.dataset.itemId = item.id;
    return row;
  }

  let opened = false;
  async function refresh() {
    let job;
    try {
      job = await api("GET", `/v1/jobs/${encodeURIComponent(jobId)}`);
    } catch (error) {
      document.getElementById("job-error").textContent = `Could not read the job: ${error.message}`;
      return error.status === 404;
    }
    document.getElementById("job-status").textContent = job.status;
    const { finished, total } = Console.progressOf(job.progress);
    const bar = document.getElementById("job-progress");
    bar.max = Math.max(total, 1);
    bar.value = finished;
    document.getElementById("job-counts").textContent = Console.countsText(job.progress);
    const tbody = document.querySelector("#items tbody");
    tbody.replaceChildren(...job.items.map(itemRow));
    const first = job.items.find((item) => item.status === "succeeded");
    if (first && !opened) {
      opened = true;
      openItem(first.id);
    }
    return TERMINAL.has(job.status);
  }

  async function openItem(itemId) {
    const viewer = document.getElementById("viewer");
    viewer.dataset.item = "";
    viewer.setAttribute("aria-busy", "true");
    const token = ++opening; // a later click wins over an earlier one still loading
    const results = await api("GET", `/v1/jobs/${encodeURIComponent(jobId)}/results`);
    const item = results.items.find((i) => i.id === itemId);
    if (!item || !item.results.json) return;
    const response = await fetch(item.results.json.url, { credentials: "omit" });
    const transcript = await response.json();
    if (token !== opening) return;
    shown = item;
    document.getElementById("viewer-item").textContent = item.id;
    document.getElementById("viewer-language").textContent = transcript.language || "unknown";
    document.getElementById("viewer-model").textContent = transcript.model || "–";
    document.getElementById("viewer-duration").textContent = Console.seconds(transcript.duration);
    const warnings = [...(transcript.warnings || [])];
    document.getElementById("viewer-warnings").replaceChildren(
      ...warnings.map((text) => el("li", {}, text)),
    );
    for (const button of document.querySelectorAll(".downloads button")) {
      button.disabled = !item.results[button.dataset.format];
      button.title = button.disabled ? "not among the job's formats" : "";
    }
    const audio = document.getElementById("audio");
    if (item.audio) audio.src = item.audio.url;
    renderTranscript(transcript);
    viewer.hidden = false;
    viewer.removeAttribute("aria-busy");
    viewer.dataset.item = item.id; // shown and ready
  }

  function renderTranscript(transcript) {
    const speakers = new Map();
    words = [];
    current = null;
    const blocks = (transcript.segments || []).map((segment) => {
      const seek = el("button", { type: "button", className: "time" }, clock(segment.start));
      seek.setAttribute("aria-label", `Play from ${clock(segment.start)}`);
      seek.addEventListener("click", () => play(segment.start));
      const block = el("p", { className: "segment" }, seek);
      if (segment.speaker) {
        if (!speakers.has(segment.speaker)) speakers.set(segment.speaker, speakers.size);
        const colour = speakers.get(segment.speaker) % 8;
        block.classList.add(`speaker-${colour}`);
        block.append(el("span", { className: `speaker speaker-${colour}` }, segment.speaker));
      }
      const list = segment.words && segment.words.length
        ? segment.words
        : [{ word: segment.text, start: segment.start, end: segment.end }];
      for (const word of list) {
        const node = el("span", { className: "word" }, word.word);
        node.dataset.start = String(word.start);
        node.addEventListener("click", () => play(word.start));
        words.push({ start: word.start, end: word.end, node });
        block.append(node);
      }
      return block;
    });
    words.sort((a, b) => a.start - b.start);
    document.getElementById("transcript").replaceChildren(...blocks);
  }

  function play(start) {
    const audio = document.getElementById("audio");
    audio.currentTime = start;
    highlight();
    audio.play().catch(() => {});
  }

  function wordAt(time) {
    let low = 0;
    let high = words.length - 1;
    let found = null;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (words[middle].start <= time) {
        found = words[middle];
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  function highlight() {
    const next = wordAt(document.getElementById("audio").currentTime);
    if (next === current) return;
    if (current) {
      current.node.classList.remove("current");
      current.node.removeAttribute("aria-current");
    }
    current = next;
    if (current) {
      current.node.classList.add("current");
      current.node.setAttribute("aria-current", "true");
    }
  }

  function follow() {
    const audio = document.getElementById("audio");
    highlight();
    if (!audio.paused && !audio.ended) window.requestAnimationFrame(follow);
  }

  async function download(format) {
    const link = shown && shown.results[format];
    if (!link) return;
    const response = await fetch(link.url, { credentials: "omit" });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const anchor = el("a", { href: url, download: `${shown.id}.${format}` });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("job-id").textContent = jobId;
    const audio = document.getElementById("audio");
    audio.addEventListener("play", follow);
    audio.addEventListener("seeked", highlight);
    audio.addEventListener("timeupdate", highlight);
    for (const button of document.querySelectorAll(".downloads button")) {
      button.addEventListener("click", () => download(button.dataset.format));
    }
    Console.start(() => Console.poll(refresh, POLL_MS));
  });
})();
