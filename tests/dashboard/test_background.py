"""A study's figures are drawn off the request path, ahead of the request, and kept by
study, figure and state: a page's figures answer at once (a placeholder until drawn) and
fill in; a reported epoch draws nothing again, a new trial draws each figure once, the
importances only when a trial completes; numbers are computed here, drawings made in
worker processes from plain data; a big study's figures stay small."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import sqlalchemy
from starlette.testclient import TestClient

from lrtune.dashboard import DashboardData, create_app
from lrtune.dashboard._background import BackgroundFigures, Requests
from lrtune.dashboard._data import IMPORTANCES, PENDING, Figures, StudyView
from lrtune.dashboard._drawing import draw_figure, worker_count
from lrtune.dashboard._figures import _DRAWING, study_figure, svg
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
    """Draws as the dashboard's workers do, once the test opens the gate, and records
    each figure drawn with the number of trials its numbers came from."""

    def __init__(self, draw: Callable[[str, tuple[Any, ...]], bytes] = draw_figure) -> None:
        self.open = threading.Event()
        self.draw = draw
        self.drawn: list[str] = []

    def __call__(self, name: str, inputs: tuple[Any, ...]) -> bytes:
        self.open.wait(WAIT_S)
        self.drawn.append(name)
        return self.draw(name, inputs)


def gated(data: DashboardData, gate: Gate) -> ThreadPoolExecutor:
    """``data`` drawing through ``gate`` in a thread of this process."""
    pool = ThreadPoolExecutor(1)
    data.background = BackgroundFigures(gate, lambda error: b"failed", lambda: pool)
    return pool


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, DashboardData, TestClient, Gate]]:
    """A real study of 3 trials, the app over it, its figures drawn behind a gate."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    make_study(url, "live", 3)
    data = DashboardData(url)
    gate = Gate()
    pool = gated(data, gate)
    with TestClient(create_app(data), base_url="http://127.0.0.1") as client:
        yield url, data, client, gate
    gate.open.set()
    data.close()
    pool.shutdown()


def api(client: TestClient) -> dict:
    (study,) = client.get("/api/studies").json()
    return client.get(f"/api/studies/{study['id']}").json()


def drawn_at_state(client: TestClient) -> bool:
    return api(client)["drawing"] == []


