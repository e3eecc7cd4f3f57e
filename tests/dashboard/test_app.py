"""The dashboard's pages, figures and JSON API, read through the app in-process."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from lrtune.dashboard import DashboardData, create_app
from lrtune.dashboard._figures import study_figure
from lrtune.report import StudyReport
from lrtune.report._study_plots import REPORT_FILES, STUDY_FIGURES
from lrtune.storage import load_study, open_study_storage
from tests.dashboard.conftest import XSS_NAME


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


def test_study_figures_are_the_report_figures(client: TestClient, dashboard_db: str) -> None:
    """One plotting path: the SVG served is what the report's own function draws."""
    study_id = study_ids(client)["mlp"]
    assert tuple(f"{name}.png" for name in STUDY_FIGURES) == REPORT_FILES
    report = StudyReport(load_study("mlp", open_study_storage(dashboard_db)))
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
    app.get(f"/studies/{study_id}/figures/history.svg")
    assert data.study(study_id) is first and set(first.figures) == {"history"}
    data.close()
