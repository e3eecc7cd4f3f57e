"use strict";
// Sortable tables: click a header to sort by that column, again to reverse it.
// A cell's data-value (when present) is what it sorts by; numbers sort as numbers.

function cellKey(cell) {
  const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
  const number = Number(raw);
  return raw !== "" && raw !== "-" && Number.isFinite(number) ? number : raw;
}

function isMissing(key) {
  return key === "" || key === "-";
}

function compareKeys(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function sortTable(table, column, descending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((r, s) => {
    const a = cellKey(r.cells[column]);
    const b = cellKey(s.cells[column]);
    // Missing values come last whichever way the column is sorted.
    if (isMissing(a) || isMissing(b)) return isMissing(a) - isMissing(b);
    const order = compareKeys(a, b);
    return descending ? -order : order;
  });
  body.append(...rows);
  for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
  table.tHead.rows[0].cells[column].setAttribute("aria-sort", descending ? "descending" : "ascending");
}

function makeSortable(table) {
  const headers = table.tHead.rows[0].cells;
  Array.from(headers).forEach((th, column) => {
    th.tabIndex = 0;
    th.addEventListener("click", () => {
      const descending = th.getAttribute("aria-sort") === "ascending";
      table.dataset.sortColumn = column;
      table.dataset.sortDescending = descending;
      sortTable(table, column, descending);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.sortable")) {
    if (table.tHead && table.tHead.rows.length) makeSortable(table);
  }
});
