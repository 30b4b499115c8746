// tunehooks dashboard: polls the JSON endpoints and draws with plotly.js (served locally).
"use strict";

const state = {
  interval: 2000,
  experiment: null,
  metric: "",
  axis: "trials",
  sortKey: "number",
  sortDir: 1,
  data: null,
  lastText: {},
  detail: null,
  polls: 0,
  seen: [],
};

const $ = (id) => document.getElementById(id);

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return v.toPrecision(4).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(4)));
}

function fmtTime(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(2) + " h";
}

async function getJSON(url) {
  const r = await fetch(url, {cache: "no-store"});
  const text = await r.text();
  const body = JSON.parse(text);
  if (!r.ok) throw new Error(body.error || r.statusText);
  return {body, text};
}

function draw(id, spec) {
  const el = $(id);
  if (!el || !spec) return;
  const key = JSON.stringify(spec);
  if (state.lastText[id] === key) return; // nothing changed: no redraw
  state.lastText[id] = key;
  Plotly.react(el, spec.data, spec.layout, {responsive: true, displaylogo: false});
}

function renderExperiments(list) {
  const ul = $("experiments");
  ul.textContent = "";
  for (const e of list) {
    const li = document.createElement("li");
    li.dataset.name = e.name;
    li.textContent = e.name;
    const meta = document.createElement("span");
    meta.className = "muted";
    const best = e.best ? ` · best ${e.best.metric}=${fmt(e.best.value)}` : "";
    meta.textContent = `${e.method} · ${e.trials} trials · ${e.counts.RUNNING} running${best}`;
    li.appendChild(meta);
    if (e.name === state.experiment) li.className = "selected";
    li.onclick = () => select(e.name);
    ul.appendChild(li);
  }
}

function select(name) {
  if (state.experiment !== name) {
    state.experiment = name;
    state.metric = "";
    state.lastText = {};
    state.detail = null;
    $("trial-detail").hidden = true;
    location.hash = encodeURIComponent(name);
  }
  poll();
}

function renderSummary(d) {
  $("exp-name").textContent = d.name;
  $("exp-meta").textContent =
    `method ${d.method} · metrics ` +
    d.metrics.map((m) => `${m.name} (${m.strategy}${m.goal ? ", " + m.goal : ""})`).join(", ") +
    ` · budget ${d.budget.used}/${d.budget.trials ?? "-"} trials`;
  $("counts").textContent = Object.entries(d.counts)
    .map(([s, n]) => `${s.toLowerCase()} ${n}`)
    .join(" · ");
  $("best-value").textContent = d.best ? `${d.metric} = ${d.best.value_text}` : "none yet";
  $("best-trial").textContent = d.best ? `(trial ${d.best.number})` : "";
  $("best-params").textContent = d.best ? d.best.params_text : "";
  const sel = $("metric");
  const names = d.metrics.filter((m) => m.goal).map((m) => m.name);
  if (sel.options.length !== names.length) {
    sel.textContent = "";
    for (const n of names) sel.add(new Option(n, n));
  }
  sel.value = d.metric;
  $("value-head").textContent = d.metric;
}

function renderFigures(d) {
  const f = d.figures;
  if (f.best_so_far) draw("fig-best", f.best_so_far[state.axis]);
  draw("fig-curves", f.curves);
  draw("fig-parallel", f.parallel);
  if (f.importance) {
    draw("fig-importance", f.importance);
    const w = $("importance-warning");
    w.hidden = !f.importance.warning;
    w.textContent = f.importance.warning ? "⚠ " + f.importance.warning : "";
  }
  const box = $("slices");
  const slices = f.slices || [];
  if (box.children.length !== slices.length) {
    box.textContent = "";
    state.lastText = Object.fromEntries(
      Object.entries(state.lastText).filter(([k]) => !k.startsWith("fig-slice-"))
    );
    slices.forEach((s, i) => {
      const div = document.createElement("div");
      div.id = `fig-slice-${i}`;
      div.className = "fig";
      div.dataset.param = s.param;
      box.appendChild(div);
    });
  }
  slices.forEach((s, i) => draw(`fig-slice-${i}`, s));
  $("pareto-section").hidden = !f.pareto;
  if (f.pareto) draw("fig-pareto", f.pareto);
}

