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
let trialColumns = [];

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

function showTrials(table) {
  trialColumns = table.columns;
  const head = document.querySelector("#trials thead");
  const row = el("tr");
  for (const name of table.columns) row.append(el("th", name));
  head.replaceChildren(row);
  const rows = table.rows.map((values) => {
    const tr = el("tr");
    values.forEach((value, i) => {
      const td = el("td", table.columns[i] === "datetime_start" ? (value || "-") : fmt(value));
      if (typeof value === "number") td.dataset.value = value;
      tr.append(td);
    });
    tr.dataset.state = values[1];
    return tr;
  });
  const tbody = document.querySelector("#trials tbody");
  tbody.replaceChildren(...rows);
  const trials = document.getElementById("trials");
  makeSortable(trials);
  if (trials.dataset.sortColumn !== undefined) {
    sortTable(trials, Number(trials.dataset.sortColumn), trials.dataset.sortDescending === "true");
  }
  showStates(table.rows.map((values) => values[1]));
  applyFilter();
}

function showStates(states) {
  const select = document.getElementById("state-filter");
  const chosen = select.value;
  const options = [el("option", "all")];
  options[0].value = "";
  for (const state of [...new Set(states)].sort()) options.push(el("option", state));
  select.replaceChildren(...options);
  select.value = [...new Set(states)].includes(chosen) ? chosen : "";
}

function applyFilter() {
  const words = document.getElementById("trial-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
  const state = document.getElementById("state-filter").value;
  const rows = document.querySelectorAll("#trials tbody tr");
  let shown = 0;
  for (const row of rows) {
    const text = row.textContent.toLowerCase();
    const visible = (!state || row.dataset.state === state) && words.every((w) => text.includes(w));
    row.hidden = !visible;
    shown += visible;
  }
  document.getElementById("trial-count").textContent = `${shown} of ${rows.length} trials shown`;
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
      const trials = await getJson(`/api/studies/${studyId}/trials`);
      version = study.version;
      body.dataset.version = version;
      showSummary(study);
      showTrials(trials);
    }
  } catch (error) {
    document.getElementById("updated").textContent = `Could not refresh: ${error.message}`;
  } finally {
    setTimeout(refresh, drawing ? drawingMs : refreshMs);
  }
}

document.getElementById("trial-filter").addEventListener("input", applyFilter);
document.getElementById("state-filter").addEventListener("change", applyFilter);
refresh();
