"""Importances are drawn off the request path and kept by the set of completed trials;
every other figure is drawn once per state, its numbers computed outside the drawing
lock; a big study's figures stay small."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
import sqlalchemy
from starlette.testclient import TestClient

from lrtune.dashboard import DashboardData, create_app
from lrtune.dashboard._background import BackgroundFigures
from lrtune.dashboard._data import IMPORTANCES, Figures, StudyView
from lrtune.dashboard._figures import _DRAWING, importances_figure, study_figure, svg
from lrtune.report import EpochCurves, StudyObjective, StudyReport, plot_epoch_curves
from lrtune.report._study_plots import STUDY_FIGURES
from lrtune.storage import load_study, open_study_storage
from tests.dashboard.conftest import make_study

WAIT_S = 60.0
"""How long a test waits for the background thread before it fails (never a timing)."""


def wait_until(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_S:.0f} s for {what}")
        time.sleep(0.05)


class Gate:
    """A background drawing that waits until the test opens the gate, and counts."""

    def __init__(self, draw: Callable[[optuna.Study], bytes] = importances_figure) -> None:
        self.open = threading.Event()
        self.draw = draw
        self.drawn: list[int] = []

    def __call__(self, study: optuna.Study) -> bytes:
        self.open.wait(WAIT_S)
        self.drawn.append(len(study.get_trials(deepcopy=False)))
        return self.draw(study)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, DashboardData, TestClient, Gate]]:
    """A real study of 3 trials, the app over it, its importances drawn behind a gate."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    make_study(url, "live", 3)
    data = DashboardData(url)
    gate = Gate()
    data.background = BackgroundFigures(gate, lambda error: b"failed")
    with TestClient(create_app(data), base_url="http://127.0.0.1") as client:
        yield url, data, client, gate
    data.close()


def api(client: TestClient) -> dict:
    (study,) = client.get("/api/studies").json()
    return client.get(f"/api/studies/{study['id']}").json()


