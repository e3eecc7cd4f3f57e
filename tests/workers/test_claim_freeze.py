"""A worker frozen inside its claim (SIGSTOP, a lost host) does not stall the others: the
server ends its idle transaction after the grace period, which frees the study's lock and
rolls back the half-made claim (issue 16)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import Worker, Workers, create_study, study_trials, wait_for, write_slow_task
from .test_faults import WorkersFactory, assert_clean_finish, assert_exit_0

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# The process lrtune's workers become when frozen in a claim: it opens the study as they
# do (heartbeat interval 1 s, grace 6 s, as the test workers), enters the claim, counts
# and makes a trial, then stops itself before committing.
FROZEN_CLAIMER = textwrap.dedent(
    """
    import os, signal, sys
    import optuna
    from lrtune._optuna import study_id_of
    from lrtune.storage import Database, Heartbeat, lock_key

    database = Database.open(sys.argv[1], heartbeat=Heartbeat(interval=1, grace=6))
    study = optuna.load_study(study_name=sys.argv[2], storage=database.studies)
    try:
        with database.studies.claiming(lock_key("budget:" + sys.argv[2])) as claiming:
            claiming.census(study_id_of(study))
            claiming.create(study_id_of(study))
            print("holding the claim", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
            claiming.census(study_id_of(study))
    except Exception as error:
        print("claim lost:", type(error).__name__, flush=True)
        sys.exit(3)
    print("claim kept", flush=True)
    """
)


def test_a_worker_frozen_in_its_claim_does_not_stall_the_others(
    postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    name = create_study(postgres_url, write_slow_task(tmp_path, 0.005), n_trials=6, epochs=1)
    script = tmp_path / "frozen_claimer.py"
    script.write_text(FROZEN_CLAIMER)
    frozen = Worker(
        subprocess.Popen(
            [sys.executable, str(script), postgres_url, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    )
    try:
        frozen.wait_for_line("holding the claim")
        wait_for(lambda: _stopped(frozen.process.pid), 10, "the claimer to stop")
        workers: Workers = workers_factory(postgres_url, name)
        # They wait for the lock until the server ends the frozen transaction (grace 6 s).
        results = [w.finish(timeout=90) for w in [workers.start(), workers.start()]]
        assert_exit_0(results)
        assert_clean_finish(postgres_url, name, 6)
    finally:
        frozen.send_signal(signal.SIGCONT)
    code, output = frozen.finish(timeout=30)
    assert code == 3 and "claim lost" in output, output
    # Its trial was rolled back with its transaction: the budget is still exact.
    assert_clean_finish(postgres_url, name, 6)
    assert len(study_trials(postgres_url, name)) == 6


def _stopped(pid: int) -> bool:
    status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1]
    return status.startswith("T")
