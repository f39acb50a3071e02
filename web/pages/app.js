// lbl-web's pages: plain JavaScript, no library, no build step. The rig page
// follows /api/v1/events (Server-Sent Events of lbld's status and events); the history
// page reads /api/v1/batches and one batch's record. Changes (continue,
// pause, resume, abort) need a login; the CSRF token the login answers goes
// with each of them in the X-CSRF-Token header.
"use strict";
const $ = (id) => document.getElementById(id);
let csrf = null, user = null, lastState = null;

function showError(text) { const e = $("error"); if (e) e.textContent = text || ""; }

async function api(path, options) {
  const r = await fetch("/api/v1/" + path, Object.assign({ credentials: "same-origin" }, options));
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || r.status + " " + r.statusText);
  return body;
}

async function post(command, form) {
  if (!csrf) { showError("Log in first: changing the rig is for operators."); return; }
  try {
    await api(command, { method: "POST", headers: { "X-CSRF-Token": csrf,
      "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form || {}) });
    showError("");
  } catch (e) { showError(e.message); }
}

function duration(ms) {
  if (ms == null || ms <= 0) return "0 s";
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s";
}

// The record's UTC stamps in the browser's local time.
function stamp(s) {
  if (!s) return "";
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString([], { dateStyle: "short", timeStyle: "medium" });
}
function nm(v) { return v == null ? "" : v.toFixed(1); }

function set(id, text) { const e = $(id); if (e) e.textContent = text == null ? "–" : text; }

// A small SVG chart: estimated thickness per bilayer as a line, measured as dots.
function chart(svg, points, second) {
  const NS = "http://www.w3.org/2000/svg", W = 600, H = 200, L = 44, B = 24, T = 10, R = 10;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const el = (name, attrs, text) => {
    const n = document.createElementNS(NS, name);
    for (const k in attrs) n.setAttribute(k, attrs[k]);
    if (text != null) n.textContent = text;
    svg.appendChild(n);
    return n;
  };
  const all = points.concat(second || []);
  const maxN = Math.max(1, ...all.map((p) => p.n));
  const maxY = Math.max(1, ...all.map((p) => Math.max(p.est || 0, p.meas || 0)));
  const x = (n) => L + (W - L - R) * n / maxN, y = (v) => H - B - (H - B - T) * v / maxY;
  el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" });
  el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" });
  el("text", { x: 2, y: T + 8 }, maxY.toFixed(0) + " nm");
  el("text", { x: 2, y: H - B }, "0");
  el("text", { x: W - R - 60, y: H - 6 }, "bilayer " + maxN);
  // a second series (compare): its own colours
  for (const [series, est, meas] of [[points, "est", "meas"], [second || [], "est2", "meas2"]]) {
    const e = series.filter((p) => p.est != null);
    if (e.length)
      el("polyline", { class: est, points: [[0, 0]].concat(e.map((p) => [p.n, p.est]))
        .map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ") });
    for (const p of series)
      if (p.meas != null) el("circle", { class: meas, cx: x(p.n), cy: y(p.meas), r: 4 });
  }
}

// A batch's steps on one time axis (recipe time): the plan in the upper lane,
// what ran in the lower (its start as recorded, its length times the time
// scale), each step a bar coloured by its kind; a failed or aborted step red.
function timeline(svg, b) {
  const NS = "http://www.w3.org/2000/svg", W = 600, L = 52, R = 10, scale = b.time_scale || 1;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const el = (name, attrs, text) => {
    const n = document.createElementNS(NS, name);
    for (const k in attrs) n.setAttribute(k, attrs[k]);
    if (text != null) n.textContent = text;
    svg.appendChild(n);
    return n;
  };
  const steps = b.steps || [];
  const end = Math.max(1, ...steps.map((s) => Math.max(s.planned_start_ms + s.planned_duration_ms,
    s.actual_duration_ms == null ? 0 : s.actual_start_ms + s.actual_duration_ms * scale)));
  const x = (ms) => L + (W - L - R) * ms / end, kinds = {};
  const kind = (s) => s.kind in kinds ? kinds[s.kind] : (kinds[s.kind] = Object.keys(kinds).length % 4);
  el("text", { x: 2, y: 30 }, "planned");
  el("text", { x: 2, y: 66 }, "actual");
  el("line", { x1: L, y1: 84, x2: W - R, y2: 84, class: "axis" });
  el("text", { x: L, y: 100 }, "0");
  el("text", { x: W - R - 70, y: 100 }, duration(end));
  for (const s of steps) {
    const k = "k" + kind(s), w = (ms) => Math.max(0.5, x(ms) - L).toFixed(2);
    el("rect", { x: x(s.planned_start_ms).toFixed(2), y: 16, width: w(s.planned_duration_ms), height: 20, class: k });
    if (s.actual_duration_ms != null)
      el("rect", { x: x(s.actual_start_ms).toFixed(2), y: 52, width: w(s.actual_duration_ms * scale), height: 20,
        class: s.outcome === "done" || s.outcome === "skipped" ? k : "bad" });
  }
}

// ---- login ----
async function session() {
  try {
    const s = await api("session");
    csrf = s.csrf;
    user = s.user;
    runBox();
    if ($("who")) set("who", s.user ? "operator: " + s.user : "");
    if ($("login")) $("login").classList.toggle("hidden", !!s.user || !s.logins);
    if ($("logout")) $("logout").classList.toggle("hidden", !s.user);
  } catch (e) { showError(e.message); }
}

function setupLogin() {
  if (!$("login")) return;
  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const s = await api("login", { method: "POST", headers:
        { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ user: $("user").value, password: $("password").value }) });
      $("password").value = "";
      csrf = s.csrf;
      showError("");
    } catch (e) { showError(e.message); }
    session();
  });
  $("logout").addEventListener("click", async () => { await post("logout"); session(); });
}

// ---- the rig page ----
const rig = { batch: 0, bilayer: -1 };

// The run form: for a logged-in operator while the rig is idle.
function runBox() {
  const box = $("run-box");
  if (!box) return;
  const show = !!user && lastState === "idle";
  if (show && box.classList.contains("hidden"))
    api("recipes").then((list) => {
      const sel = $("run-recipe");
      while (sel.firstChild) sel.removeChild(sel.firstChild);
      for (const r of list) {
        const o = document.createElement("option");
        o.value = r.name + "@" + r.version;
        o.textContent = r.name + " v" + r.version;
        sel.appendChild(o);
      }
    }).catch((e) => showError(e.message));
  box.classList.toggle("hidden", !show);
}

function rigShow(st) {
  lastState = st.state;
  runBox();
  const busy = st.state !== "idle" && st.recipe;
  const s = $("state");
  s.textContent = st.state;
  s.className = "state " + st.state;
  set("title", busy ? st.recipe + (st.version ? " v" + st.version : "") : "no batch running");
  set("bilayers", busy ? "bilayer " + st.bilayer + " / " + st.bilayers : "–");
  // the bar counts the bilayers done; the one under way is not yet
  $("progress").style.width = (busy && st.bilayers ? 100 * Math.max(0, st.bilayer - 1) / st.bilayers : 0) + "%";
  set("batch", busy ? st.batch + " (" + st.batch_state + ")" : "–");
  set("substrate", st.substrate);
  set("step", busy ? st.step + " / " + st.steps + ": " + (st.step_kind || "") +
    (st.where ? " at " + st.where : "") : "–");
  set("step-left", busy ? duration(st.step_left_ms) : "–");
  set("run-left", busy ? duration(st.run_left_ms) : "–");
  set("finish", busy ? new Date(Date.now() + st.run_left_ms).toLocaleTimeString([],
    { hour: "2-digit", minute: "2-digit" }) : "–");
  set("thickness", busy ? st.thickness_estimate_nm.toFixed(1) + " nm estimated" +
    (st.thickness_measured_nm != null ? ", " + st.thickness_measured_nm.toFixed(1) +
    " nm measured" : "") : "–");
  set("message", st.safety || st.message || st.waiting);
  $("prompt-box").classList.toggle("hidden", st.state !== "prompt");
  set("prompt", st.message);
  $("pause").disabled = !busy || st.state === "paused" || st.state === "safe";
  $("resume").disabled = st.state !== "paused";
  $("abort").disabled = !busy;
  // the chart shows the bilayers on record: read again when one more is done
  if (busy && (st.batch !== rig.batch || st.bilayer !== rig.bilayer)) {
    rig.batch = st.batch;
    rig.bilayer = st.bilayer;
    api("batches/" + st.batch).then((b) => chart($("chart"), bilayerPoints(b))).catch(() => {});
  }
}

function bilayerPoints(b) {
  return (b.bilayers || []).map((x) => ({ n: x.n, est: x.thickness_estimated_nm,
    meas: x.thickness_measured_nm }));
}

// lbld's events as they are recorded, newest first (lbl-web sends those it
// keeps when the stream opens, then each as it comes).
const RECENT_SHOWN = 30;
function recentEvent(e) {
  const ol = $("recent"), li = document.createElement("li");
  const at = document.createElement("span"), kind = document.createElement("span");
  at.className = "at";
  const d = new Date(e.at);
  at.textContent = isNaN(d) ? e.at : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  kind.className = "kind";
  kind.textContent = e.kind + (e.device ? " " + e.device : "");
  li.appendChild(at);
  li.appendChild(kind);
  li.appendChild(document.createTextNode((e.batch ? "batch " + e.batch + ": " : "") + e.message));
  ol.insertBefore(li, ol.firstChild);
  while (ol.children.length > RECENT_SHOWN) ol.removeChild(ol.lastChild);
}

function rigPage() {
  $("continue").addEventListener("click", () => post("continue"));
  $("run").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = {};
    for (const [k, v] of new FormData($("run"))) if (v) form[k] = v;
    post("run", form);
  });
  $("pause").addEventListener("click", () => post("pause"));
  $("resume").addEventListener("click", () => post("resume"));
  $("abort").addEventListener("click", () => {
    if (confirm("Abort the batch? The rig goes to its safe state.")) post("abort");
  });
  api("status").then(rigShow).catch((e) => showError(e.message));
  const es = new EventSource("/api/v1/events");
  es.addEventListener("status", (ev) => { showError(""); rigShow(JSON.parse(ev.data)); });
  es.addEventListener("event", (ev) => recentEvent(JSON.parse(ev.data)));
  es.addEventListener("offline", (ev) => {
    const s = $("state");
    s.textContent = "offline";
    s.className = "state offline";
    showError("lbld: " + JSON.parse(ev.data).error);
  });
}

