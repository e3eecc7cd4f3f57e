"""A study reads "running" between two of its trials, wherever its state is shown (the
overview, ``/api/studies``, its own page, ``lrtune studies``), and "stopped" or "finished"
once its workers are gone or its budget is met (issue 15)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from click.testing import CliRunner
from starlette.testclient import TestClient

from lrtune.cli import cli
from lrtune.dashboard import DashboardData, create_app
from lrtune.study import BETWEEN_TRIALS_S, run_study
from tests.cli.conftest import write_task

NAME = "between"


def run(url: str, task: Path, n_trials: int, *, create_only: bool = False) -> None:
    """``run_study`` as ``lrtune study`` runs it: one-epoch trials of a tiny task."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_study(
        str(task),
        n_trials=n_trials,
        epochs=1,
        optimizers=["sgd"],
        schedules=["constant"],
        ranges={"sgd.lr": (0.01, 0.1)},
        storage=url,
        study_name=NAME,
        device="cpu",
        create_only=create_only,
    )


@pytest.fixture
def between(storage_url: str, tmp_path: Path) -> tuple[str, Path]:
    """A study as lrtune leaves it between two trials: one just ended, none runs, and its
    budget (3) is not met. Its budget is raised after one trial, as `lrtune study
    --create-only --n-trials 3` does for workers that have not yet claimed the next."""
    task = write_task(tmp_path)
    run(storage_url, task, 1)
    run(storage_url, task, 3, create_only=True)
    return storage_url, task


def shown_states(url: str) -> dict[str, str]:
    """The study's state as each place that shows it says it."""
    data = DashboardData(url)
    try:
        with TestClient(create_app(data), base_url="http://127.0.0.1") as client:
            [listed] = client.get("/api/studies").json()
            overview = client.get("/").text
            page = client.get(f"/api/studies/{listed['id']}").json()
    finally:
        data.close()
    [row] = json.loads(CliRunner().invoke(cli, ["studies", "--storage", url, "--json"]).output)
    marked = [s for s in ("running", "stopped", "finished") if f'state-{s}">{s}<' in overview]
    return {
        "overview page": marked[0] if len(marked) == 1 else repr(marked),
        "/api/studies": listed["state"],
        "study page": page["state"],
        "lrtune studies": row["state"],
    }


def everywhere(state: str) -> dict[str, str]:
    return dict.fromkeys(("overview page", "/api/studies", "study page", "lrtune studies"), state)


def age_trial_ends(url: str, seconds: float) -> None:
    """Move every trial's end ``seconds`` into the past, as if that long had gone by."""
    trials = sqlalchemy.table(
        "trials",
        sqlalchemy.column("trial_id", sqlalchemy.Integer),
        sqlalchemy.column("datetime_complete", sqlalchemy.DateTime),
    )
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            rows = connection.execute(sqlalchemy.select(trials)).all()
            for trial_id, ended in rows:
                if ended is not None:
                    aged = sqlalchemy.update(trials).where(trials.c.trial_id == trial_id)
                    connection.execute(
                        aged.values(datetime_complete=ended - timedelta(seconds=seconds))
                    )
    finally:
        engine.dispose()


def test_a_study_between_two_trials_reads_running_everywhere(between: tuple[str, Path]) -> None:
    url, _ = between
    assert shown_states(url) == everywhere("running")


def test_a_study_whose_workers_are_gone_reads_stopped(between: tuple[str, Path]) -> None:
    url, _ = between
    age_trial_ends(url, BETWEEN_TRIALS_S + 30)
    assert shown_states(url) == everywhere("stopped")


def test_a_study_whose_budget_is_met_reads_finished(between: tuple[str, Path]) -> None:
    url, task = between
    run(url, task, 3)  # the rest of the budget, just ended
    assert shown_states(url) == everywhere("finished")
