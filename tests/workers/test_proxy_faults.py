"""Workers through ``lrtune storage-proxy`` are as safe as direct ones: the budget is
exact, a killed worker's trial is failed by the proxy within its grace period and retried,
a stopped worker's trial is queued again at once, and a PostgreSQL restart behind the proxy
loses nothing (as ``test_faults.py`` for workers on PostgreSQL itself)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.proxy_process import Proxy, free_port, start_proxy, stop, wait_until_serving

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
from .test_faults import _pg_ctlcluster, assert_clean_finish, assert_exit_0

pytestmark = pytest.mark.postgres

WorkersFactory = Callable[[str, str], Workers]

INTERVAL_S, GRACE_S = 1, 4
"""The proxy's heartbeat settings: it looks for stale trials every second."""


@pytest.fixture
def proxy(postgres_url: str, tmp_path: Path) -> Iterator[Proxy]:
    heartbeats = ("--heartbeat-interval", str(INTERVAL_S), "--grace-period", str(GRACE_S))
    running_proxy = start_proxy(postgres_url, free_port(), tmp_path / "proxy.log", *heartbeats)
    try:
        wait_until_serving(running_proxy)
        yield running_proxy
    finally:
        stop(running_proxy.process)


def test_four_workers_through_the_proxy_finish_exactly_the_budget(
    proxy: Proxy, postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    # No lock through the proxy: workers claiming at once give back what is past the budget.
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.005), n_trials=12, epochs=1)
    workers = workers_factory(proxy.url, name)
    results = [worker.finish() for worker in [workers.start() for _ in range(4)]]
    assert_exit_0(results)
    assert_clean_finish(postgres_url, name, 12)
    assert all("study 'w' has 12/12 finished" in output for _, output in results)
    assert "heartbeat of trial" not in "".join(output for _, output in results)  # none failed


def test_a_killed_workers_trial_is_failed_by_the_proxy_and_retried(
    proxy: Proxy, postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.05), n_trials=3, epochs=6)
    workers = workers_factory(proxy.url, name)
    doomed = workers.start()
    killed = wait_for(lambda: training(postgres_url, name), 60, "the first trial to train")[0]
    other = workers.start()
    doomed.send_signal(signal.SIGKILL)
    doomed.finish()
    killed_at = time.monotonic()

    def failed() -> bool:
        trial = next(t for t in study_trials(postgres_url, name) if t.number == killed.number)
        return trial.state == TrialState.FAIL

    wait_for(failed, GRACE_S + 6, f"the proxy to fail trial #{killed.number}")
    # The last beat came at most an interval before the kill; the proxy looks every interval.
    assert time.monotonic() - killed_at < GRACE_S + 3 * INTERVAL_S
    code, output = other.finish()
    assert code == 0, output
    assert_clean_finish(postgres_url, name, 3)
    trials = {t.number: t for t in study_trials(postgres_url, name)}
    retry = next(t for t in trials.values() if t.user_attrs.get("retry_of") == killed.number)
    assert retry.state == TrialState.COMPLETE
    assert retry.params == killed.params
    assert by_state(list(trials.values())) == {"COMPLETE": 3, "FAIL": 1}
    assert f"trial #{killed.number} of study 'w' had no heartbeat" in proxy.output()


def test_a_stopped_worker_requeues_its_trial_through_the_proxy(
    proxy: Proxy, postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.05), n_trials=1, epochs=30)
    workers = workers_factory(proxy.url, name)
    busy = workers.start()
    wait_for(lambda: training(postgres_url, name), 60, "the trial to train")
    idle = workers.start()
    idle.wait_for_line("waiting: 1 trials still running elsewhere")  # the budget is taken
    for worker in (busy, idle):
        worker.send_signal(signal.SIGTERM)
    for worker in (busy, idle):
        code, output = worker.finish(timeout=30)
        assert code == 0, output
        assert "stopped by SIGTERM" in output
    # Queued at once, by the worker: nothing is left for the proxy to judge stale.
    trials = study_trials(postgres_url, name)
    assert by_state(trials) == {"FAIL": 1, "WAITING": 1}
    failed = next(t for t in trials if t.state == TrialState.FAIL)
    assert failed.user_attrs["stopped_by"] == "SIGTERM"

    code, output = workers.start(fast=True).finish()
    assert code == 0, output
    assert_clean_finish(postgres_url, name, 1)
    done = next(t for t in study_trials(postgres_url, name) if t.state == TrialState.COMPLETE)
    assert done.user_attrs["retry_of"] == failed.number
    assert done.params == failed.params
    assert "no heartbeat" not in proxy.output()


@pytest.mark.restarts_postgres
def test_workers_through_the_proxy_survive_a_postgresql_restart(
    proxy: Proxy, postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    control = _pg_ctlcluster()
    if control is None:
        pytest.skip("restarting the server needs root and Debian's pg_ctlcluster")
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.02), n_trials=8, epochs=3)
    workers = workers_factory(proxy.url, name)
    processes = [workers.start(), workers.start()]
    wait_for(lambda: len(running(postgres_url, name)) >= 2, 60, "two trials to run")
    subprocess.run([*control, "stop", "-m", "fast"], check=True, timeout=60)
    try:
        time.sleep(3)
    finally:
        subprocess.run([*control, "start"], check=True, timeout=60)
    results = [p.finish() for p in processes]
    assert_exit_0(results)
    assert "database unreachable" in proxy.output()  # the proxy waited for it, not the workers
    assert_clean_finish(postgres_url, name, 8)
    assert proxy.process.poll() is None
