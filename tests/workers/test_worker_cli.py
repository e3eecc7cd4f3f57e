"""`lrtune worker` and `lrtune study --workers/--devices/--create-only` as users run them,
and what SQLite refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lrtune.cli import cli
from lrtune.cli._launch import LocalWorkers, plan_workers
from lrtune.storage import Heartbeat, Storage
from lrtune.storage._locks import single_sqlite_worker

from .conftest import by_state, create_study, study_trials, write_slow_task

SPEC = """
task = "{task}"
study_name = "spec"
n_trials = {n_trials}
epochs = 1
pruner = "none"
optimizers = ["adamw"]
schedules = ["constant"]
device = "cpu"

[ranges]
"adamw.lr" = [0.001, 0.1]
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write_spec(folder: Path, n_trials: int) -> Path:
    task = write_slow_task(folder, 0.0)
    path = folder / "spec.toml"
    path.write_text(SPEC.format(task=task, n_trials=n_trials))
    return path


def one_line_error(result: Result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_create_only_creates_the_study_and_runs_no_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    result = invoke("study", str(write_spec(tmp_path, 3)), "--storage", url, "--create-only")
    assert result.exit_code == 0, result.output
    assert "Created study 'spec'" in result.output
    assert f"lrtune worker --study spec --storage {url}" in result.output
    assert study_trials(url, "spec") == []


def test_a_worker_runs_a_study_to_its_budget_from_its_spec(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    spec = str(write_spec(tmp_path, 3))
    assert invoke("study", spec, "--storage", url, "--create-only").exit_code == 0
    result = invoke("worker", spec, "--storage", url)
    assert result.exit_code == 0, result.output
    assert "[3/3] #2 adamw constant" in result.output
    assert "Worker done: it finished 3 trials; study 'spec' has 3/3 finished." in result.output
    assert by_state(study_trials(url, "spec")) == {"COMPLETE": 3}
    # A worker arriving after the budget is met runs nothing and says so.
    again = invoke("worker", "--study", "spec", "--storage", url)
    assert again.exit_code == 0, again.output
    assert "it finished 0 trials; study 'spec' has 3/3 finished." in again.output


def test_a_worker_of_a_missing_study_names_the_stored_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    create_study(url, write_slow_task(tmp_path, 0.0), n_trials=1, epochs=1, name="there")
    result = invoke("worker", "--study", "nowhere", "--storage", url)
    assert result.exit_code == 2  # as for every command that finds nothing stored
    assert "No study named 'nowhere'; stored studies: 'there'." in one_line_error(result)


def test_a_worker_needs_a_study_name(tmp_path: Path) -> None:
    result = invoke("worker", "--storage", f"sqlite:///{tmp_path / 'a.db'}")
    assert result.exit_code == 2
    assert "name the study: --study NAME, or a SPEC file" in result.output


def test_a_worker_given_another_task_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    create_study(url, write_slow_task(tmp_path, 0.0), n_trials=1, epochs=1)
    result = invoke("worker", "--study", "w", "--storage", url, "--task", "digits-mlp")
    assert result.exit_code == 2
    assert "trains task 'slow', but the task given is 'digits-mlp'" in one_line_error(result)
    assert study_trials(url, "w") == []


def test_a_second_worker_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    create_study(url, write_slow_task(tmp_path, 0.0), n_trials=1, epochs=1)
    with single_sqlite_worker(url):  # as a first worker would hold it
        result = invoke("worker", "--study", "w", "--storage", url)
    assert result.exit_code == 1
    line = one_line_error(result)
    assert "Another lrtune worker is running on the SQLite file" in line
    assert "PostgreSQL" in line
    assert study_trials(url, "w") == []
    # Once the first worker is gone, the file serves the next one.
    assert invoke("worker", "--study", "w", "--storage", url).exit_code == 0


def test_several_local_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    result = invoke("study", str(write_spec(tmp_path, 2)), "--storage", url, "--workers", "2")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "serves one worker at a time" in line and "postgresql://" in line
    assert not (tmp_path / "a.db").exists()  # refused before anything was stored


def test_bad_devices_are_refused(tmp_path: Path) -> None:
    result = invoke("study", str(write_spec(tmp_path, 2)), "--devices", "0,gpu1")
    assert result.exit_code == 2
    assert "expected GPU indices such as 0,1" in result.output


@pytest.mark.parametrize(
    ("threads", "device", "expected"),
    [
        (None, "cpu", str(max(1, (os.cpu_count() or 1) // 4))),
        (3, "cpu", "3"),
        (None, "cuda:0", None),
    ],
    ids=["cores-shared", "given", "gpu-workers-keep-torchs"],
)
def test_local_workers_get_their_share_of_the_cores(
    threads: int | None, device: str, expected: str | None
) -> None:
    plans = plan_workers(4, [], device)
    local = LocalWorkers("s", "sqlite:///x.db", plans, Heartbeat(), threads)
    command = local._command(plans[0])
    given = command[command.index("--threads") + 1] if "--threads" in command else None
    assert given == expected


def test_workers_are_spread_over_the_devices_in_turn() -> None:
    assert [(p.device, p.gpu) for p in plan_workers(3, ["0", "1"], "auto")] == [
        ("cuda:0", "0"),
        ("cuda:0", "1"),
        ("cuda:0", "0"),
    ]
    assert [p.gpu for p in plan_workers(None, ["2", "3"], "auto")] == ["2", "3"]
    assert [(p.device, p.gpu) for p in plan_workers(2, [], "cpu")] == [("cpu", None)] * 2


@pytest.mark.postgres
def test_study_with_local_workers_finishes_the_budget(tmp_path: Path, postgres_url: str) -> None:
    spec = write_spec(tmp_path, 6)
    command = [sys.executable, "-m", "lrtune", "study", str(spec), "--workers", "2"]
    env = {**os.environ, "LRTUNE_STORAGE": postgres_url, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Starting 2 workers on study 'spec'" in result.stdout
    for label in ("[w0]", "[w1]"):
        assert f"{label} Worker done:" in result.stdout
    assert "Best of study 'spec'" in result.stdout
    trials = study_trials(postgres_url, "spec")
    assert by_state(trials) == {"COMPLETE": 6}
    assert sorted(t.number for t in trials) == list(range(6))
    # The machine's cores shared out: two workers do not each take every core.
    shared = max(1, (os.cpu_count() or 1) // 2)
    assert {t.user_attrs["threads"] for t in trials} == {shared}


@pytest.mark.postgres
def test_two_creators_of_one_study_at_once_create_it_once(
    tmp_path: Path, postgres_url: str
) -> None:
    """Like two `lrtune study --create-only` started together: the second waits for the
    first, then finds the study made: one range test, one warm start queued."""
    import threading

    from lrtune import run_study

    task = write_slow_task(tmp_path, 0.0)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            run_study(
                str(task),
                storage=postgres_url,
                study_name="twice",
                n_trials=4,
                epochs=1,
                optimizers=["adamw"],
                schedules=["cosine"],
                finder_options={"num_iter": 30},
                device="cpu",
                create_only=True,
            )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert by_state(study_trials(postgres_url, "twice")) == {"WAITING": 1}
    with Storage(postgres_url) as store:
        assert len(store.list_range_tests()) == 1