// ---- the history page ----
function cell(tr, v) {
  const td = document.createElement("td");
  if (v instanceof Node) td.appendChild(v); else td.textContent = v == null ? "" : v;
  tr.appendChild(td);
}

function fill(tbody, rows, cols, onClick) {
  while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const c of cols) cell(tr, typeof c === "function" ? c(r) : r[c]);
    if (onClick) { tr.className = "pick"; tr.addEventListener("click", () => onClick(r)); }
    tbody.appendChild(tr);
  }
}

// Two ticked batches, compared by lbld (lblctl compare's text).
const ticked = new Set();
function tick(id, on) {
  if (on) ticked.add(id); else ticked.delete(id);
  $("compare-button").disabled = ticked.size !== 2;
}

// Two batches side by side: their facts in two columns, both thickness
// series in one chart, and lbld's comparison (what differs, step timing).
async function historyCompare() {
  const [a, b] = [...ticked];
  try {
    const [c, ba, bb] = await Promise.all([api("compare?a=" + a + "&b=" + b),
      api("batches/" + a), api("batches/" + b)]);
    set("compare-title", "Batch " + c.a + " against batch " + c.b);
    set("compare-a", "Batch " + ba.id);
    set("compare-b", "Batch " + bb.id);
    const num = (v) => v == null ? "–" : Number.isInteger(v) ? v : v.toFixed(1);
    const rows = [["Recipe", (x) => x.recipe + " v" + x.recipe_version], ["Substrate", (x) => x.substrate],
      ["Operator", (x) => x.operator], ["State", (x) => x.state], ["Started", (x) => stamp(x.started_at)],
      ["Ended", (x) => stamp(x.ended_at)], ["Bilayers", (x) => x.bilayers_done + "/" + x.bilayers_target],
      ["Estimated nm", (x) => num(x.thickness_estimated_nm)], ["Measured nm", (x) => num(x.thickness_measured_nm)],
      ["Steps", (x) => (x.steps || []).length], ["Cause", (x) => x.failure_cause]];
    fill($("compare-table").tBodies[0], rows, [(r) => r[0], (r) => r[1](ba), (r) => r[1](bb)]);
    chart($("compare-chart"), bilayerPoints(ba), bilayerPoints(bb));
    set("compare", c.text);
    $("compare-box").classList.remove("hidden");
    showError("");
  } catch (e) { showError(e.message); }
}

