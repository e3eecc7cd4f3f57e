"""The dashboard's pages, figures and JSON API, read through the app in-process."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pandas as pd
import pytest
import sqlalchemy
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from lrtune.dashboard import DashboardData, create_app
from lrtune.dashboard._data import (
    StudySnapshot,
    StudyView,
    figures_version,
    lrtune_state,
    study_version,
)
from lrtune.dashboard._figures import refine_figure, study_figure
from lrtune.dashboard._json import _study_summary, table_json, trial_table
from lrtune.dashboard._refine import RefineView
from lrtune.dashboard._table import TableQuery
from lrtune.refine import RefineResult, result_from_study
from lrtune.report import PER_EPOCH_ATTRS, StudyReport, trials_frame
from lrtune.report._refine_text import refine_dict
from lrtune.report._study_plots import REPORT_FILES, STUDY_FIGURES
from lrtune.report._text import fmt, interval_text
from lrtune.storage import load_study, open_study_storage
from lrtune.study import ATTR, BETWEEN_TRIALS_S
from tests.dashboard.conftest import (
    REFINE_CANDIDATES,
    REFINED,
    RUNNING,
    STARTED,
    XSS_NAME,
    fill_refine,
    finish_refine,
    running_refine,
)


def study_ids(client: TestClient) -> dict[str, int]:
    return {s["name"]: s["id"] for s in client.get("/api/studies").json()}


def test_overview_lists_studies_newest_first_with_their_state(client: TestClient) -> None:
    studies = client.get("/api/studies").json()
    assert [s["name"] for s in studies] == [XSS_NAME, "mlp"]
    mlp = studies[1]
    assert (mlp["state"], mlp["finished"], mlp["budget"], mlp["task"]) == (
        "finished",
        6,
        6,
        "digits-mlp",
    )
    page = client.get("/").text
    assert f'href="/studies/{mlp["id"]}"' in page
    assert page.index("&lt;script&gt;") < page.index(">mlp<")


def test_overview_lists_range_tests_grouped_newest_first(client: TestClient) -> None:
    groups = client.get("/api/range-tests").json()
    # Each study ran one range test per optimizer, together: two groups of two.
    assert [[t["optimizer"] for t in group] for group in groups] == [["AdamW", "SGD"]] * 2
    assert groups[0][0]["id"] > groups[1][0]["id"]  # the newer group first
    assert groups[0][0]["created_at"] >= groups[1][0]["created_at"]
    page = client.get("/").text
    for group in groups:
        assert f'href="/range-tests/{group[0]["id"]}"' in page


def test_study_api_holds_progress_best_and_its_code(client: TestClient) -> None:
    study = client.get(f"/api/studies/{study_ids(client)['mlp']}").json()
    assert study["counts"]["COMPLETE"] + study["counts"]["PRUNED"] == study["finished"] == 6
    assert study["objective"] == "val_loss" and study["direction"] == "minimize"
    best = study["best"]
    assert best["value"] == min(
        row[2]
        for row in client.get(f"/api/studies/{study['id']}/trials").json()["rows"]
        if row[1] == "COMPLETE"
    )
    assert "torch.optim" in best["code"] and best["config"]["optimizer"] in best["code"].lower()
    assert set(study["settings"]["bounds"]) == {"adamw", "sgd"}


def test_trials_api_has_one_row_per_trial_with_its_options(client: TestClient) -> None:
    table = client.get(f"/api/studies/{study_ids(client)['mlp']}/trials").json()
    columns = table["columns"]
    assert columns[:6] == ["number", "state", "value", "optimizer", "lr", "schedule"]
    assert any(c.startswith("opt.") for c in columns)
    assert [row[0] for row in table["rows"]] == list(range(6))


def test_a_study_page_reads_no_per_epoch_record_yet_shows_the_same(dashboard_db: str) -> None:
    """A study's page reads its trials without parameters, intermediate values and
    per-epoch attributes (``PER_EPOCH_ATTRS``: most of what a trial stores), none of which
    it shows: its version, summary and trial table are those of the study read in full."""
    data = DashboardData(dashboard_db)
    client = TestClient(create_app(data), base_url="http://127.0.0.1")
    study_id = study_ids(client)["mlp"]
    assert client.get(f"/studies/{study_id}").status_code == 200
    view = data.study(study_id)
    assert isinstance(view, StudyView)
    read = view.page.study.get_trials(deepcopy=False)
    assert read and not any(t.params or t.intermediate_values for t in read)
    assert not any(set(PER_EPOCH_ATTRS) & set(t.user_attrs) for t in read)
    full = StudySnapshot("mlp", data.database.studies)
    assert all("val_losses" in t.user_attrs for t in full.get_trials(deepcopy=False))
    assert (study_version(full), figures_version(full)) == (view.version, view.figures_version)
    in_full = dataclasses.replace(view, page=StudyReport(full, per_epoch=False))
    served = client.get(f"/api/studies/{study_id}/trials").json()
    assert served == json.loads(
        JSONResponse(table_json(trial_table(in_full).page(TableQuery()))).body
    )
    summary = client.get(f"/api/studies/{study_id}").json()
    assert {k: v for k, v in summary.items() if k not in ("figure_versions", "drawing")} == (
        json.loads(JSONResponse(_study_summary(in_full)).body)
    )
    data.close()


def test_the_trial_table_holds_the_trials_frame_s_values(
    client: TestClient, dashboard_db: str
) -> None:
    """The table is made from the trials' records, not from the typed ``trials_frame``
    (a cold page of a big study cannot wait for pandas): its cells are the frame's."""
    table = client.get(f"/api/studies/{study_ids(client)['mlp']}/trials").json()
    frame = trials_frame(optuna.load_study(study_name="mlp", storage=dashboard_db))
    assert table["columns"] == [c for c in frame.columns if not c.startswith(("val_", "lr_"))]
    for i, column in enumerate(table["columns"]):
        expected = [_as_json(value) for value in frame[column].tolist()]
        assert [row[i] for row in table["rows"]] == expected, column


