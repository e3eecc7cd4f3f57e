"""The dashboard in a real browser (Debian's Chromium, driven by Playwright): pages load
without errors, links lead where they should, charts draw, the trial table sorts and
filters, names stay text, a running study's page updates itself, and the token works;
refine runs have their own page, which a running run's reloads when the run moves on.

Chromium must be at /usr/bin/chromium: without it these tests fail, so that a missing
browser is not mistaken for a passing run; LRTUNE_SKIP_BROWSER=1 makes them skip instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.dashboard.conftest import (
    MULTI,
    PLAIN,
    REFINE_CANDIDATES,
    REFINED,
    RUNNING,
    STARTED,
    XSS_NAME,
    Server,
    finish_refine,
    make_study,
    running_refine,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 30_000
SKIP = os.environ.get("LRTUNE_SKIP_BROWSER") == "1"
FIGURES = {
    "history",
    "epoch_curves",
    "by_optimizer",
    "by_schedule",
    "top_trials",
    "importances",
    "parallel_coordinates",
    "slices",
    "intermediate_values",
    "timeline",
}

# Runs before any of the page's scripts (injected by the browser, outside the page's CSP).
RECORD_CSP_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""

FIGURES_SHOWN = """(versions) => [...document.querySelectorAll("img.study-figure")].every(
  (img) => img.src.endsWith(`?v=${versions[img.dataset.name]}`) &&
    img.complete && img.naturalWidth > 0
)"""
"""Until every figure shows its drawing of ``versions`` (a placeholder's is ``pending``)."""

STUDY_PAGE_READY = """() =>
  document.getElementById("trial-count").textContent !== "" &&
  [...document.querySelectorAll("img.study-figure")].every((img) => img.complete)
"""


# Skip before the shared database is written, when it is known there is nothing to drive.
pytestmark = pytest.mark.skipif(SKIP and not CHROMIUM.exists(), reason=f"no {CHROMIUM}")


def _browser_unavailable(reason: str) -> None:
    if SKIP:
        pytest.skip(reason)
    pytest.fail(f"{reason}; set LRTUNE_SKIP_BROWSER=1 to skip these tests", pytrace=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _browser_unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless=new", "--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def base_url(dashboard_db: str) -> Iterator[str]:
    """One ``lrtune dashboard`` over the shared database, for every test that only reads it."""
    server = Server("--storage", dashboard_db)
    try:
        server.wait_ready()
        yield server.url()
    finally:
        server.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) that records CSP violations on every page."""
    fresh = browser.new_context()
    fresh.set_default_timeout(TIMEOUT_MS)
    fresh.add_init_script(RECORD_CSP_VIOLATIONS)
    yield fresh
    fresh.close()


class Watched:
    """A page and everything that went wrong on it: console errors, uncaught exceptions,
    failed requests, answers >= 400, and any dialog (dismissed)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on(
            "requestfailed",
            lambda request: self.problems.append(f"failed: {request.url} {request.failure}"),
        )
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"status {response.status}: {response.url}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def goto(self, url: str) -> Response:
        response = self.page.goto(url)
        assert response is not None, url
        return response

    def assert_clean(self) -> None:
        """Nothing went wrong, the CSP blocked nothing, and no dialog opened."""
        self.page.wait_for_load_state("networkidle")
        violations = self.page.evaluate("window.__csp")
        assert violations == [], f"CSP violations on {self.page.url}"
        assert self.problems == [], f"problems on {self.page.url}"
        assert self.dialogs == [], f"dialogs on {self.page.url}"


def watch(context: BrowserContext) -> Watched:
    return Watched(context.new_page())


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.load(answer)


def figures_drawn(base: str, study_id: int, wait_s: float = 60.0) -> dict[str, str]:
    """The version of each of the study's figures, once all are drawn at its state."""
    deadline = time.monotonic() + wait_s
    while True:
        study = get_json(f"{base}/api/studies/{study_id}")
        if not study["drawing"]:
            assert "pending" not in study["figure_versions"].values()
            return dict(study["figure_versions"])
        assert time.monotonic() < deadline, "the figures were never drawn"
        time.sleep(0.1)


def study_ids(base: str) -> dict[str, int]:
    return {s["name"]: s["id"] for s in get_json(f"{base}/api/studies")}


def hrefs(page: Page, selector: str) -> list[str]:
    return list(page.eval_on_selector_all(selector, "links => links.map((a) => a.href)"))


def wait_study_page(page: Page) -> None:
    """Until study.js has drawn the page and every figure finished loading (or failed)."""
    page.wait_for_function(STUDY_PAGE_READY)


def figures_loaded(page: Page) -> dict[str, bool]:
    return dict(
        page.eval_on_selector_all(
            "img.study-figure",
            "imgs => imgs.map((img) => [img.dataset.name, img.complete && img.naturalWidth > 0])",
        )
    )


def range_figure_loaded(page: Page) -> bool:
    page.wait_for_function("() => document.getElementById('range-test-figure').complete")
    return bool(
        page.eval_on_selector("#range-test-figure", "img => img.complete && img.naturalWidth > 0")
    )


# --- every page, clean ------------------------------------------------------------------


def test_every_page_loads_without_errors(context: BrowserContext, base_url: str) -> None:
    overview = watch(context)
    assert overview.goto(f"{base_url}/").status == 200
    studies = hrefs(overview.page, "#studies a")
    range_tests = hrefs(overview.page, "#range-tests a")
    overview.assert_clean()
    overview.page.close()
    assert len(studies) == 2 and len(range_tests) == 2

    for url in studies:
        study = watch(context)
        assert study.goto(url).status == 200
        wait_study_page(study.page)
        assert study.page.text_content("#progress-text"), url
        assert all(figures_loaded(study.page).values()), url
        range_tests += hrefs(study.page, "#bounds a")
        study.assert_clean()
        study.page.close()

    assert len(set(range_tests)) == 4  # two optimizers' range tests for each study
    for url in sorted(set(range_tests)):
        range_test = watch(context)
        assert range_test.goto(url).status == 200
        assert range_figure_loaded(range_test.page), url
        assert range_test.page.locator("#suggestions tbody tr").count() == 2
        range_test.assert_clean()
        range_test.page.close()


# --- navigation -------------------------------------------------------------------------


def test_links_lead_from_the_overview_to_a_study_a_range_test_and_back(
    context: BrowserContext, base_url: str
) -> None:
    page = context.new_page()
    page.goto(f"{base_url}/")
    page.locator("#studies").get_by_role("link", name="mlp", exact=True).click()
    page.wait_for_url(re.compile(r"/studies/\d+$"))
    assert page.url == f"{base_url}/studies/{study_ids(base_url)['mlp']}"
    assert page.text_content("#study-name") == "mlp"

    page.locator("#bounds a").first.click()  # drawn by study.js from the API
    page.wait_for_url(re.compile(r"/range-tests/\d+$"))
    assert page.locator("h1").first.text_content().startswith("Range test")
    assert page.locator("#suggestions tbody tr").count() >= 1

    page.locator("header nav").get_by_role("link", name="Overview", exact=True).click()
    page.wait_for_url(f"{base_url}/")
    assert page.locator("#studies tbody tr").count() == 2


# --- charts, best configuration, progress ---------------------------------------------------


def test_study_page_draws_its_figures_best_code_and_progress(
    context: BrowserContext, base_url: str
) -> None:
    page = context.new_page()
    page.goto(f"{base_url}/studies/{study_ids(base_url)['mlp']}")
    wait_study_page(page)
    assert figures_loaded(page) == dict.fromkeys(FIGURES, True)
    # Placeholders first, for the figures not drawn yet; then, without a reload, the
    # drawings (the page asks every second while some are being drawn).
    versions = figures_drawn(base_url, study_ids(base_url)["mlp"])
    page.wait_for_function(FIGURES_SHOWN, arg=versions, timeout=60_000)
    assert "torch.optim" in page.text_content("#best-code")
    assert page.text_content("#progress-text").startswith("6/6 finished")
    assert page.text_content("#best-line").startswith("Best val_loss:")
    assert page.locator("#best-table tr").count() >= 6

    page.goto(hrefs(page, "#bounds a")[0])
    assert range_figure_loaded(page)


# --- the trial table ----------------------------------------------------------------------


def column_keys(page: Page, name: str) -> list[float | None]:
    """The trial table's column ``name``, top to bottom: each cell's number, None if none."""
    headers = page.eval_on_selector_all(
        "#trials thead th", "ths => ths.map((th) => th.textContent)"
    )
    column = headers.index(name)
    keys = page.eval_on_selector_all(
        "#trials tbody tr",
        "(rows, column) => rows.map((row) => row.cells[column].dataset.value ?? null)",
        column,
    )
    return [None if key is None else float(key) for key in keys]


def click_header(page: Page, name: str) -> str | None:
    """Click column ``name``'s header; once the page sorted by it (the server sends the
    sorted page), its ``aria-sort``."""
    header = page.locator("#trials thead th").filter(has_text=re.compile(f"^{re.escape(name)}$"))
    before = header.get_attribute("aria-sort")
    header.click()
    page.wait_for_function(
        """([name, before]) => [...document.querySelectorAll("#trials thead th[aria-sort]")]
          .some((th) => th.textContent === name && th.getAttribute("aria-sort") !== before)""",
        arg=[name, before],
    )
    return header.get_attribute("aria-sort")


def row_texts(page: Page) -> list[str]:
    """Each row of the trial table's page, its text in lower case."""
    return page.eval_on_selector_all(
        "#trials tbody tr", "rows => rows.map((r) => r.textContent.toLowerCase())"
    )


def pager_says(page: Page, text: str) -> None:
    """Until the pager's line reads ``text`` (a page comes from the server)."""
    page.wait_for_function(
        "(text) => document.getElementById('trial-count').textContent === text", arg=text
    )


def test_trial_table_sorts_filters_and_pages_on_the_server(
    context: BrowserContext, base_url: str
) -> None:
    study_id = study_ids(base_url)["mlp"]
    every = get_json(f"{base_url}/api/studies/{study_id}/trials")
    optimizer = every["columns"].index("optimizer")
    sgd = [row for row in every["rows"] if row[optimizer] == "sgd"]
    complete = [row for row in every["rows"] if row[1] == "COMPLETE"]
    page = context.new_page()
    page.goto(f"{base_url}/studies/{study_id}")
    wait_study_page(page)
    assert page.text_content("#trial-count") == "Trials 1-6 of 6"
    assert page.is_disabled("#page-next") and page.is_disabled("#page-prev")

    assert click_header(page, "value") == "ascending"
    values = column_keys(page, "value")
    assert len(values) == 6 and None not in values
    assert values == sorted(values) and values[0] < values[-1]
    assert click_header(page, "value") == "descending"
    assert column_keys(page, "value") == sorted(values, reverse=True)

    # SGD's momentum is missing ("-") for AdamW's trials: sorted after every number,
    # ascending or descending.
    assert click_header(page, "opt.momentum") == "ascending"
    momentum = column_keys(page, "opt.momentum")
    numbers = [m for m in momentum if m is not None]
    assert numbers and len(numbers) < len(momentum)
    assert momentum == sorted(numbers) + [None] * (len(momentum) - len(numbers))
    assert click_header(page, "opt.momentum") == "descending"
    momentum = column_keys(page, "opt.momentum")
    assert momentum == sorted(numbers, reverse=True) + [None] * (len(momentum) - len(numbers))

    # Two rows a page (an option the page does not offer, added here): the pages go
    # through the sorted trials in turn.
    page.eval_on_selector("#page-size", "s => s.append(new Option('2', '2'))")
    page.select_option("#page-size", "2")
    pager_says(page, "Trials 1-2 of 6")
    shown = column_keys(page, "opt.momentum")
    for text in ("Trials 3-4 of 6", "Trials 5-6 of 6"):
        page.click("#page-next")
        pager_says(page, text)
        shown += column_keys(page, "opt.momentum")
    assert shown == momentum and page.is_disabled("#page-next")
    page.click("#page-first")
    pager_says(page, "Trials 1-2 of 6")
    page.select_option("#page-size", "50")

    page.fill("#trial-filter", "SGD")
    pager_says(page, f"Trials 1-{len(sgd)} of {len(sgd)} matching (6 in all)")
    assert 0 < len(sgd) < 6
    assert len(row_texts(page)) == len(sgd) and all("sgd" in text for text in row_texts(page))
    page.fill("#trial-filter", "")
    pager_says(page, "Trials 1-6 of 6")

    options = page.eval_on_selector_all("#state-filter option", "os => os.map((o) => o.value)")
    assert options == ["", "COMPLETE", "PRUNED"]
    page.select_option("#state-filter", "COMPLETE")
    pager_says(page, f"Trials 1-{len(complete)} of {len(complete)} matching (6 in all)")
    states = page.eval_on_selector_all(
        "#trials tbody tr", "rows => rows.map((r) => r.cells[1].textContent)"
    )
    assert states == ["COMPLETE"] * len(complete)


# --- names are text ---------------------------------------------------------------------


def test_a_name_like_a_script_stays_text(context: BrowserContext, base_url: str) -> None:
    watched = watch(context)
    page = watched.page
    watched.goto(f"{base_url}/")
    names = page.eval_on_selector_all("#studies a", "links => links.map((a) => a.textContent)")
    assert XSS_NAME in names
    assert XSS_NAME in page.text_content("#studies")

    page.locator("#studies").get_by_role("link", name=XSS_NAME, exact=True).click()
    page.wait_for_url(re.compile(r"/studies/\d+$"))
    wait_study_page(page)
    assert page.text_content("#study-name") == XSS_NAME
    assert page.title() == f"{XSS_NAME} · lrtune"
    assert page.text_content("#progress-text").startswith("2/2 finished")
    scripts = page.eval_on_selector_all("script", "ss => ss.map((s) => s.textContent)")
    assert not any("alert(1)" in text for text in scripts)
    assert watched.dialogs == []
    watched.assert_clean()


# --- a running study -----------------------------------------------------------------------


def test_a_running_study_page_updates_itself(
    serve: Any, context: BrowserContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    make_study(url, "live", 2)
    server = serve("--storage", url)
    server.wait_ready()
    base = server.url()
    watched = watch(context)
    page = watched.page
    first = watched.goto(f"{base}/studies/{study_ids(base)['live']}").text()
    # A fresh server: the page comes at once with placeholders, which fill in by themselves.
    assert first.count('data-version="pending"') == len(FIGURES)
    wait_study_page(page)
    page.wait_for_function(FIGURES_SHOWN, arg=figures_drawn(base, study_ids(base)["live"]))
    assert page.text_content("#progress-text").startswith("2/2 finished")
    assert page.locator("#trials tbody tr").count() == 2
    before = page.get_attribute("body", "data-version")
    assert before and all(figures_loaded(page).values())
    page.evaluate("window.__marker = 1")

    failures: list[BaseException] = []

    def resume() -> None:
        try:
            make_study(url, "live", 4)  # the same study, two trials more
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=resume)
    thread.start()
    try:
        page.wait_for_function(
            """(before) => {
              const version = document.body.dataset.version;
              const drawn = document.body.dataset.figuresVersion;
              const history = document.querySelector('img.study-figure[data-name="history"]');
              return version !== before &&
                document.getElementById("progress-text").textContent.startsWith("4/4") &&
                history.src.endsWith(`?v=${drawn}`);
            }""",
            arg=before,
            timeout=60_000,
        )
    finally:
        thread.join()
    assert failures == []

    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert page.locator("#trials tbody tr").count() == 4
    assert page.text_content("#trial-count") == "Trials 1-4 of 4"
    drawn = page.get_attribute("body", "data-figures-version")
    api = get_json(f"{base}/api/studies/{study_ids(base)['live']}")
    assert drawn == api["figures_version"]
    page.wait_for_function(STUDY_PAGE_READY)
    assert all(figures_loaded(page).values())
    # Each figure follows the study, drawn in the background; the importances follow its
    # completed trials.
    versions = figures_drawn(base, study_ids(base)["live"])
    assert {v for name, v in versions.items() if name != "importances"} == {drawn}
    page.wait_for_function(FIGURES_SHOWN, arg=versions, timeout=60_000)
    srcs = dict(
        page.eval_on_selector_all(
            "img.study-figure", "imgs => imgs.map((i) => [i.dataset.name, i.src])"
        )
    )
    assert all(src.endswith(f"?v={versions[name]}") for name, src in srcs.items())
    # Figures replaced mid-load may be cancelled; nothing may fail or answer an error.
    assert not [p for p in watched.problems if not p.startswith("failed:")]


# --- studies lrtune did not create ----------------------------------------------------------


@pytest.fixture(scope="module")
def foreign_url(foreign_db: str) -> Iterator[str]:
    """One ``lrtune dashboard`` over plain Optuna studies beside an lrtune one."""
    server = Server("--storage", foreign_db)
    try:
        server.wait_ready()
        yield server.url()
    finally:
        server.stop()


def dark_share(png: bytes) -> float:
    """The share of a screenshot's pixels that are nearly black."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return float((pixels < 40).mean())


def test_a_study_lrtune_did_not_create_has_its_own_clean_page(
    context: BrowserContext, foreign_url: str
) -> None:
    ids = study_ids(foreign_url)
    overview = watch(context)
    overview.goto(f"{foreign_url}/")
    overview.page.locator("#studies").get_by_role("link", name=MULTI, exact=True).click()
    overview.page.wait_for_url(f"{foreign_url}/studies/{ids[MULTI]}")
    page = overview.page
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.study-figure')].every((img) => img.complete)"
    )
    assert figures_loaded(page) == {"pareto_front": True}
    objectives = page.eval_on_selector_all(
        "#objectives tbody td", "cells => cells.map((cell) => cell.textContent)"
    )
    assert objectives == ["0", "loss", "minimize", "1", "acc", "maximize"]
    front = get_json(f"{foreign_url}/api/studies/{ids[MULTI]}")["pareto_front"]
    marked = page.eval_on_selector_all(
        "#trials tr.pareto", "rows => rows.map((row) => Number(row.cells[0].textContent))"
    )
    assert sorted(marked) == front and front
    assert click_header(page, "loss") == "ascending"  # tables.js sorts it
    overview.assert_clean()

    # A figure opened on its own, in a tab of its own, is drawn (not a black rectangle).
    for name, figure in ((PLAIN, "history"), (MULTI, "pareto_front")):
        alone = watch(context)
        answer = alone.goto(f"{foreign_url}/studies/{ids[name]}/figures/{figure}.svg")
        assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"
        alone.page.set_viewport_size({"width": 800, "height": 500})
        assert dark_share(alone.page.screenshot()) < 0.2, figure
        alone.assert_clean()
        alone.page.close()


# --- refine runs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def refine_url(refine_db: tuple[str, Any]) -> Iterator[str]:
    """One ``lrtune dashboard`` over the refine runs' database."""
    server = Server("--storage", refine_db[0])
    try:
        server.wait_ready()
        yield server.url()
    finally:
        server.stop()


def refine_figure_loaded(page: Page) -> bool:
    page.wait_for_function("() => document.getElementById('refine-figure').complete")
    return bool(
        page.eval_on_selector("#refine-figure", "img => img.complete && img.naturalWidth > 0")
    )


def candidate_column(page: Page, column: int) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "#candidates tbody tr",
            "(rows, column) => rows.map((row) => row.cells[column].dataset.value)",
            column,
        )
    )