async function historyList() {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData($("filters"))) if (v) q.set(k, v);
  try {
    const rows = await api("batches?" + q.toString());
    showError("");
    ticked.clear();
    tick(0, false);
    fill($("batches").tBodies[0], rows, [(r) => {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.setAttribute("aria-label", "compare batch " + r.id);
      box.addEventListener("click", (ev) => { ev.stopPropagation(); tick(r.id, box.checked); });
      return box;
    }, "id", "recipe", "substrate", "operator", "state",
      (r) => stamp(r.started_at),
      (r) => r.bilayers_done + "/" + r.bilayers_target,
      (r) => nm(r.thickness_measured_nm != null ? r.thickness_measured_nm : r.thickness_estimated_nm)],
      historyDetail);
  } catch (e) { showError(e.message); }
}

async function historyDetail(row) {
  try {
    const b = await api("batches/" + row.id);
    $("detail").classList.remove("hidden");
    set("detail-title", "Batch " + b.id + ": " + b.recipe + " v" + b.recipe_version + " (" + b.state + ")");
    const dl = $("detail-facts");
    while (dl.firstChild) dl.removeChild(dl.firstChild);
    for (const [k, label] of [["substrate", "Substrate"], ["operator", "Operator"], ["started_at", "Started"],
      ["ended_at", "Ended"], ["bilayers_done", "Bilayers"], ["thickness_estimated_nm", "Estimated nm"],
      ["thickness_measured_nm", "Measured nm"], ["failure_cause", "Cause"], ["note", "Note"], ["rig", "Rig"]]) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = label;
      const v = b[k];
      dd.textContent = v == null ? "–" : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) :
        /_at$/.test(k) ? stamp(v) : v;
      dl.appendChild(dt); dl.appendChild(dd);
    }
    $("export-csv").href = "/api/v1/batches/" + b.id + "/export?format=csv";
    $("export-json").href = "/api/v1/batches/" + b.id + "/export?format=json";
    chart($("detail-chart"), bilayerPoints(b));
    timeline($("timeline"), b);
    fill($("lots").tBodies[0], b.solutions || [], ["name", "lot", "dips",
      (x) => x.volume_ml == null ? "" : x.volume_ml.toFixed(2)]);
    fill($("steps").tBodies[0], b.steps || [], ["seq", "bilayer", "kind",
      (s) => s.station || s.solution, (s) => (s.planned_duration_ms / 1000).toFixed(1),
      (s) => s.actual_duration_ms == null ? "" : (s.actual_duration_ms / 1000).toFixed(1), "outcome"]);
    fill($("events").tBodies[0], b.events || [], [(e) => stamp(e.at),
      "kind", "message"]);
  } catch (e) { showError(e.message); }
}