def test_the_importances_answer_at_once_with_a_placeholder_then_fill_in(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url, data, client, gate = live
    study_id = api(client)["id"]
    page = client.get(f"/studies/{study_id}").text
    assert 'data-name="importances" data-version="pending"' in page
    first = client.get(f"/studies/{study_id}/figures/importances.svg")
    assert first.status_code == 200 and first.headers["content-type"] == "image/svg+xml"
    assert first.content.startswith(b"<?xml")
    assert "Computing the importances of 3 completed trials" in first.text
    assert api(client)["figure_versions"][IMPORTANCES] == "pending"

    gate.open.set()
    wait_until(lambda: api(client)["figure_versions"][IMPORTANCES] != "pending", "importances")
    view = data.study(study_id)
    assert isinstance(view, StudyView)
    versions = api(client)["figure_versions"]
    assert versions[IMPORTANCES] == view.importances_version
    assert {versions[name] for name in STUDY_FIGURES if name != IMPORTANCES} == {
        view.figures_version
    }
    report = StudyReport(load_study("live", open_study_storage(url)))
    served = client.get(f"/studies/{study_id}/figures/importances.svg?v={versions[IMPORTANCES]}")
    assert served.content == study_figure(IMPORTANCES, report)  # lrtune report's figure
    assert gate.drawn == [3]


def test_importances_are_drawn_again_only_when_a_trial_completes(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url, _, client, gate = live
    gate.open.set()
    study_id = api(client)["id"]
    path = f"/studies/{study_id}/figures/importances.svg"
    client.get(path)
    wait_until(lambda: api(client)["figure_versions"][IMPORTANCES] != "pending", "importances")
    drawn_at = api(client)["figure_versions"][IMPORTANCES]

    study = optuna.load_study(study_name="live", storage=url)
    trial = study.ask()
    trial.set_user_attr("config", study.trials[0].user_attrs["config"])  # as lrtune's trials
    for epoch in range(1, 4):  # a running trial reports epochs: the page polls each one
        trial.report(0.5 / epoch, epoch)
        state = api(client)
        assert state["figure_versions"][IMPORTANCES] == drawn_at
        assert b"Computing" not in client.get(path).content
    assert gate.drawn == [3]

    study.tell(trial, 0.01)
    wait_until(lambda: api(client)["figure_versions"][IMPORTANCES] != drawn_at, "new state")
    assert gate.drawn == [3, 4]


def test_a_state_replaced_before_its_turn_is_not_drawn() -> None:
    gate = Gate(lambda study: str(study).encode())
    background = BackgroundFigures(gate, lambda error: b"failed")
    studies = [optuna.create_study() for _ in range(3)]
    assert background.get(1, "a", studies[0]) is None  # drawing a starts, waits at the gate
    wait_until(lambda: background._wanted.get(1) == "a" and background._jobs.empty(), "start")
    background.get(1, "b", studies[1])
    background.get(1, "c", studies[2])
    background.get(1, "c", studies[2])  # asked again while queued: not queued twice
    gate.open.set()
    wait_until(lambda: (background.get(1, "c", studies[2]) or (None,))[0] == "c", "c drawn")
    assert gate.drawn == [0, 0]  # a and c; b was replaced by c before its turn
    background.close()


def test_a_drawing_that_fails_is_logged_and_shown_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def broken(study: optuna.Study) -> bytes:
        calls.append(study.study_name)
        raise KeyError("a bug")

    background = BackgroundFigures(broken, lambda error: f"failed: {error}".encode())
    study = optuna.create_study()
    background.get(7, "k", study)
    wait_until(lambda: background.get(7, "k", study) is not None, "the failure")
    assert background.get(7, "k", study) == ("k", b"failed: 'a bug'")
    assert calls == [study.study_name]
    assert "Could not draw the background figure of study 7" in caplog.text
    background.close()


def test_two_requests_for_one_figure_draw_it_once() -> None:
    figures, started, release = Figures(), threading.Event(), threading.Event()
    drawn: list[int] = []

    def draw() -> bytes:
        drawn.append(1)
        started.set()
        release.wait(WAIT_S)
        return b"<svg/>"

    answers: list[bytes] = []
    threads = [threading.Thread(target=lambda: answers.append(figures.get("x", draw)))]
    threads[0].start()
    started.wait(WAIT_S)
    threads.append(threading.Thread(target=lambda: answers.append(figures.get("x", draw))))
    threads[1].start()
    threads[1].join(0.2)
    assert threads[1].is_alive()  # waits for the first drawing instead of making its own
    release.set()
    for thread in threads:
        thread.join(WAIT_S)
    assert drawn == [1] and answers == [b"<svg/>", b"<svg/>"]


def test_a_figures_numbers_are_computed_outside_the_drawing_lock(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url = live[0]
    report = StudyReport(load_study("live", open_study_storage(url)))
    answers: list[bytes] = []
    with _DRAWING:  # another figure is being drawn
        thread = threading.Thread(target=lambda: answers.append(study_figure("slices", report)))
        thread.start()
        wait_until(lambda: "slices" in report.__dict__, "the slices' numbers")
        assert thread.is_alive() and answers == []  # only the drawing waits
    thread.join(WAIT_S)
    assert answers and answers[0].startswith(b"<?xml")


def test_a_reported_epoch_keeps_the_figures_drawn(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url, data, client, _ = live
    study_id = api(client)["id"]
    client.get(f"/studies/{study_id}/figures/history.svg")
    before = data.study(study_id)
    assert isinstance(before, StudyView) and set(before.figures) == {"history"}
    study = optuna.load_study(study_name="live", storage=url)
    trial = study.ask()
    after_ask = data.study(study_id)
    trial.report(0.5, 1)
    reported = data.study(study_id)
    assert reported is not after_ask and reported.drawn is after_ask.drawn  # kept
    study.tell(trial, 0.2)
    ended = data.study(study_id)
    assert isinstance(ended, StudyView) and ended.figures == {}  # drawn again on request


def test_the_curves_of_2000_trials_are_a_small_svg() -> None:
    rng = np.random.default_rng(0)
    epochs = list(range(1, 11))
    curves = [list(np.cumprod(rng.uniform(0.8, 1.0, 10))) for _ in range(2000)]
    info = EpochCurves(
        list(range(2000)),
        ["COMPLETE", "PRUNED"] * 1000,
        [epochs] * 2000,
        curves,
        0,
        StudyObjective("val_loss", "minimize"),
    )
    drawn = svg(plot_epoch_curves(info))
    assert b"<image" in drawn  # the 2,000 lines are one picture
    assert len(drawn) < 200 * 1024  # 638 KiB as vector paths
    assert b">Validation val_loss per epoch, every trial<" in drawn  # text stays text


def test_a_figure_at_a_drawn_version_is_answered_without_a_query(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    _, data, client, gate = live
    gate.open.set()
    study = api(client)
    wait_until(lambda: api(client)["figure_versions"][IMPORTANCES] != "pending", "importances")
    versions = api(client)["figure_versions"]
    paths = [f"/studies/{study['id']}/figures/{n}.svg?v={v}" for n, v in versions.items()]
    drawn = [client.get(path).content for path in paths]
    queries: list[str] = []
    sqlalchemy.event.listen(
        data.database.engine, "before_cursor_execute", lambda *args: queries.append(args[2])
    )
    assert [client.get(path).content for path in paths] == drawn
    assert queries == []  # every figure came from memory
    client.get(f"/studies/{study['id']}/figures/history.svg?v=elsewhere")
    assert queries  # a version not drawn reads the study


def test_a_range_tests_figure_is_drawn_once(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    _, data, client, _ = live
    (group, *_) = client.get("/api/range-tests").json()
    first = group[0]["id"]
    path = f"/range-tests/{first}/figure.svg"
    drawn = client.get(path).content
    shown = ",".join(str(test["id"]) for test in group)
    assert list(data.range_figures.drawn) == [shown]
    data.range_figures.drawn[shown] = b"kept"
    assert client.get(path).content == b"kept"  # not drawn again
    assert drawn.startswith(b"<?xml")


def test_kept_answers_are_limited_the_oldest_forgotten() -> None:
    kept = Figures(limit=2)
    for name in ("a", "b", "c"):
        kept.get(name, name.encode)
    assert kept.drawn == {"b": b"b", "c": b"c"}
    assert kept.get("a", lambda: b"again") == b"again"