def test_refine_runs_are_marked_on_the_overview_and_their_pages_load_clean(
    context: BrowserContext, refine_url: str, refine_db: tuple[str, Any]
) -> None:
    result = refine_db[1]
    overview = watch(context)
    overview.goto(f"{refine_url}/")
    kinds = overview.page.eval_on_selector_all(
        "#studies tbody tr",
        "rows => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])",
    )
    assert sorted(kinds) == sorted([[n, "refine"] for n in (REFINED, RUNNING, STARTED)])
    overview.page.locator("#studies").get_by_role("link", name=REFINED, exact=True).click()
    overview.page.wait_for_url(re.compile(r"/studies/\d+$"))
    overview.assert_clean()
    overview.page.close()

    watched = watch(context)
    page = watched.page
    watched.goto(f"{refine_url}/studies/{study_ids(refine_url)[REFINED]}")
    assert page.text_content("#study-state") == "finished"
    assert page.text_content("#refine-lr") == f"{result.lr:.3g}"
    assert page.locator("#still-running").count() == 0
    assert refine_figure_loaded(page)
    assert page.locator("img.study-figure").count() == 0
    assert page.locator("#candidates tbody tr").count() == REFINE_CANDIDATES
    assert page.locator("#candidates tr.winner").count() == 1
    assert f"{result.winner_lr:.3g}" in page.text_content("#candidates tr.winner")

    losses = page.locator("#candidates thead th").filter(has_text="last val loss")
    losses.click()
    keys = [float(key) for key in candidate_column(page, 3)]
    assert keys == sorted(keys) and len(keys) == REFINE_CANDIDATES
    watched.assert_clean()

    page.locator("#refine-range-test a").click()
    page.wait_for_url(f"{refine_url}/range-tests/{result.range_test_id}")
    assert range_figure_loaded(page)
    watched.assert_clean()


