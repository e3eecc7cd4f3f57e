"use strict";
// A page drawn by the server (a running refine run's, a study's lrtune did not create):
// every few seconds it asks whether the run moved on (a candidate reached a rung, the
// result was written, a trial ended) and, if so, loads the page again.

const body = document.body;
const refreshMs = 1000 * Number(body.dataset.refreshS);

async function check() {
  const updated = document.getElementById("updated");
  try {
    const response = await fetch(`/api/studies/${body.dataset.studyId}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`${response.status}`);
    const run = await response.json();
    if (run.version !== body.dataset.version) {
      window.location.reload();
      return;
    }
    if (updated) updated.textContent = `Last checked ${new Date().toLocaleTimeString()}.`;
  } catch (error) {
    if (updated) updated.textContent = `Could not refresh: ${error.message}`;
  }
  setTimeout(check, refreshMs);
}

setTimeout(check, refreshMs);