function historyPage() {
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); historyList(); });
  $("compare-button").addEventListener("click", historyCompare);
  historyList();
  const id = new URLSearchParams(location.search).get("batch");
  if (id) historyDetail({ id: id });
}

// ---- the recipes page ----
// The plan's steps shown at most; a long recipe's whole plan is at its plan link.
const PLAN_ROWS = 300;

function clock(ms) {
  const s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return h + ":" + String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}

// One recipe's plan against the rig lbld runs: totals, solutions, steps.
function planShow(key, p) {
  set("plan-title", "Plan of " + p.recipe + " v" + p.version + " on " + (p.rig || "no rig"));
  const dl = $("plan-facts");
  while (dl.firstChild) dl.removeChild(dl.firstChild);
  const ml = p.solutions.reduce((a, x) => a + x.volume_ml, 0);
  for (const [label, v] of [["Bilayers", p.bilayers], ["Steps", p.steps.length],
    ["Total time", duration(p.total_ms)], ["In solution", duration(p.exposure_ms)],
    ["Moving", duration(p.motion_ms)], ["Operator waits", p.operator_waits],
    ["Thickness", nm(p.final_thickness_nm) + " nm estimated" +
      (p.target_thickness_nm != null ? " (target " + nm(p.target_thickness_nm) + " nm)" : "")],
    ["Volume used", ml.toFixed(1) + " mL"]]) {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = v;
    dl.appendChild(dt); dl.appendChild(dd);
  }
  fill($("plan-solutions").tBodies[0], p.solutions, ["name", "uses",
    (x) => x.volume_ml.toFixed(1), "replacements"]);
  fill($("plan-steps").tBodies[0], p.steps.slice(0, PLAN_ROWS), ["seq", "bilayer",
    (x) => x.step + (x.operator_wait ? " (waits)" : ""), "where", "solution",
    (x) => clock(x.start_ms), (x) => duration(x.duration_ms),
    (x) => x.volume_ml ? x.volume_ml.toFixed(2) : ""]);
  const more = $("plan-more");
  while (more.firstChild) more.removeChild(more.firstChild);
  if (p.steps.length > PLAN_ROWS) {
    more.appendChild(document.createTextNode("The first " + PLAN_ROWS + " of " + p.steps.length +
      " steps; all of them, with what each tells the rig: "));
    const a = document.createElement("a");
    a.href = "/api/v1/recipes/" + encodeURIComponent(key) + "/plan";
    a.textContent = "the plan as JSON";
    more.appendChild(a);
  }
  $("plan-box").classList.remove("hidden");
}