def test_refine_runs_not_finished_yet_load_clean(context: BrowserContext, refine_url: str) -> None:
    ids = study_ids(refine_url)
    for name in (RUNNING, STARTED):
        watched = watch(context)
        watched.goto(f"{refine_url}/studies/{ids[name]}")
        assert "Still running" in watched.page.text_content("#still-running")
        assert watched.page.locator("#refine-figure").count() == 0
        watched.assert_clean()
        watched.page.close()


def test_a_running_refine_page_reloads_when_the_run_finishes(
    serve: Any, context: BrowserContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    study = running_refine(url)
    server = serve("--storage", url)
    server.wait_ready()
    watched = watch(context)
    page = watched.page
    watched.goto(f"{server.url()}/studies/{study._study_id}")
    assert page.text_content("#study-state") == "running"
    assert page.locator("#candidates tbody tr").count() == 2
    assert page.locator("#still-running").count() == 1
    before = page.get_attribute("body", "data-version")

    finish_refine(study)
    page.wait_for_selector("#refine-lr", timeout=60_000)
    assert page.get_attribute("body", "data-version") != before
    assert page.text_content("#study-state") == "finished"
    assert page.text_content("#refine-lr") == "0.06"
    assert refine_figure_loaded(page)
    assert page.locator("#candidates tr.winner").count() == 1
    watched.assert_clean()


# --- the token --------------------------------------------------------------------------


def test_the_token_link_sets_a_cookie_that_opens_everything(
    serve: Any, browser: Browser, context: BrowserContext, dashboard_db: str
) -> None:
    token = secrets.token_urlsafe(18)
    assert len(token) == 24
    server = serve("--storage", dashboard_db, "--host", "127.0.0.1", "--token", token)
    server.wait_ready()
    base = server.url()
    assert f"?token={token}" in server.first_line

    stranger = browser.new_context()
    try:
        page = stranger.new_page()
        for path in ("/", "/api/studies", f"/?token={'x' * 24}"):
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 401, path
            assert "needs its token" in page.text_content("body")
    finally:
        stranger.close()

    overview = watch(context)
    response = overview.goto(f"{base}/?token={token}")
    assert response.status == 200 and response.request.redirected_from is not None
    assert overview.page.url == f"{base}/"
    assert overview.page.locator("#studies tbody tr").count() == 2
    mlp = overview.page.locator("#studies").get_by_role("link", name="mlp", exact=True)
    mlp_path = mlp.get_attribute("href")
    overview.assert_clean()
    overview.page.close()
    cookies = context.cookies(base)
    assert [(c["name"], c["httpOnly"]) for c in cookies] == [("lrtune_dashboard_token", True)]

    study = watch(context)
    assert study.goto(f"{base}{mlp_path}").status == 200
    wait_study_page(study.page)
    assert study.page.text_content("#progress-text").startswith("6/6 finished")
    assert figures_loaded(study.page) == dict.fromkeys(FIGURES, True)
    assert token not in study.page.evaluate("document.cookie")
    range_tests = hrefs(study.page, "#bounds a")
    study.assert_clean()
    study.page.close()

    range_test = watch(context)
    assert range_test.goto(range_tests[0]).status == 200
    assert range_figure_loaded(range_test.page)
    range_test.assert_clean()
