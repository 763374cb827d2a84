// The console's shared part: the key (this tab's sessionStorage only), API calls, sign-in,
// and a small element builder that puts every value in as text (never as HTML).
"use strict";

const Console = (() => {
  const STORAGE_KEY = "transcription-console.api-key";
  const TERMINAL = new Set(["succeeded", "partially_failed", "failed", "canceled"]);
  let onReady = null;

  class ApiError extends Error {
    constructor(status, body) {
      const detail = body && body.error ? body.error : {};
      super(detail.message || `HTTP ${status}`);
      this.status = status;
      this.field = detail.field || null;
    }
  }

  function key() {
    return window.sessionStorage.getItem(STORAGE_KEY);
  }

  // A fetch with the key as a bearer token; a 401 signs out and shows the sign-in form.
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${key() || ""}` };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : null;
    if (response.status === 401) {
      signOut("The key was refused (401): sign in again.");
    }
    if (!response.ok) {
      throw new ApiError(response.status, data);
    }
    return data;
  }

  // el("td", {className: "x"}, "text", child…): attributes as properties, strings as text.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    return node;
  }

  function signedIn() {
    return Boolean(key());
  }

  function show(signedInNow, message) {
    document.getElementById("sign-in").hidden = signedInNow;
    document.getElementById("content").hidden = !signedInNow;
    document.getElementById("sign-out").hidden = !signedInNow;
    document.getElementById("sign-in-error").textContent = message || "";
    if (!signedInNow) document.getElementById("api-key").focus();
  }

  function signOut(message) {
    window.sessionStorage.removeItem(STORAGE_KEY);
    show(false, message);
  }

  async function signIn(event) {
    event.preventDefault();
    const input = document.getElementById("api-key");
    const token = input.value.trim();
    input.value = "";
    if (!token) return;
    window.sessionStorage.setItem(STORAGE_KEY, token);
    try {
      await api("GET", "/v1/jobs?limit=1");
    } catch (error) {
      if (error.status !== 401) signOut(`Could not sign in: ${error.message}`);
      return;
    }
    show(true);
    if (onReady) onReady();
  }

  // Each page calls start(ready): ready() runs once signed in (now, or after the form).
  function start(ready) {
    onReady = ready;
    document.getElementById("sign-in-form").addEventListener("submit", signIn);
    document.getElementById("sign-out").addEventListener("click", () => signOut(""));
    if (signedIn()) {
      show(true);
      ready();
    } else {
      show(false);
    }
  }

  // Run task every `ms` while signed in and until it returns true (done).
  function poll(task, ms) {
    let timer = null;
    async function tick() {
      if (!signedIn()) return;
      let done = false;
      try {
        done = await task();
      } catch (error) {
        done = false;
      }
      if (!done) timer = window.setTimeout(tick, ms);
    }
    tick();
    return () => window.clearTimeout(timer);
  }

  function progressOf(progress) {
    const finished = progress.succeeded + progress.failed + progress.canceled;
    return { finished, total: progress.total };
  }

  function countsText(progress) {
    const parts = ["queued", "running", "succeeded", "failed", "canceled"]
      .filter((name) => progress[name] > 0)
      .map((name) => `${progress[name]} ${name}`);
    return `${parts.join(", ") || "no tasks"} of ${progress.total}`;
  }

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    return `${Number(value).toFixed(1)} s`;
  }

  return { ApiError, TERMINAL, api, el, svg, start, poll, progressOf, countsText, seconds, signedIn };
})();