async function recipeShow(key) {
  $("plan-box").classList.add("hidden");
  try {
    const t = await api("recipes/" + encodeURIComponent(key));
    set("recipe-title", t.header);
    set("recipe-text", t.text);
    $("recipe-box").classList.remove("hidden");
    showError("");
  } catch (e) { showError(e.message); return; }
  try {
    planShow(key, await api("recipes/" + encodeURIComponent(key) + "/plan"));
    set("plan-error", "");
  } catch (e) {
    // a stored recipe the rig cannot run: its text is shown, and why not
    set("plan-title", "No plan for this rig");
    set("plan-error", e.message);
    for (const id of ["plan-facts", "plan-more"]) while ($(id).firstChild) $(id).removeChild($(id).firstChild);
    fill($("plan-solutions").tBodies[0], [], []);
    fill($("plan-steps").tBodies[0], [], []);
    $("plan-box").classList.remove("hidden");
  }
}

async function recipesPage() {
  try {
    const list = await api("recipes");
    fill($("recipes").tBodies[0], list, ["name", "version", "sha256", (r) => stamp(r.added)],
      (r) => recipeShow(r.name + "@" + r.version));
    const want = new URLSearchParams(location.search).get("recipe");
    if (want) recipeShow(want);
  } catch (e) { showError(e.message); }
}

setupLogin();
session();
if (document.body.dataset.page === "rig") rigPage();
else if (document.body.dataset.page === "recipes") recipesPage();
else historyPage();
