"use strict";
// The study page: everything comes from the JSON API and is written as text, never as
// markup. Every few seconds it asks whether the study moved on and, if so, shows it; a
// figure is loaded again only when its version moved (figure_versions): when a trial was
// added or ended, not on every epoch a trial reports. Figures are drawn in the background:
// until one is drawn at the study's state the page shows its latest drawing (or a
// placeholder), and asks every second, not every few, while any is still being drawn.

const body = document.body;
const studyId = body.dataset.studyId;
const refreshMs = 1000 * Number(body.dataset.refreshS);
const drawingMs = 1000;
let version = null;

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(value) {
  if (value === null || value === undefined) return "-";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(3);
  return String(value);
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function showSummary(study) {
  const state = document.getElementById("study-state");
  state.textContent = study.state;
  state.className = `state state-${study.state}`;
  document.getElementById("study-line").textContent =
    `task ${study.task || "-"} · ${study.direction} ${study.objective}`;
  const budget = study.budget || study.finished || 1;
  const progress = document.getElementById("progress");
  progress.max = budget;
  progress.value = study.finished;
  const c = study.counts;
  document.getElementById("progress-text").textContent =
    `${study.finished}/${study.budget === null ? "?" : study.budget} finished · ` +
    `${c.COMPLETE} complete, ${c.PRUNED} pruned, ${c.FAIL} failed, ` +
    `${c.RUNNING} running, ${c.WAITING} queued`;
  document.getElementById("best-line").textContent = study.best
    ? `Best ${study.objective}: ${fmt(study.best.value)} (trial #${study.best.trial})`
    : "No trial has completed yet.";
  document.getElementById("updated").textContent =
    `Last change seen ${new Date().toLocaleTimeString()}.`;
  showBest(study.best);
  showSettings(study.settings);
}

function showBest(best) {
  document.getElementById("no-best").hidden = best !== null;
  const rows = document.querySelector("#best-table tbody");
  rows.replaceChildren();
  document.getElementById("best-code").textContent = best ? best.code : "";
  if (!best) return;
  const config = best.config;
  const shown = {
    trial: `#${best.trial}`, [best.objective]: fmt(best.value), optimizer: config.optimizer,
    lr: fmt(config.lr), schedule: config.schedule, warmup_ratio: fmt(config.warmup_ratio),
  };
  for (const [name, value] of Object.entries(config.optimizer_params || {})) shown[name] = fmt(value);
  for (const [name, value] of Object.entries(config.schedule_params || {})) shown[name] = fmt(value);
  for (const [name, value] of Object.entries(shown)) {
    const row = el("tr");
    row.append(el("th", name), el("td", value));
    rows.append(row);
  }
}

function showSettings(settings) {
  const rows = document.querySelector("#bounds tbody");
  const list = document.getElementById("settings");
  rows.replaceChildren();
  list.replaceChildren();
  if (!settings) return;
  for (const [name, b] of Object.entries(settings.bounds)) {
    const row = el("tr");
    const test = el("td");
    if (b.range_test_id !== null) {
      const link = el("a", String(b.range_test_id));
      link.href = `/range-tests/${b.range_test_id}`;
      test.append(link);
    } else test.textContent = "-";
    row.append(el("td", name), test, el("td", fmt(b.suggested_lr)),
      el("td", `${fmt(b.min_lr)} .. ${fmt(b.max_lr)}`), el("td", `${fmt(b.low)} .. ${fmt(b.high)}`));
    rows.append(row);
  }
  for (const name of ["epochs", "steps_per_epoch", "seed", "pruner", "sampler", "source"]) {
    list.append(el("dt", name), el("dd", fmt(settings[name])));
  }
}

// The trial table comes a page at a time: the server filters, sorts and slices it (a
// big study has thousands of trials), and the page asks again when the query changes.
const trialQuery = {
  offset: 0, limit: Number(document.getElementById("page-size").value),
  sort: null, order: "asc", state: "", q: "",
};
let trialsAsked = 0; // the latest request's number: an older answer is dropped
let filterTimer = null;

function trialsPath() {
  const q = trialQuery;
  const params = new URLSearchParams({ offset: q.offset, limit: q.limit, order: q.order });
  if (q.sort !== null) params.set("sort", q.sort);
  if (q.state) params.set("state", q.state);
  if (q.q.trim()) params.set("q", q.q.trim());
  return `/api/studies/${studyId}/trials?${params}`;
}

async function loadTrials() {
  const asked = ++trialsAsked;
  const table = await getJson(trialsPath());
  if (asked !== trialsAsked) return;
  if (table.rows.length === 0 && table.offset > 0 && table.matched > 0) {
    // Fewer trials match than before: show the last page there is.
    trialQuery.offset = Math.floor((table.matched - 1) / trialQuery.limit) * trialQuery.limit;
    return loadTrials();
  }
  showTrials(table);
}

function askTrials(change) {
  Object.assign(trialQuery, change);
  loadTrials().catch((error) => {
    document.getElementById("trial-count").textContent = `Could not load the trials: ${error.message}`;
  });
}

function showTrials(table) {
  const head = document.querySelector("#trials thead");
  const row = el("tr");
  for (const name of table.columns) {
    const th = el("th", name);
    th.tabIndex = 0;
    if (name === table.sort) th.setAttribute("aria-sort", table.order === "desc" ? "descending" : "ascending");
    th.addEventListener("click", () => sortBy(name));
    th.addEventListener("keydown", (event) => { if (event.key === "Enter") sortBy(name); });
    row.append(th);
  }
  head.replaceChildren(row);
  const state = table.columns.indexOf("state");
  const rows = table.rows.map((values) => {
    const tr = el("tr");
    values.forEach((value, i) => {
      const td = el("td", table.columns[i] === "datetime_start" ? (value || "-") : fmt(value));
      if (typeof value === "number") td.dataset.value = value;
      tr.append(td);
    });
    tr.dataset.state = values[state];
    return tr;
  });
  document.querySelector("#trials tbody").replaceChildren(...rows);
  showStates(table.states);
  showPager(table);
}

function sortBy(name) {
  const again = trialQuery.sort === name;
  askTrials({ sort: name, order: again && trialQuery.order === "asc" ? "desc" : "asc", offset: 0 });
}

function showStates(states) {
  const select = document.getElementById("state-filter");
  const chosen = trialQuery.state;
  const options = [el("option", "all")];
  options[0].value = "";
  const shown = chosen && !states.includes(chosen) ? [...states, chosen] : states;
  for (const state of shown) options.push(el("option", state));
  select.replaceChildren(...options);
  select.value = chosen;
}

function count(n) {
  return n.toLocaleString("en-US");
}

function showPager(table) {
  const first = table.offset + 1;
  const last = table.offset + table.rows.length;
  const filtered = table.matched !== table.total;
  document.getElementById("trial-count").textContent = table.matched === 0
    ? `No trial matches (${count(table.total)} in all)`
    : `Trials ${count(first)}-${count(last)} of ${count(table.matched)}` +
      (filtered ? ` matching (${count(table.total)} in all)` : "");
  const lastPage = Math.max(0, Math.floor((table.matched - 1) / trialQuery.limit) * trialQuery.limit);
  const pages = {
    "page-first": 0,
    "page-prev": Math.max(0, table.offset - trialQuery.limit),
    "page-next": Math.min(lastPage, table.offset + trialQuery.limit),
    "page-last": lastPage,
  };
  for (const [id, offset] of Object.entries(pages)) {
    const button = document.getElementById(id);
    button.disabled = offset === table.offset;
    button.onclick = () => askTrials({ offset });
  }
}

function showFigures(versions) {
  for (const img of document.querySelectorAll("img.study-figure")) {
    const newVersion = versions[img.dataset.name];
    if (newVersion === undefined || newVersion === img.dataset.version) continue;
    img.dataset.version = newVersion;
    img.src = `/studies/${studyId}/figures/${img.dataset.name}.svg?v=${newVersion}`;
  }
}

async function refresh() {
  let drawing = false;
  try {
    const study = await getJson(`/api/studies/${studyId}`);
    drawing = study.drawing.length > 0;
    // The page came with the figures of the state it was drawn at; load those that moved.
    showFigures(study.figure_versions);
    body.dataset.figuresVersion = study.figures_version;
    if (study.version !== version) {
      await loadTrials();
      version = study.version;
      body.dataset.version = version;
      showSummary(study);
    }
  } catch (error) {
    document.getElementById("updated").textContent = `Could not refresh: ${error.message}`;
  } finally {
    setTimeout(refresh, drawing ? drawingMs : refreshMs);
  }
}

document.getElementById("trial-filter").addEventListener("input", (event) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => askTrials({ q: event.target.value, offset: 0 }), 250);
});
document.getElementById("state-filter").addEventListener("change", (event) => {
  askTrials({ state: event.target.value, offset: 0 });
});
document.getElementById("page-size").addEventListener("change", (event) => {
  askTrials({ limit: Number(event.target.value), offset: 0 });
});
refresh();
