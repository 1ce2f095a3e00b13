// rota dashboard: refreshes the server-rendered pages from the JSON API and sends actions to
// it. Values from the API only ever reach the page through textContent and attributes,
// never as markup, so a job's payload or error is shown as text whatever it holds.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
const BASE = meta("rota-base");
const CSRF = meta("rota-csrf");
const READ_ONLY = meta("rota-read-only") === "true";
const REFRESH_MS = 5000;

// -- theme ------------------------------------------------------------------------------------

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem("rota-theme"));
document.getElementById("theme")?.addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === "dark"
    : matchMedia("(prefers-color-scheme: dark)").matches;
  const next = dark ? "light" : "dark";
  localStorage.setItem("rota-theme", next);
  applyTheme(next);
  document.dispatchEvent(new Event("rota-theme"));
});

// -- API --------------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(BASE + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: "bad_response", message: response.statusText }));
  if (!response.ok) throw new Error(data.message || data.error || String(response.status));
  return data;
}

function flash(text, bad = false) {
  const el = document.getElementById("flash");
  if (!el) return;
  el.textContent = text;
  el.className = bad ? "bad" : "ok";
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

function live(ok) {
  const el = document.getElementById("live");
  if (el) el.classList.toggle("stale", !ok);
}

// poll `fn` every REFRESH_MS while the tab is visible; a "rota-refresh" event on the document
// refreshes at once (body[data-refreshed] counts the refreshes done)
let refreshes = 0;
function every(fn) {
  const run = async () => {
    try { await fn(); live(true); } catch (err) { live(false); console.warn("refresh failed", err); }
    document.body.dataset.refreshed = String(++refreshes);
  };
  const tick = async () => {
    if (document.visibilityState === "visible") await run();
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
  document.addEventListener("rota-refresh", run);
}

// -- binding data to the page ------------------------------------------------------------------

const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
const pad = (n) => String(n).padStart(2, "0");

function showTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function setTime(el, iso) {
  el.dateTime = iso || "";
  el.title = iso || "";
  el.textContent = iso ? showTime(iso) : "-";
}

function setValue(el, value) {
  if (el.dataset.cls !== undefined) el.className = el.dataset.cls + (value ?? "");
  if (el.tagName === "TIME") return setTime(el, value);
  if (el.tagName === "PROGRESS") { el.value = value ?? 0; return; }
  if (el.dataset.value !== undefined) { el.value = value ?? ""; el.dataset.id = value ?? ""; return; }
  if (Array.isArray(value)) {
    if (el.tagName === "UL" || el.tagName === "OL") {
      const tmpl = el.dataset.items ? document.getElementById(`tmpl-${el.dataset.items}`) : null;
      el.replaceChildren(...value.map((item) => {
        if (tmpl) return filled(tmpl, item);
        const li = document.createElement("li");
        li.textContent = String(item);
        return li;
      }));
      return;
    }
    el.textContent = value.join(", ") || "-";
    return;
  }
  if (el.tagName === "A" && el.dataset.href) el.href = BASE + el.dataset.href.replace("{}", encodeURIComponent(value ?? ""));
  el.textContent = value === null || value === undefined || value === "" ? "-" : String(value);
}

function fill(root, data) {
  for (const el of root.querySelectorAll("[data-f]")) {
    if (el.closest("template")) continue;
    setValue(el, get(data, el.dataset.f));
  }
}

function filled(tmpl, data) {
  const node = tmpl.content.firstElementChild.cloneNode(true);
  const all = [node, ...node.querySelectorAll("[data-f]")].filter((el) => el.dataset?.f);
  for (const el of all) setValue(el, get(data, el.dataset.f));
  for (const el of node.querySelectorAll("details")) {
    if (!el.querySelector("pre")?.textContent.trim() || el.querySelector("pre")?.textContent === "-") el.remove();
  }
  return node;
}

function rows(tbody, tmplId, items, empty, cols) {
  const tmpl = document.getElementById(tmplId);
  if (!items.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    tr.className = "empty";
    td.colSpan = cols;
    td.textContent = empty;
    tr.append(td);
    tbody.replaceChildren(tr);
    return;
  }
  tbody.replaceChildren(...items.map((item) => {
    const row = filled(tmpl, item);
    if (item.id !== undefined) row.dataset.id = item.id;
    return row;
  }));
}

function localiseTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime]")) if (el.dateTime) setTime(el, el.dateTime);
}