def _as_json(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def wait_for_importances(client: TestClient, study_id: int, wait_s: float = 60.0) -> None:
    """Until the background thread has drawn the study's importances (never a timing)."""
    deadline = time.monotonic() + wait_s
    path = f"/api/studies/{study_id}"
    while client.get(path).json()["figure_versions"]["importances"] == "pending":
        assert time.monotonic() < deadline, "the importances were never drawn"
        time.sleep(0.05)


def test_study_figures_are_the_report_figures(client: TestClient, dashboard_db: str) -> None:
    """One plotting path: the SVG served is what the report's own function draws."""
    study_id = study_ids(client)["mlp"]
    assert tuple(f"{name}.png" for name in STUDY_FIGURES) == REPORT_FILES
    report = StudyReport(load_study("mlp", open_study_storage(dashboard_db)))
    wait_for_importances(client, study_id)
    for name in STUDY_FIGURES:
        served = client.get(f"/studies/{study_id}/figures/{name}.svg")
        assert served.headers["content-type"] == "image/svg+xml"
        assert served.content == study_figure(name, report), name


def test_range_test_page_overlays_its_group(client: TestClient) -> None:
    first = client.get("/api/range-tests").json()[0][0]["id"]
    results = client.get(f"/api/range-tests/{first}").json()
    assert [r["optimizer"] for r in results] == ["AdamW", "SGD"]
    assert all(len(r["history"]["lr"]) == r["points"] > 0 for r in results)
    page = client.get(f"/range-tests/{first}").text
    assert "suggested LR" in page and results[0]["stop_reason"] in page
    figure = client.get(f"/range-tests/{first}/figure.svg")
    assert figure.status_code == 200 and figure.content.startswith(b"<?xml")


def test_study_page_carries_its_id_and_version(client: TestClient) -> None:
    study_id = study_ids(client)["mlp"]
    version = client.get(f"/api/studies/{study_id}").json()["version"]
    page = client.get(f"/studies/{study_id}").text
    assert f'data-study-id="{study_id}"' in page and f'data-version="{version}"' in page
    assert page.count('class="study-figure"') == len(STUDY_FIGURES)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/studies/999", 404),
        ("/api/studies/999", 404),
        ("/api/studies/999/trials", 404),
        ("/range-tests/999", 404),
        ("/api/range-tests/999", 404),
        ("/studies/1/figures/nothing.svg", 404),
        ("/nowhere", 404),
    ],
)
def test_missing_things_are_404_with_a_message(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    if path.startswith("/api"):
        assert response.json()["error"]
    else:
        assert "<h1>404</h1>" in response.text


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_nothing_but_reading_is_allowed(client: TestClient, method: str) -> None:
    for path in ("/", "/api/studies", f"/api/studies/{study_ids(client)['mlp']}"):
        assert client.request(method, path).status_code == 405


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


@pytest.mark.parametrize("page", ["/", "/studies/{xss}"])
def test_a_name_like_a_script_is_shown_as_text(client: TestClient, page: str) -> None:
    html = client.get(page.format(xss=study_ids(client)[XSS_NAME])).text
    parsed = _Scripts()
    parsed.feed(html)
    # Only the app's own script files run; the name is text wherever it appears.
    assert all(s.get("src", "").startswith("/static/") for s in parsed.scripts)
    assert XSS_NAME in "".join(parsed.texts)
    assert "<script>alert" not in html


def test_every_answer_forbids_inline_scripts(client: TestClient) -> None:
    for path in ("/", "/api/studies", "/static/study.js"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert client.get(path).headers["x-content-type-options"] == "nosniff"


def test_each_answer_says_how_long_the_server_took(client: TestClient) -> None:
    timing = client.get("/api/studies").headers["server-timing"]
    assert re.fullmatch(r"app;dur=\d+\.\d", timing)


def test_an_unchanged_study_is_drawn_once(dashboard_db: str) -> None:
    data = DashboardData(dashboard_db)
    app = TestClient(create_app(data), base_url="http://127.0.0.1")
    study_id = study_ids(app)["mlp"]
    first = data.study(study_id)
    assert isinstance(first, StudyView)
    drawn = app.get(f"/studies/{study_id}/figures/history.svg").content
    assert data.study(study_id) is first
    assert data.background.latest(study_id, "history") == (first.figures_version, drawn)
    assert app.get(f"/studies/{study_id}/figures/history.svg").content == drawn
    assert not data.background.pending(study_id, "history")  # not queued again
    data.close()


def test_an_unchanged_studys_page_costs_one_statement_a_request(dashboard_db: str) -> None:
    """What a warm page asks (its HTML and JSON) reads no trial: one statement says the
    study did not move (``study_marks``), the answers are those made for its state."""
    data = DashboardData(dashboard_db)
    app = TestClient(create_app(data), base_url="http://127.0.0.1")
    study_id = study_ids(app)["mlp"]
    paths = [f"/studies/{study_id}", f"/api/studies/{study_id}", f"/api/studies/{study_id}/trials"]
    first = [app.get(path).text for path in paths]
    queries: list[str] = []
    sqlalchemy.event.listen(
        data.database.engine, "before_cursor_execute", lambda *args: queries.append(args[2])
    )
    again = [app.get(path).text for path in paths]
    assert len(queries) == len(paths) and not any("trial_values" in q for q in queries)
    assert again[2] == first[2] and json.loads(again[1])["version"] in first[0]
    data.close()


# --- refine runs --------------------------------------------------------------------------

RefineDb = tuple[str, RefineResult]


class _Candidates(HTMLParser):
    """The rows of a refine page's candidate table: each row's class and cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._in_table = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._in_table = found.get("id") == "candidates"
        elif self._in_table and tag == "tr" and "candidate" in (found.get("class") or ""):
            self.rows.append((found.get("class") or "", []))
        elif self._in_table and tag == "td" and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def candidate_rows(html: str) -> list[tuple[str, list[str]]]:
    parsed = _Candidates()
    parsed.feed(html)
    return parsed.rows


def test_overview_shows_each_study_kind(client: TestClient, refine_client: TestClient) -> None:
    assert {s["kind"] for s in client.get("/api/studies").json()} == {"study"}
    listed = {s["name"]: (s["kind"], s["state"]) for s in refine_client.get("/api/studies").json()}
    assert listed == {
        REFINED: ("refine", "finished"),
        RUNNING: ("refine", "running"),
        STARTED: ("refine", "new"),  # no candidate yet is not "all candidates done"
    }
    page = refine_client.get("/").text
    for name, study_id in study_ids(refine_client).items():
        row = re.search(rf'<a href="/studies/{study_id}">([^<]*)</a></td>\s*<td>(.*?)</td>', page)
        assert row is not None and row.group(1) == name
        assert row.group(2) == '<span class="kind kind-refine">refine</span>'
    assert '<span class="kind kind-study">study</span>' in client.get("/").text


def test_refine_page_shows_the_lr_the_winner_the_cost_and_its_range_test(
    refine_client: TestClient, refine_db: RefineDb
) -> None:
    result = refine_db[1]
    page = refine_client.get(f"/studies/{study_ids(refine_client)[REFINED]}").text
    assert f'<strong id="refine-lr">{fmt(result.lr)}</strong>' in page
    winner = re.search(r'<dd id="refine-winner">(.*?)</dd>', page)
    assert winner is not None
    assert winner.group(1).startswith(f"{fmt(result.winner_lr)} (trial #")
    assert f"won at {result.rungs[-1]} steps, the last rung" in winner.group(1)
    cost = re.search(r'<dd id="refine-cost">(.*?)</dd>', page)
    assert cost is not None
    assert cost.group(1) == (
        f"{result.cost_steps} of {result.budget_steps} budget steps · {result.budget:.2f} of "
        f"{result.budget_steps / result.planned_steps:.2f} full trainings (range test included)"
    )
    interval = interval_text(tuple(result.attrs["interval"]))
    assert f'<dd id="refine-interval">{interval} (the range test' in page
    assert f'<a href="/range-tests/{result.range_test_id}">' in page
    assert refine_client.get(f"/range-tests/{result.range_test_id}").status_code == 200
    assert "Still running" not in page


def test_refine_page_lists_every_candidate_and_one_winner(
    refine_client: TestClient, refine_db: RefineDb
) -> None:
    result = refine_db[1]
    rows = candidate_rows(refine_client.get(f"/studies/{study_ids(refine_client)[REFINED]}").text)
    assert len(rows) == len(result.candidates) == REFINE_CANDIDATES
    expected = [
        [
            f"#{c.trial}",
            fmt(c.lr),
            str(c.steps[-1]),
            fmt(c.val_losses[-1]),
            "pruned" if c.pruned else "winner",
        ]
        for c in result.candidates
    ]
    assert [cells for _, cells in rows] == expected
    winners = [cells for css, cells in rows if "winner" in css.split()]
    assert len(winners) == 1 and winners[0][1] == fmt(result.winner_lr)
    assert winners[0][2] == str(result.rungs[-1])


def test_refine_page_draws_plot_refine_and_none_of_the_study_figures(
    refine_client: TestClient, refine_db: RefineDb
) -> None:
    study_id = study_ids(refine_client)[REFINED]
    page = refine_client.get(f"/studies/{study_id}").text
    assert 'class="study-figure"' not in page and "study.js" not in page
    version = refine_client.get(f"/api/studies/{study_id}").json()["version"]
    assert f'src="/studies/{study_id}/figures/refine.svg?v={version}"' in page
    served = refine_client.get(f"/studies/{study_id}/figures/refine.svg")
    assert served.headers["content-type"] == "image/svg+xml"
    assert served.content.startswith(b"<?xml") and b"<svg" in served.content
    study = load_study(REFINED, open_study_storage(refine_db[0]))
    assert served.content == refine_figure(result_from_study(study))
    for name in STUDY_FIGURES:
        missing = refine_client.get(f"/studies/{study_id}/figures/{name}.svg")
        assert missing.status_code == 404 and "refine run" in missing.text, name


def test_refine_api_is_refine_dict_with_each_candidates_status(
    refine_client: TestClient, refine_db: RefineDb
) -> None:
    result = refine_db[1]
    study_id = study_ids(refine_client)[REFINED]
    served = refine_client.get(f"/api/studies/{study_id}").json()
    expected = refine_dict(dataclasses.replace(result, range_test=None))
    head = {"id", "name", "version", "kind", "state"}
    assert {k: v for k, v in served.items() if k not in head | {"candidates"}} == {
        k: v for k, v in expected.items() if k != "candidates"
    }
    assert (served["id"], served["name"], served["kind"], served["state"]) == (
        study_id,
        REFINED,
        "refine",
        "finished",
    )
    statuses = [c.pop("status") for c in served["candidates"]]
    assert served["candidates"] == expected["candidates"]
    assert sorted(statuses) == ["pruned"] * (REFINE_CANDIDATES - 1) + ["winner"]

    table = refine_client.get(f"/api/studies/{study_id}/trials").json()
    assert table["columns"] == ["trial", "status", "lr", "steps", "val_loss"]
    assert [row[0] for row in table["rows"]] == [c.trial for c in result.candidates]
    assert [row[3] for row in table["rows"]] == [c.steps[-1] for c in result.candidates]


@pytest.mark.parametrize(("name", "state"), [(RUNNING, "running"), (STARTED, "new")])
def test_a_refine_run_not_finished_yet_shows_what_it_has(
    refine_client: TestClient, name: str, state: str
) -> None:
    study_id = study_ids(refine_client)[name]
    response = refine_client.get(f"/studies/{study_id}")
    assert response.status_code == 200
    page = response.text
    assert 'id="still-running"' in page and 'id="refine-lr"' not in page
    assert f'class="state state-{state}"' in page
    assert 'id="refine-figure"' not in page and "/static/refine.js" in page
    figure = refine_client.get(f"/studies/{study_id}/figures/refine.svg")
    assert figure.status_code == 404 and "still running" in figure.text
    served = refine_client.get(f"/api/studies/{study_id}").json()
    assert (served["state"], served["lr"], served["winner_lr"], served["cost_steps"]) == (
        state,
        None,
        None,
        None,
    )
    rows = candidate_rows(page)
    trials = refine_client.get(f"/api/studies/{study_id}/trials").json()["rows"]
    assert len(rows) == len(trials) == len(served["candidates"])
    if name == RUNNING:
        assert served["interval"] == [0.01, 0.1] and served["rungs"] == [10, 20]
        assert [cells[-1] for _, cells in rows] == ["pruned", "running"]
        assert [cells[2:4] for _, cells in rows] == [["10", "0.9"], ["10", "0.6"]]
    else:
        assert "No candidate has started yet" in page and "not stored" in page


def test_a_refine_run_shows_its_result_once_all_of_it_is_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    study = running_refine(url)
    data = DashboardData(url)
    study_id = study._study_id
    running = data.study(study_id)
    assert isinstance(running, RefineView) and running.result is None
    assert data.study(study_id) is running  # unchanged: the same view
    finish_refine(study)
    finished = data.study(study_id)
    assert isinstance(finished, RefineView) and finished.version != running.version
    assert finished.result is not None and finished.result.lr == 0.06
    assert finished.state == "finished" and finished.winner is not None
    assert finished.winner.lr == finished.result.winner_lr == 0.05
    # refine_lr writes lr, winner_lr, cost_steps one by one: one alone is not a result yet.
    half = optuna.create_study(storage=url, study_name="half")
    for key, value in {**study.user_attrs, "lr": 0.06}.items():
        if key not in ("winner_lr", "cost_steps"):
            half.set_user_attr(key, value)
    partial = data.study(half._study_id)
    assert isinstance(partial, RefineView) and partial.result is None
    data.close()


@pytest.mark.postgres
def test_refine_runs_in_postgres_are_shown_as_in_sqlite(postgres_url: str) -> None:
    result = fill_refine(postgres_url)
    data = DashboardData(postgres_url)
    client = TestClient(create_app(data), base_url="http://127.0.0.1")
    ids = study_ids(client)
    page = client.get(f"/studies/{ids[REFINED]}").text
    assert f'<strong id="refine-lr">{fmt(result.lr)}</strong>' in page
    assert len(candidate_rows(page)) == REFINE_CANDIDATES
    assert client.get(f"/studies/{ids[REFINED]}/figures/refine.svg").content.startswith(b"<?xml")
    assert client.get(f"/api/studies/{ids[REFINED]}").json()["lr"] == result.lr
    for name in (RUNNING, STARTED):
        assert 'id="still-running"' in client.get(f"/studies/{ids[name]}").text
    data.close()


# --- a running study, between its trials and epoch by epoch ----------------------------------


def _budgeted(n_trials: int) -> optuna.Study:
    """An in-memory study that reads as lrtune's for its budget: ``n_trials``."""
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    study.set_user_attr(ATTR, {"n_trials": n_trials})
    return study


def _snapshot(study: optuna.Study) -> StudySnapshot:
    return StudySnapshot(study.study_name, study._storage)


def test_a_study_between_its_trials_reads_running_for_a_while() -> None:
    study = _budgeted(3)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    ended = study.trials[0].datetime_complete
    assert ended is not None
    assert lrtune_state(_snapshot(study)) == "running"  # the next one is being set up
    later = ended + timedelta(seconds=BETWEEN_TRIALS_S + 1)
    assert lrtune_state(_snapshot(study), now=later) == "stopped"
    running = study.ask()
    assert lrtune_state(_snapshot(study), now=later) == "running"  # a trial runs
    study.tell(running, 0.5)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    assert lrtune_state(_snapshot(study)) == "finished"  # its budget is met


def test_a_reported_epoch_moves_the_version_but_not_the_figures() -> None:
    study = _budgeted(3)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    trial = study.ask()
    version, figures = study_version(_snapshot(study)), figures_version(_snapshot(study))
    trial.report(0.5, 1)
    assert study_version(_snapshot(study)) != version
    assert figures_version(_snapshot(study)) == figures
    study.tell(trial, 0.4)
    assert figures_version(_snapshot(study)) != figures
