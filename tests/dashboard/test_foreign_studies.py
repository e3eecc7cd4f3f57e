"""Studies lrtune did not create (plain Optuna ones, single- and multi-objective) beside
an lrtune study: every route answers, none with a 500; ids no database holds are 404s."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
from starlette.testclient import TestClient

from lrtune.dashboard import DashboardData, create_app
from lrtune.dashboard._security import SECURITY_HEADERS, SVG_POLICY
from lrtune.report import STUDY_FIGURES
from tests.dashboard.conftest import LRTUNE, MULTI, PLAIN, THREE, make_study

OPTUNA_FIGURES = ("history", "intermediate_values", "pareto_front")
OFFERED = {
    MULTI: ["pareto_front"],
    PLAIN: ["history", "intermediate_values"],
    THREE: [],
    LRTUNE: list(STUDY_FIGURES),
}
"""The figures each study's page shows."""


def ids(client: TestClient) -> dict[str, int]:
    return {s["name"]: s["id"] for s in client.get("/api/studies").json()}


def assert_secured(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"):
        assert name in headers, name


def test_every_route_of_every_kind_of_study_answers(foreign_client: TestClient) -> None:
    found = ids(foreign_client)
    assert set(found) == set(OFFERED)
    overview = foreign_client.get("/")
    assert overview.status_code == 200
    assert "on the Pareto front" in overview.text
    for name, study_id in found.items():
        for path in ("/studies/{}", "/api/studies/{}", "/api/studies/{}/trials"):
            answer = foreign_client.get(path.format(study_id))
            assert answer.status_code == 200, (name, path)
        for figure in {*STUDY_FIGURES, *OPTUNA_FIGURES}:
            answer = foreign_client.get(f"/studies/{study_id}/figures/{figure}.svg")
            offered = figure in OFFERED[name]
            assert answer.status_code == (200 if offered else 404), (name, figure)
            assert_secured(answer)
            if offered:
                assert answer.content.startswith(b"<?xml")
        page = foreign_client.get(f"/studies/{study_id}").text
        shown = re.findall(r'class="study-figure" data-name="([a-z_]+)"', page)
        assert shown == OFFERED[name], name


def test_the_lrtune_study_beside_them_is_shown_as_ever(foreign_client: TestClient) -> None:
    study_id = ids(foreign_client)[LRTUNE]
    study = foreign_client.get(f"/api/studies/{study_id}").json()
    assert (study["task"], study["objective"], study["state"]) == (
        "digits-mlp",
        "val_loss",
        "finished",
    )
    assert "kind" not in study and study["best"]["code"]
    assert 'id="best-code"' in foreign_client.get(f"/studies/{study_id}").text


def test_a_multi_objective_study_shows_its_objectives_and_pareto_front(
    foreign_client: TestClient, foreign_db: str
) -> None:
    study_id = ids(foreign_client)[MULTI]
    study = foreign_client.get(f"/api/studies/{study_id}").json()
    optuna_study = optuna.load_study(study_name=MULTI, storage=foreign_db)
    front = sorted(t.number for t in optuna_study.best_trials)
    assert study["pareto_front"] == front and 0 < len(front) < 10
    assert (study["kind"], study["directions"], study["metric_names"]) == (
        "optuna",
        ["minimize", "maximize"],
        ["loss", "acc"],
    )
    assert study["counts"]["COMPLETE"] == 10 and study["counts"]["FAIL"] == 1
    assert study["best"] is None and study["figures"] == ["pareto_front"]

    table = foreign_client.get(f"/api/studies/{study_id}/trials").json()
    assert table["columns"][:5] == ["number", "state", "loss", "acc", "pareto"]
    assert {"params.x", "params.c", "user_attrs.note", "duration_s"} <= set(table["columns"])
    rows = {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["rows"]}
    for trial in optuna_study.trials:
        row = rows[trial.number]
        assert row["state"] == trial.state.name
        assert row["pareto"] is (trial.number in front)
        if trial.values:
            assert [row["loss"], row["acc"]] == trial.values
            assert row["params.c"] == trial.params["c"]
            assert row["user_attrs.note"] == trial.user_attrs["note"]

    page = foreign_client.get(f"/studies/{study_id}").text
    assert "No trial has completed yet" not in page
    assert "<td>loss</td><td>minimize</td>" in page and "<td>acc</td><td>maximize</td>" in page
    assert page.count('class="trial pareto"') == len(front)
    assert f"{len(front)} trials on the Pareto front" in page


def test_a_plain_study_shows_its_params_attributes_history_and_best(
    foreign_client: TestClient, foreign_db: str
) -> None:
    study_id = ids(foreign_client)[PLAIN]
    study = foreign_client.get(f"/api/studies/{study_id}").json()
    best = optuna.load_study(study_name=PLAIN, storage=foreign_db).best_trial
    assert study["best"] == {"trial": best.number, "value": best.value, "params": best.params}
    assert (study["objective"], study["direction"], study["metric_names"]) == (
        "value",
        "minimize",
        None,
    )
    assert study["user_attrs"] == {"owner": "someone else"}
    table = foreign_client.get(f"/api/studies/{study_id}/trials").json()
    assert table["columns"] == [
        "number",
        "state",
        "value",
        "params.x",
        "params.kind",
        "user_attrs.kind",
        "user_attrs.history",
        "datetime_start",
        "duration_s",
    ]
    assert table["rows"][0][6] == list(range(60))  # whole in the JSON
    page = foreign_client.get(f"/studies/{study_id}").text
    assert "someone else" in page and "params.kind" in page and "user_attrs.kind" in page
    assert f"(trial #{best.number})" in page
    assert "…</td>" in page  # the long attribute is cut short in the table


def test_three_objectives_have_a_table_and_no_figure(foreign_client: TestClient) -> None:
    study_id = ids(foreign_client)[THREE]
    study = foreign_client.get(f"/api/studies/{study_id}").json()
    assert study["objectives"] == ["values_0", "values_1", "values_2"]
    assert study["figures"] == [] and len(study["pareto_front"]) == 1  # the lower x
    page = foreign_client.get(f"/studies/{study_id}").text
    assert 'id="no-figures"' in page and page.count('class="trial') == 2


NO_ID = ["99999999999999999999", str(2**63), str(2**64), "-1", "abc", "1.5"]


@pytest.mark.parametrize("given", NO_ID)
@pytest.mark.parametrize(
    "path",
    [
        "/studies/{}",
        "/studies/{}/figures/history.svg",
        "/range-tests/{}",
        "/range-tests/{}/figure.svg",
        "/api/studies/{}",
        "/api/studies/{}/trials",
        "/api/range-tests/{}",
    ],
)
def test_an_id_no_database_holds_is_a_404(
    foreign_client: TestClient, path: str, given: str
) -> None:
    answer = foreign_client.get(path.format(given))
    assert answer.status_code == 404
    assert_secured(answer)
    if path.startswith("/api"):
        assert answer.json()["error"]
    else:
        assert "<h1>404</h1>" in answer.text


def test_the_largest_id_a_database_holds_is_looked_up(foreign_client: TestClient) -> None:
    answer = foreign_client.get(f"/api/studies/{2**63 - 1}")
    assert answer.status_code == 404 and "No study with id" in answer.json()["error"]


def test_a_bug_is_a_500_page_with_the_usual_headers(
    foreign_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = DashboardData(foreign_db)
    monkeypatch.setattr(data, "study", lambda study_id: 1 / 0)
    client = TestClient(
        create_app(data), base_url="http://127.0.0.1", raise_server_exceptions=False
    )
    for path in ("/studies/1", "/api/studies/1"):
        answer = client.get(path)
        assert answer.status_code == 500
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value
        assert "ZeroDivisionError" not in answer.text
    assert client.get("/api/studies/1").json()["error"].startswith("Internal error")
    assert "<h1>500</h1>" in client.get("/studies/1").text
    data.close()


def test_an_svg_has_a_policy_that_draws_it_and_runs_nothing(foreign_client: TestClient) -> None:
    study_id = ids(foreign_client)[PLAIN]
    for path in (f"/studies/{study_id}/figures/history.svg", "/static/favicon.svg"):
        answer = foreign_client.get(path)
        policy = answer.headers["content-security-policy"]
        assert policy == SVG_POLICY
        assert "script" not in policy and "sandbox" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    page_policy = foreign_client.get("/").headers["content-security-policy"]
    assert "unsafe-inline" not in page_policy


def test_lrtune_studies_name_their_objective(foreign_db: str) -> None:
    # Optuna's own tools (optuna-dashboard) would say "Objective 0".
    assert optuna.load_study(study_name=LRTUNE, storage=foreign_db).metric_names == ["val_loss"]


def test_an_lrtune_study_with_trials_added_by_hand_draws_every_figure(tmp_path: Path) -> None:
    # A trial added from Python records no LR and may go below zero: the best of them
    # all, it leads the top trials, whose LR axis cannot be a log one then.
    url = f"sqlite:///{tmp_path / 'lrtune.db'}"
    study = make_study(url, "mixed", 2)
    study.add_trial(optuna.trial.create_trial(value=-1.0))
    data = DashboardData(url)
    client = TestClient(
        create_app(data), base_url="http://127.0.0.1", raise_server_exceptions=False
    )
    study_id = ids(client)["mixed"]
    for figure in STUDY_FIGURES:
        answer = client.get(f"/studies/{study_id}/figures/{figure}.svg")
        assert answer.status_code == 200, figure
        assert answer.content.startswith(b"<?xml"), figure
    data.close()