// -- pages ----------------------------------------------------------------------------------------

const pages = {
  async overview() {
    const charts = await startCharts();
    const refresh = async () => {
      const o = await api("GET", "/api/v1/overview");
      fill(document.getElementById("summary"), o);
      if (!o.leader) setValue(document.querySelector('[data-f="leader.id"]'), o.election ? "none" : "no election (the store is not shared)");
      rows(document.querySelector("#queues tbody"), "tmpl-queue", o.queues, "no jobs yet", 7);
      const box = document.getElementById("workers");
      const tmpl = document.getElementById("tmpl-worker");
      box.replaceChildren(...o.workers.map((w) => filled(tmpl, w)));
      if (!o.workers.length) {
        const p = document.createElement("p");
        p.className = "empty muted";
        p.textContent = "no worker is running a job";
        box.append(p);
      }
      document.getElementById("worker-count").textContent = String(o.workers.length);
      await charts?.refresh();
    };
    every(refresh);
  },

  async jobs() {
    const table = document.getElementById("jobs");
    if (!table) return;
    const picked = () => [...table.querySelectorAll("tbody input.pick:checked")].map((el) => el.value);
    const update = () => {
      const n = picked().length;
      const label = document.getElementById("picked");
      if (label) label.textContent = `${n} selected`;
      for (const id of ["bulk-retry", "bulk-cancel"]) {
        const button = document.getElementById(id);
        if (button) button.disabled = n === 0;
      }
    };
    table.addEventListener("change", (event) => {
      if (event.target.id === "pick-all") {
        for (const el of table.querySelectorAll("tbody input.pick")) el.checked = event.target.checked;
      }
      update();
    });
    const reload = async () => {
      const page = await api("GET", table.dataset.api.slice(BASE.length));
      rows(table.querySelector("tbody"), "tmpl-job", page.jobs, "no jobs match", 9);
      const all = document.getElementById("pick-all");
      if (all) all.checked = false;
      update();
    };
    for (const [id, action] of [["bulk-retry", "retry"], ["bulk-cancel", "cancel"]]) {
      document.getElementById(id)?.addEventListener("click", async () => {
        try {
          const out = await api("POST", "/api/v1/jobs/bulk", { action, ids: picked() });
          const bad = out.results.filter((r) => !r.ok);
          const done = out.results.length - bad.length;
          flash(`${action}: ${done} done` + (bad.length ? `, ${bad.length} refused (${bad[0].message})` : ""), bad.length > 0);
          await reload();
        } catch (err) { flash(`${action} failed: ${err.message}`, true); }
      });
    }
    if (table.dataset.live === "true") every(async () => { if (!picked().length) await reload(); });
  },

  async job() {
    const section = document.getElementById("job");
    const id = section.dataset.id;
    const refresh = async () => {
      const j = await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`);
      fill(section, j);
      rows(document.querySelector("#attempts tbody"), "tmpl-attempt", j.history.map((a) => ({
        ...a, duration_seconds: a.duration_seconds.toFixed(3),
      })), "no attempt yet", 6);
    };
    for (const button of section.querySelectorAll("button[data-act]")) {
      button.addEventListener("click", async () => {
        const act = button.dataset.act;
        try {
          const out = await api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/${act}`);
          flash(act === "requeue" ? `queued a copy: ${out.new_job_id}` : `${act}: the job is ${out.status}`);
          await refresh();
        } catch (err) { flash(`${act} refused: ${err.message}`, true); }
      });
    }
    every(refresh);
  },

  async schedules() {
    const tbody = document.querySelector("#schedules tbody");
    const cols = READ_ONLY ? 9 : 10;
    const refresh = async () => {
      const list = await api("GET", "/api/v1/schedules");
      rows(tbody, "tmpl-schedule", list.map((s) => ({ ...s, state: s.paused ? "paused" : "active" })), "no schedules", cols);
    };
    tbody.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-act]");
      if (!button) return;
      const id = button.value || button.closest("tr").dataset.id;
      const act = button.dataset.act;
      if (act === "remove" && !confirm(`Remove the schedule ${id}? Its jobs stay.`)) return;
      try {
        const path = `/api/v1/schedules/${encodeURIComponent(id)}`;
        const out = act === "remove" ? await api("DELETE", path) : await api("POST", `${path}/${act}`);
        flash(act === "trigger" ? `${id}: queued job ${out.new_job_id}` : `${id}: ${out.status}`);
        await refresh();
      } catch (err) { flash(`${act} refused: ${err.message}`, true); }
    });
    every(refresh);
  },

  async leases() {
    const tbody = document.querySelector("#leases tbody");
    every(async () => rows(tbody, "tmpl-lease", await api("GET", "/api/v1/leases"), "no lease is held", 6));
  },
};