function sortedRows(rows) {
  const k = state.sortKey;
  const dir = state.sortDir;
  return rows.slice().sort((a, b) => {
    const x = a[k];
    const y = b[k];
    if (x === y) return a.number - b.number;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
}

function renderTrials(d) {
  const text = $("filter").value.trim().toLowerCase();
  const only = $("state-filter").value;
  const rows = sortedRows(d.trials).filter((t) => {
    if (only && t.state !== only) return false;
    if (!text) return true;
    const hay = `${t.number} ${t.state} ${t.params_text} ${t.error || ""}`.toLowerCase();
    return hay.includes(text);
  });
  const body = $("trials").tBodies[0];
  body.textContent = "";
  for (const t of rows) {
    const tr = document.createElement("tr");
    tr.dataset.number = t.number;
    tr.className = `state-${t.state}`;
    const cells = [
      t.number, t.state, fmt(t.value), t.step ?? "", fmtTime(t.duration), t.params_text,
      t.error || "",
    ];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = String(c);
      tr.appendChild(td);
    }
    tr.onclick = () => openTrial(t.number);
    body.appendChild(tr);
  }
  $("trial-count").textContent = `(${rows.length} of ${d.trials.length} shown)`;
  for (const th of $("trials").tHead.rows[0].cells) {
    th.classList.toggle("sorted-asc", th.dataset.key === state.sortKey && state.sortDir > 0);
    th.classList.toggle("sorted-desc", th.dataset.key === state.sortKey && state.sortDir < 0);
  }
}

function renderCosts(d) {
  const body = $("costs").tBodies[0];
  body.textContent = "";
  for (const [label, value] of d.costs || []) {
    const tr = body.insertRow();
    tr.insertCell().textContent = label;
    tr.insertCell().textContent = value;
  }
}

async function openTrial(number) {
  state.detail = number;
  await refreshDetail();
  $("trial-detail").scrollIntoView({block: "nearest"});
}

async function refreshDetail() {
  if (state.detail === null || !state.experiment) return;
  const url = `/api/experiments/${encodeURIComponent(state.experiment)}/trials/${state.detail}`;
  const {body: t} = await getJSON(url);
  $("trial-detail").hidden = false;
  $("detail-number").textContent = `${t.number} (${t.state})`;
  $("detail-meta").textContent =
    `id ${t.id} · step ${t.step ?? "-"} · ${fmtTime(t.duration)} · worker ${t.worker || "-"}` +
    (t.fidelity !== null ? ` · fidelity ${fmt(t.fidelity)}` : "");
  const pbody = $("detail-params").tBodies[0];
  pbody.textContent = "";
  const entries = [
    ...Object.entries(t.params).map(([k, v]) => [k, v]),
    ...Object.entries(t.values).map(([k, v]) => [`${k} (final)`, v]),
  ];
  for (const [k, v] of entries) {
    const tr = pbody.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = typeof v === "object" ? JSON.stringify(v) : fmt(v);
  }
  const err = $("detail-error");
  err.hidden = !t.error;
  err.textContent = t.error || "";
  const traces = Object.entries(t.curves).map(([k, pts]) => ({
    type: "scatter", mode: "lines+markers", name: k,
    x: pts.map((p) => p[0]), y: pts.map((p) => p[1]),
  }));
  draw("fig-detail", {
    data: traces,
    layout: {title: {text: `trial ${t.number}: reported metrics`}, xaxis: {title: {text: "step"}}},
  });
  $("detail-folder").textContent = t.logs.folder;
  const logs = [t.logs.stdout, t.logs.stderr].filter((x) => x);
  $("detail-logs").textContent = logs.length ? logs.join("\n--- stderr ---\n") : "(no logs found)";
}

async function poll() {
  try {
    const {body: list} = await getJSON("/api/experiments");
    if (!state.experiment || !list.some((e) => e.name === state.experiment)) {
      const fromHash = decodeURIComponent(location.hash.slice(1));
      const pick = list.find((e) => e.name === fromHash) || list[0];
      state.experiment = pick ? pick.name : null;
    }
    renderExperiments(list);
    if (state.experiment) {
      const q = state.metric ? `?metric=${encodeURIComponent(state.metric)}` : "";
      const {body: d} = await getJSON(
        `/api/experiments/${encodeURIComponent(state.experiment)}${q}`
      );
      state.data = d;
      renderSummary(d);
      renderFigures(d);
      renderTrials(d);
      renderCosts(d);
      if (state.detail !== null) await refreshDetail();
      const last = state.seen[state.seen.length - 1];
      if (last && last[0] === d.trials.length) last[1] += 1;
      else state.seen.push([d.trials.length, 1]);
    } else {
      $("exp-name").textContent = "no experiments in this storage yet";
    }
    state.polls += 1;
    document.body.dataset.polls = String(state.polls);
    // what the polls saw, run-length encoded: "3*12,4*40" is 3 trials 12 times, then 4
    document.body.dataset.seen = state.seen.map(([n, k]) => `${n}*${k}`).join(",");
    $("status").textContent = `updated ${new Date().toLocaleTimeString()} · every ${state.interval / 1000} s`;
    $("status").className = "muted";
  } catch (e) {
    $("status").textContent = `cannot read the storage: ${e.message} (retrying)`;
    $("status").className = "warning";
  }
}

async function loop() {
  await poll();
  setTimeout(loop, state.interval);
}

async function start() {
  const query = new URLSearchParams(location.search);
  // a shareable view: ?filter=adam&state=PRUNED&sort=value&desc=1&axis=epochs&metric=acc
  if (query.get("filter")) $("filter").value = query.get("filter");
  if (query.get("state")) $("state-filter").value = query.get("state");
  if (query.get("sort")) state.sortKey = query.get("sort");
  if (query.get("desc") === "1") state.sortDir = -1;
  if (query.get("axis")) {
    state.axis = query.get("axis");
    $("axis").value = state.axis;
  }
  if (query.get("metric")) state.metric = query.get("metric");
  if (query.get("trial")) state.detail = Number(query.get("trial")); // ?trial=7 opens trial 7
  try {
    const {body: cfg} = await getJSON("/api/config");
    const override = query.get("interval");
    state.interval = 1000 * (override ? Number(override) : cfg.interval);
  } catch (e) {
    /* keep the default */
  }
  $("axis").onchange = (ev) => {
    state.axis = ev.target.value;
    if (state.data) renderFigures(state.data);
  };
  $("metric").onchange = (ev) => {
    state.metric = ev.target.value;
    state.lastText = {};
    poll();
  };
  $("filter").oninput = () => state.data && renderTrials(state.data);
  $("state-filter").onchange = () => state.data && renderTrials(state.data);
  $("detail-close").onclick = () => {
    state.detail = null;
    $("trial-detail").hidden = true;
  };
  for (const th of $("trials").tHead.rows[0].cells) {
    th.onclick = () => {
      if (state.sortKey === th.dataset.key) state.sortDir = -state.sortDir;
      else {
        state.sortKey = th.dataset.key;
        state.sortDir = 1;
      }
      if (state.data) renderTrials(state.data);
    };
  }
  loop();
}

start();