def test_a_pages_figures_answer_at_once_with_placeholders_then_fill_in(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url, data, client, gate = live
    study_id = api(client)["id"]
    page = client.get(f"/studies/{study_id}").text
    for name in STUDY_FIGURES:
        assert f'data-name="{name}" data-version="{PENDING}"' in page
    # The gate is shut: nothing is drawn, and no figure of the page waits for it.
    first = {
        name: client.get(f"/studies/{study_id}/figures/{name}.svg?v={PENDING}")
        for name in STUDY_FIGURES
    }
    assert all(r.headers["content-type"] == "image/svg+xml" for r in first.values())
    assert "Computing the importances of 3 completed trials" in first[IMPORTANCES].text
    assert "Drawing this figure of 3 trials" in first["history"].text
    state = api(client)
    assert state["drawing"] == list(STUDY_FIGURES)
    assert set(state["figure_versions"].values()) == {PENDING}
    assert gate.drawn == []

    gate.open.set()
    wait_until(lambda: drawn_at_state(client), "the figures")
    view = data.study(study_id)
    assert isinstance(view, StudyView)
    versions = api(client)["figure_versions"]
    assert versions == view.figure_keys()
    report = StudyReport(load_study("live", open_study_storage(url)))
    for name, version in versions.items():
        served = client.get(f"/studies/{study_id}/figures/{name}.svg?v={version}")
        assert served.content == study_figure(name, report), name  # lrtune report's figure
    assert sorted(gate.drawn) == sorted(STUDY_FIGURES)  # each once


def test_figures_are_drawn_ahead_of_their_request(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    _, _, client, gate = live
    gate.open.set()
    api(client)  # the study's JSON only: the page polls it, and sees a new state first
    wait_until(lambda: sorted(gate.drawn) == sorted(STUDY_FIGURES), "the drawings")


def test_a_figure_asked_for_without_a_version_waits_for_its_drawing(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url, _, client, gate = live
    study_id = api(client)["id"]
    answers: list[bytes] = []
    path = f"/studies/{study_id}/figures/slices.svg"
    asking = threading.Thread(target=lambda: answers.append(client.get(path).content))
    asking.start()
    asking.join(0.5)
    assert asking.is_alive() and answers == []  # the drawing is behind the gate
    gate.open.set()
    asking.join(WAIT_S)
    report = StudyReport(load_study("live", open_study_storage(url)))
    assert answers == [study_figure("slices", report)]


def test_figures_are_drawn_again_once_per_trial_the_importances_once_it_completes(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url, _, client, gate = live
    gate.open.set()
    study_id = api(client)["id"]
    wait_until(lambda: drawn_at_state(client), "the figures")
    drawn_at = api(client)["figure_versions"]

    study = optuna.load_study(study_name="live", storage=url)
    trial = study.ask()
    trial.set_user_attr("config", study.trials[0].user_attrs["config"])  # as lrtune's trials
    wait_until(lambda: drawn_at_state(client), "the figures of a running trial")
    asked = api(client)["figure_versions"]
    assert asked[IMPORTANCES] == drawn_at[IMPORTANCES]  # no trial completed
    assert asked["history"] != drawn_at["history"]  # a trial was added
    count = len(gate.drawn)
    assert count == 2 * len(STUDY_FIGURES) - 1
    for epoch in range(1, 4):  # a running trial reports epochs: the page polls each one
        trial.report(0.5 / epoch, epoch)
        state = api(client)
        assert state["figure_versions"] == asked and state["drawing"] == []
        assert b"Drawing" not in client.get(f"/studies/{study_id}/figures/history.svg").content
    assert len(gate.drawn) == count

    study.tell(trial, 0.01)
    wait_until(lambda: drawn_at_state(client), "the figures of a completed trial")
    assert len(gate.drawn) == count + len(STUDY_FIGURES)
    assert api(client)["figure_versions"][IMPORTANCES] != drawn_at[IMPORTANCES]


def test_a_state_replaced_before_its_turn_is_not_drawn() -> None:
    gate = Gate(lambda name, inputs: repr(inputs).encode())
    pool = ThreadPoolExecutor(1)
    background = BackgroundFigures(gate, lambda error: b"failed", lambda: pool)
    background.want(1, {"f": ("a", lambda: ("a",))})  # drawing a starts, waits at the gate
    wait_until(lambda: background._jobs.empty(), "the first drawing to start")
    background.want(1, {"f": ("b", lambda: ("b",))})
    background.want(1, {"f": ("c", lambda: ("c",))})
    background.want(1, {"f": ("c", lambda: ("c",))})  # asked again while queued: not twice
    gate.open.set()
    drawn = background.wait(1, "f", "c", WAIT_S)
    assert drawn == ("c", b"('c',)")
    assert gate.drawn == ["f", "f"]  # a and c; b was replaced by c before its turn
    background.close()
    pool.shutdown()


def test_a_drawing_that_fails_is_logged_and_shown_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def broken(name: str, inputs: tuple[Any, ...]) -> bytes:
        calls.append(name)
        raise KeyError("a bug")

    pool = ThreadPoolExecutor(1)
    background = BackgroundFigures(broken, lambda error: f"failed: {error}".encode(), lambda: pool)
    background.want(7, {"f": ("k", tuple)})
    assert background.wait(7, "f", "k", WAIT_S) == ("k", b"failed: 'a bug'")
    background.want(7, {"f": ("k", tuple)})
    assert not background.pending(7, "f") and calls == ["f"]
    assert "Could not draw figure f of study 7" in caplog.text
    background.close()
    pool.shutdown()


def test_a_figures_numbers_are_plain_data_a_worker_process_draws_alike(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    url, data, client, _ = live
    view = data.study(api(client)["id"])
    assert isinstance(view, StudyView)
    report = StudyReport(load_study("live", open_study_storage(url)))
    for name in STUDY_FIGURES:
        sent = pickle.loads(pickle.dumps(view.figure_inputs(name)))  # as to a process
        assert draw_figure(name, sent) == study_figure(name, report), name


def test_workers_leave_a_core_to_the_server() -> None:
    assert [worker_count(cores) for cores in (1, 2, 3, 8, 64)] == [1, 1, 2, 4, 4]
    assert 1 <= worker_count() <= max(1, (os.cpu_count() or 1) - 1)


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
    url, data, client, gate = live
    gate.open.set()
    study_id = api(client)["id"]
    wait_until(lambda: drawn_at_state(client), "the figures")
    study = optuna.load_study(study_name="live", storage=url)
    trial = study.ask()
    after_ask = data.study(study_id)
    wait_until(lambda: drawn_at_state(client), "the figures after the ask")
    count = len(gate.drawn)
    trial.report(0.5, 1)
    reported = data.study(study_id)
    assert isinstance(reported, StudyView) and isinstance(after_ask, StudyView)
    assert reported is not after_ask and reported.figure_keys() == after_ask.figure_keys()
    assert not any(data.background.pending(study_id, name) for name in STUDY_FIGURES)
    study.tell(trial, 0.2)
    ended = data.study(study_id)
    assert isinstance(ended, StudyView)
    redrawn = [name for name in STUDY_FIGURES if name != IMPORTANCES]  # no config: not there
    assert data.drawing(ended) == redrawn  # drawn again, in the background
    wait_until(lambda: drawn_at_state(client), "the figures after the tell")
    assert len(gate.drawn) == count + len(redrawn)


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


def test_a_pages_figures_are_answered_without_a_query(
    live: tuple[str, DashboardData, TestClient, Gate],
) -> None:
    _, data, client, gate = live
    study = api(client)
    queries: list[str] = []

    def asked(*args: Any) -> None:  # by a request: the background reads the study itself
        if threading.current_thread().name != "lrtune-dashboard-figures":
            queries.append(args[2])

    sqlalchemy.event.listen(data.database.engine, "before_cursor_execute", asked)
    pending = [f"/studies/{study['id']}/figures/{n}.svg?v={PENDING}" for n in STUDY_FIGURES]
    assert all(client.get(path).status_code == 200 for path in pending)
    assert queries == []  # placeholders, while the gate is shut
    gate.open.set()
    wait_until(lambda: drawn_at_state(client), "the figures")
    versions = api(client)["figure_versions"]
    paths = [f"/studies/{study['id']}/figures/{n}.svg?v={v}" for n, v in versions.items()]
    drawn = [client.get(path).content for path in paths]
    queries.clear()
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


def test_two_requests_for_one_answer_make_it_once() -> None:
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


def test_kept_answers_are_limited_the_oldest_forgotten() -> None:
    kept = Figures(limit=2)
    for name in ("a", "b", "c"):
        kept.get(name, name.encode)
    assert kept.drawn == {"b": b"b", "c": b"c"}
    assert kept.get("a", lambda: b"again") == b"again"


def test_the_figures_numbers_wait_for_the_requests_being_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One interpreter answers requests and computes the figures' numbers: a figure's
    numbers wait until no request is being answered (``YIELD_S`` at most)."""
    monkeypatch.setattr("lrtune.dashboard._background.YIELD_S", WAIT_S)
    requests = Requests()
    computed = threading.Event()
    pool = ThreadPoolExecutor(1)
    background = BackgroundFigures(
        lambda name, inputs: b"svg", lambda error: b"failed", lambda: pool, 1, requests
    )
    with requests.serving(), requests.serving(), requests.waiting():  # the 2nd waits
        background.want(1, {"f": ("k", lambda: (computed.set(),))})
        assert not computed.wait(0.5)  # the 1st is being answered
    assert background.wait(1, "f", "k", WAIT_S) == ("k", b"svg") and computed.is_set()
    background.close()
    pool.shutdown()


def test_the_figures_numbers_wait_for_the_requests_to_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page's requests come one after another: a figure's numbers (a big study's read,
    seconds) wait until none has been answered for ``QUIET_S``, not only until none is
    being answered, which the gaps between them are."""
    monkeypatch.setattr("lrtune.dashboard._background.YIELD_S", WAIT_S)
    monkeypatch.setattr("lrtune.dashboard._background.QUIET_S", 1.0)
    requests = Requests()
    computed = threading.Event()
    pool = ThreadPoolExecutor(1)
    background = BackgroundFigures(
        lambda name, inputs: b"svg", lambda error: b"failed", lambda: pool, 1, requests
    )
    with requests.serving():  # the page's HTML asks for its figures
        background.want(1, {"f": ("k", lambda: (computed.set(),))})
    assert not computed.wait(0.3)  # between two of the page's requests
    assert background.wait(1, "f", "k", WAIT_S) == ("k", b"svg") and computed.is_set()
    assert not requests.wait_idle(0.1, quiet_s=WAIT_S) and requests.wait_idle(WAIT_S)
    background.close()
    pool.shutdown()


def test_closed_the_background_drops_its_queue_and_logs_no_failure_of_the_job_under_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dashboard closing (its database closed next) stops its figures: the job under way
    may fail on the closed database, which is no bug to log; the jobs queued never run."""
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def under_way() -> tuple[Any, ...]:
        started.set()
        release.wait(WAIT_S)
        raise RuntimeError("the database is closed")

    pool = ThreadPoolExecutor(1)
    background = BackgroundFigures(
        lambda name, inputs: b"svg", lambda error: b"failed", lambda: pool, 1, None
    )
    background.want(1, {"a": ("k", under_way), "b": ("k", lambda: (ran.append("b"),))})
    assert started.wait(WAIT_S)
    background.close()
    with caplog.at_level("DEBUG", logger="lrtune.dashboard._background"):
        release.set()
        assert background.wait(1, "a", "k", WAIT_S) == ("k", b"failed")
    assert background.wait(1, "b", "k", 0.5) is None and ran == []
    assert [r.levelname for r in caplog.records] == ["DEBUG"]
    pool.shutdown()


class _CountedRequests(Requests):
    """Requests whose ``wait_idle`` calls are kept: (timeout, whether idle)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[tuple[float, bool]] = []

    def wait_idle(self, timeout_s: float, quiet_s: float = 0.0) -> bool:
        idle = super().wait_idle(timeout_s, quiet_s)
        self.waits.append((timeout_s, idle))
        return idle


def test_under_requests_that_never_pause_only_the_first_figure_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client polling faster than ``QUIET_S`` leaves no pause: the first figure waits
    ``YIELD_S`` for one, the next ones go on at once (ten figures must not wait ten
    times); once the requests pause, a figure waits for a pause again."""
    monkeypatch.setattr("lrtune.dashboard._background.YIELD_S", 0.5)
    monkeypatch.setattr("lrtune.dashboard._background.QUIET_S", 0.3)
    requests = _CountedRequests()
    pool = ThreadPoolExecutor(1)
    background = BackgroundFigures(
        lambda name, inputs: b"svg", lambda error: b"failed", lambda: pool, 1, requests
    )
    polling = threading.Event()
    polling.set()

    def poll() -> None:
        while polling.is_set():
            with requests.serving():
                time.sleep(0.01)
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        background.want(1, {name: ("k", lambda: ()) for name in ("a", "b", "c")})
        for name in ("a", "b", "c"):
            assert background.wait(1, name, "k", WAIT_S) == ("k", b"svg")
    finally:
        polling.clear()
        poller.join()
    assert requests.waits == [(0.5, False), (0.0, False), (0.0, False)]
    assert requests.wait_idle(WAIT_S, quiet_s=0.3)  # the requests paused
    requests.waits.clear()
    for name in ("d", "e"):
        background.want(1, {name: ("k", lambda: ())})
        assert background.wait(1, name, "k", WAIT_S) == ("k", b"svg")
    assert requests.waits == [(0.0, True), (0.5, True)]
    background.close()
    pool.shutdown()