// -- charts (uPlot, vendored) ---------------------------------------------------------------------

async function startCharts() {
  const boxes = [document.getElementById("chart-throughput"), document.getElementById("chart-failures")];
  if (!boxes[0] || typeof window.uPlot === "undefined") return null;
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  let plots = [];
  let last = null;
  const build = (data) => {
    for (const p of plots) p.destroy();
    const axis = { stroke: css("--muted"), grid: { stroke: css("--line") }, ticks: { stroke: css("--line") } };
    const common = (box) => ({
      width: Math.max(240, box.clientWidth), height: 200, legend: { show: true },
      axes: [{ ...axis }, { ...axis }], cursor: { drag: { x: false, y: false } },
    });
    plots = [
      new window.uPlot({ ...common(boxes[0]), series: [{}, { label: "succeeded", stroke: css("--ok"), width: 2 },
        { label: "failed", stroke: css("--bad"), width: 2 }] }, data.throughput, boxes[0]),
      new window.uPlot({ ...common(boxes[1]), scales: { y: { range: [0, 100] } },
        series: [{}, { label: "failure %", stroke: css("--bad"), fill: css("--bad-fill"), width: 2, points: { show: true } }] }, data.failures, boxes[1]),
    ];
  };
  const load = async () => {
    const chart = await api("GET", "/api/v1/charts/finished?minutes=60&bucket=60");
    const t = chart.buckets.map((b) => Date.parse(b.start) / 1000);
    const ok = chart.buckets.map((b) => b.succeeded);
    const bad = chart.buckets.map((b) => b.failed);
    const rate = chart.buckets.map((b) => (b.succeeded + b.failed ? (100 * b.failed) / (b.succeeded + b.failed) : null));
    return { throughput: [t, ok, bad], failures: [t, rate] };
  };
  const refresh = async () => {
    last = await load();
    if (plots.length) {
      plots[0].setData(last.throughput);
      plots[1].setData(last.failures);
    } else build(last);
  };
  await refresh();
  addEventListener("resize", () => { for (const [i, p] of plots.entries()) p.setSize({ width: Math.max(240, boxes[i].clientWidth), height: 200 }); });
  document.addEventListener("rota-theme", () => last && build(last));
  return { refresh };
}

// -- start ------------------------------------------------------------------------------------------

localiseTimes();
const start = pages[document.body.dataset.page];
if (start) {
  start().then(() => { document.body.dataset.ready = "true"; }, (err) => {
    document.body.dataset.ready = "error";
    console.error(err);
  });
} else {
  document.body.dataset.ready = "true";
}
