"""Worker processes on the real PostgreSQL: the budget is exact, and nothing is lost when a
worker is killed or stopped, or when the database drops its connections or restarts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy
from optuna.trial import TrialState

from .conftest import (
    Workers,
    by_state,
    create_study,
    running,
    study_trials,
    training,
    wait_for,
    write_slow_task,
)

pytestmark = pytest.mark.postgres

WorkersFactory = Callable[[str, str], Workers]


def assert_exit_0(results: list[tuple[int, str]]) -> None:
    """Every worker exited 0; otherwise fail showing each one's whole output."""
    if any(code != 0 for code, _ in results):
        shown = "\n".join(f"--- exit {code}:\n{output}" for code, output in results)
        pytest.fail(f"a worker failed:\n{shown}", pytrace=False)


def assert_clean_finish(url: str, name: str, budget: int) -> None:
    """Exactly ``budget`` finished trials, none running, no trial number twice."""
    trials = study_trials(url, name)
    counts = by_state(trials)
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) == budget, counts
    assert "RUNNING" not in counts, counts
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)), numbers
    assert sorted(numbers) == list(range(len(numbers)))


def test_four_workers_finish_exactly_the_budget(
    postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.005), n_trials=16, epochs=1)
    workers = workers_factory(postgres_url, name)
    processes = [workers.start() for _ in range(4)]
    results = [p.finish() for p in processes]
    assert_exit_0(results)
    assert_clean_finish(postgres_url, name, 16)
    trials = study_trials(postgres_url, name)
    assert [(t.user_attrs.get("device"), bool(t.user_attrs.get("host"))) for t in trials] == [
        ("cpu", True)
    ] * 16, ([(t.number, t.state, t.system_attrs) for t in trials if not t.user_attrs], results)
    # Every worker reports the same study total at its end.
    assert all("study 'w' has 16/16 finished" in output for _, output in results)


def test_a_killed_workers_trial_is_retried_by_another(
    postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.05), n_trials=2, epochs=6)
    workers = workers_factory(postgres_url, name)
    doomed = workers.start()
    wait_for(lambda: training(postgres_url, name), 60, "the first trial to train")
    doomed.send_signal(signal.SIGKILL)
    doomed.finish()
    killed = running(postgres_url, name)[0]
    code, output = workers.start(fast=True).finish()
    assert code == 0, output
    assert_clean_finish(postgres_url, name, 2)
    trials = {t.number: t for t in study_trials(postgres_url, name)}
    assert trials[killed.number].state == TrialState.FAIL
    retry = next(t for t in trials.values() if t.user_attrs.get("retry_of") == killed.number)
    assert retry.state == TrialState.COMPLETE
    assert retry.params == killed.params


def test_a_stopped_worker_fails_and_requeues_its_trial_and_exits_0(
    postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    # SIGTERM here; test_stop_moments.py sends SIGTERM and SIGINT, alternately, at moments
    # spread over a worker's run (its claim, training, evaluation, tell).
    stop = signal.SIGTERM
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.05), n_trials=1, epochs=30)
    workers = workers_factory(postgres_url, name)
    busy = workers.start()
    wait_for(lambda: training(postgres_url, name), 60, "the trial to train")
    idle = workers.start()
    idle.wait_for_line("waiting: 1 trials still running elsewhere")  # the budget is taken
    for worker in (busy, idle):
        worker.send_signal(stop)
    for worker in (busy, idle):
        code, output = worker.finish(timeout=30)
        assert code == 0, output
        assert f"stopped by {stop.name}" in output
    trials = study_trials(postgres_url, name)
    assert by_state(trials) == {"FAIL": 1, "WAITING": 1}
    failed = next(t for t in trials if t.state == TrialState.FAIL)
    assert failed.user_attrs["stopped_by"] == stop.name

    # The queued configuration is what the next worker runs.
    code, output = workers.start(fast=True).finish()
    assert code == 0, output
    assert_clean_finish(postgres_url, name, 1)
    done = next(t for t in study_trials(postgres_url, name) if t.state == TrialState.COMPLETE)
    assert done.user_attrs["retry_of"] == failed.number
    assert done.params == failed.params


def _terminate_connections(admin: sqlalchemy.Engine, database: str) -> int:
    with admin.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        )
        return len(rows.fetchall())


def test_workers_survive_their_connections_being_terminated(
    postgres_url: str,
    postgres_admin_engine: sqlalchemy.Engine,
    tmp_path: Path,
    workers_factory: WorkersFactory,
) -> None:
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.02), n_trials=12, epochs=3)
    workers = workers_factory(postgres_url, name)
    processes = [workers.start(), workers.start()]
    database = sqlalchemy.engine.make_url(postgres_url).database
    assert database is not None
    wait_for(lambda: len(study_trials(postgres_url, name)) >= 2, 60, "trials to start")
    terminated = 0
    for _ in range(5):
        terminated += _terminate_connections(postgres_admin_engine, database)
        time.sleep(0.7)
    assert terminated > 0
    results = [p.finish() for p in processes]
    assert_exit_0(results)
    assert_clean_finish(postgres_url, name, 12)


def _pg_ctlcluster() -> list[str] | None:
    tool = shutil.which("pg_ctlcluster")
    clusters = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    if tool is None or len(clusters) != 1 or os.geteuid() != 0:
        return None
    return [tool, "--skip-systemctl-redirect", clusters[0], "main"]


@pytest.mark.restarts_postgres
def test_workers_survive_a_postgresql_restart(
    postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    control = _pg_ctlcluster()
    if control is None:
        pytest.skip("restarting the server needs root and Debian's pg_ctlcluster")
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.02), n_trials=10, epochs=3)
    workers = workers_factory(postgres_url, name)
    processes = [workers.start(), workers.start()]
    wait_for(lambda: len(study_trials(postgres_url, name)) >= 2, 60, "trials to start")
    # Down for a few seconds, as a real restart or failover would be.
    subprocess.run([*control, "stop", "-m", "fast"], check=True, timeout=60)
    try:
        time.sleep(3)
    finally:
        subprocess.run([*control, "start"], check=True, timeout=60)
    results = [p.finish() for p in processes]
    assert_exit_0(results)
    assert any("database unreachable" in output for _, output in results), results
    assert_clean_finish(postgres_url, name, 10)
