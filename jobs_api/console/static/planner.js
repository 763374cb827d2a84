// /console/planner: the planner's inputs as fields and sliders; each change asks POST
// /v1/plan and redraws the table and the cost-against-volume chart (log-log, inline SVG).
"use strict";

(() => {
  const { api, el, svg } = Console;
  const WIDTH = 640;
  const HEIGHT = 400;
  const PAD = { left: 90, right: 20, top: 20, bottom: 50 };
  let timer = null;
  let choicesFilled = false;

  function usd(value) {
    return `$${Number(value).toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 })}`;
  }

  function inputs() {
    const form = document.getElementById("planner-form");
    const number = (name) => Number(form.elements[name].value);
    return {
      tasks_per_month: number("tasks_per_month"),
      minutes_per_task: number("minutes_per_task"),
      peak_ratio: number("peak_ratio"),
      latency_target_seconds: number("latency_target_seconds"),
      spot_share: number("spot_share"),
      summary_share: number("summary_share"),
      model: form.elements.model.value,
      instance_type: form.elements.instance_type.value,
    };
  }

  function fill(select, values) {
    const chosen = select.value;
    select.replaceChildren(...values.map((v) => el("option", { value: v, selected: v === chosen }, v)));
  }

  function table(plan) {
    const crossover = plan.crossover_tasks_per_month;
    const rows = [
      ["GPUs at peak", String(plan.gpus_peak)],
      ["GPUs on average", String(plan.gpus_mean)],
      ["Self-hosted per month", usd(plan.self_hosted_monthly_usd)],
      ["Managed per month", usd(plan.managed_monthly_usd)],
      ["Savings", `${(plan.savings_fraction * 100).toFixed(1)}% of the managed cost`],
      ["Crossover", crossover === null ? "none in range" : `${crossover.toLocaleString("en-US")} tasks/month`],
      ["Phase", `${plan.phase}: ${plan.phase_description}`],
      ["Audio per month", `${Math.round(plan.audio_minutes_per_month).toLocaleString("en-US")} min`],
      ["Figures", `version ${plan.figures.version}, as of ${plan.figures.as_of}`],
    ];
    document.querySelector("#plan-table tbody").replaceChildren(
      ...rows.map(([name, value]) => el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, value))),
    );
  }

  function chart(data) {
    const points = data.points;
    const xs = points.map((p) => p.tasks_per_month);
    const ys = points.flatMap((p) => [p.self_hosted_usd, p.managed_usd]).filter((y) => y > 0);
    const [x0, x1] = [Math.log10(Math.min(...xs)), Math.log10(Math.max(...xs))];
    const [y0, y1] = [Math.floor(Math.log10(Math.min(...ys))), Math.ceil(Math.log10(Math.max(...ys)))];
    const sx = (x) => PAD.left + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * (WIDTH - PAD.left - PAD.right);
    const sy = (y) => HEIGHT - PAD.bottom - ((Math.log10(Math.max(y, 1e-9)) - y0) / (y1 - y0 || 1)) * (HEIGHT - PAD.top - PAD.bottom);
    const root = document.getElementById("chart");
    const parts = [];
    parts.push(svg("rect", { class: "plot", x: PAD.left, y: PAD.top, width: WIDTH - PAD.left - PAD.right, height: HEIGHT - PAD.top - PAD.bottom }));
    for (let e = Math.ceil(x0); e <= Math.floor(x1); e += 1) {
      const x = sx(10 ** e);
      parts.push(svg("line", { class: "grid", x1: x, x2: x, y1: PAD.top, y2: HEIGHT - PAD.bottom }));
      const label = svg("text", { class: "tick", x, y: HEIGHT - PAD.bottom + 18, "text-anchor": "middle" });
      label.textContent = (10 ** e).toLocaleString("en-US");
      parts.push(label);
    }
    for (let e = y0; e <= y1; e += 1) {
      const y = sy(10 ** e);
      parts.push(svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }));
      const label = svg("text", { class: "tick", x: PAD.left - 6, y: y + 4, "text-anchor": "end" });
      label.textContent = `$${(10 ** e).toLocaleString("en-US")}`;
      parts.push(label);
    }
    const line = (key, cls) => svg("polyline", {
      class: cls,
      points: points.map((p) => `${sx(p.tasks_per_month).toFixed(1)},${sy(p[key]).toFixed(1)}`).join(" "),
    });
    parts.push(line("self_hosted_usd", "self-hosted"), line("managed_usd", "managed"));
    const planX = sx(data.plan_tasks_per_month);
    parts.push(svg("line", { class: "this-plan", x1: planX, x2: planX, y1: PAD.top, y2: HEIGHT - PAD.bottom }));
    if (data.crossover) {
      parts.push(svg("circle", { class: "crossover", cx: sx(data.crossover.tasks_per_month), cy: sy(data.crossover.usd), r: 7 }));
    }
    const xTitle = svg("text", { class: "axis-title", x: (WIDTH + PAD.left) / 2, y: HEIGHT - 10, "text-anchor": "middle" });
    xTitle.textContent = "tasks per month";
    const yTitle = svg("text", { class: "axis-title", x: 14, y: HEIGHT / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${HEIGHT / 2})` });
    yTitle.textContent = "cost per month (USD)";
    parts.push(xTitle, yTitle);
    root.replaceChildren(...parts);
    document.getElementById("chart-desc").textContent = data.crossover
      ? `Self-hosting gets cheaper than managed at ${data.crossover.tasks_per_month.toLocaleString("en-US")} tasks a month (${usd(data.crossover.usd)} a month).`
      : "No crossover in the range: managed stays cheaper.";
  }

  async function replan() {
    const error = document.getElementById("plan-error");
    try {
      const answer = await api("POST", "/v1/plan", inputs());
      error.textContent = "";
      if (!choicesFilled) {
        fill(document.getElementById("plan-model"), answer.choices.models);
        fill(document.getElementById("instance_type"), answer.choices.instance_types);
        choicesFilled = true;
      }
      table(answer.plan);
      chart(answer.chart);
    } catch (failure) {
      error.textContent = failure.field ? `${failure.field}: ${failure.message}` : failure.message;
    }
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(replan, 150);
  }

  function showValues() {
    for (const output of document.querySelectorAll("#planner-form output")) {
      output.textContent = document.getElementById(output.htmlFor.value).value;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("planner-form");
    form.addEventListener("submit", (event) => event.preventDefault());
    form.addEventListener("input", (event) => {
      const target = event.target;
      if (target.dataset.logFor) {
        document.getElementById(target.dataset.logFor).value = String(Math.round(10 ** Number(target.value)));
      } else if (target.dataset.for) {
        document.getElementById(target.dataset.for).value = target.value;
      } else if (target.id === "tasks_per_month" && Number(target.value) > 0) {
        document.getElementById("tasks_per_month_slider").value = String(Math.log10(Number(target.value)));
      } else if (target.id === "minutes_per_task") {
        document.getElementById("minutes_per_task_slider").value = target.value;
      }
      showValues();
      soon();
    });
    form.addEventListener("change", soon);
    showValues();
    Console.start(replan);
  });
})();
