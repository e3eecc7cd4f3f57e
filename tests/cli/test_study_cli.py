"""``lrtune study``, ``studies``, ``best``, ``export`` and ``report`` as users run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from click.testing import CliRunner, Result

from lrtune.cli import cli
from lrtune.storage import Storage
from lrtune.study import FINISHED

REPO = Path(__file__).resolve().parents[2]

SPEC = """
task = "{task}"
study_name = "tiny"
n_trials = {n_trials}
epochs = 2
pruner = "none"
optimizers = ["adamw", "sgd"]
schedules = ["constant", "cosine", "onecycle"]
device = "cpu"

[finder]
num_iter = 30
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write_spec(folder: Path, task_file: Path, n_trials: int = 3, extra: str = "") -> Path:
    path = folder / "tiny.toml"
    path.write_text(SPEC.format(task=task_file, n_trials=n_trials) + extra)
    return path


def finished_trials(url: str, name: str = "tiny") -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=_optuna_url(url))
    return study.get_trials(states=FINISHED)


def _optuna_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://")


@pytest.fixture
def study_run(tmp_path: Path, task_file: Path, storage_url: str) -> tuple[Path, str, Result]:
    spec = write_spec(tmp_path, task_file)
    return spec, storage_url, invoke("study", str(spec), "--storage", storage_url)


def test_study_shows_progress_and_ends_with_the_best_configuration(
    study_run: tuple[Path, str, Result],
) -> None:
    _, url, result = study_run
    assert result.exit_code == 0, result.output
    for done in (1, 2, 3):
        assert f"[{done}/3] #{done - 1} " in result.stdout
    assert "(best " in result.stdout
    assert "Best of study 'tiny'" in result.stdout
    assert "optimizer = torch.optim." in result.stdout
    assert len(finished_trials(url)) == 3
    with Storage(url) as store:
        assert sorted(s.optimizer for s in store.list_range_tests()) == ["AdamW", "SGD"]


def test_the_same_command_resumes_up_to_a_new_budget(study_run: tuple[Path, str, Result]) -> None:
    spec, url, _ = study_run
    again = invoke("study", str(spec), "--storage", url, "--n-trials", "5")
    assert again.exit_code == 0, again.output
    assert "[4/5] #3 " in again.stdout and "[5/5] #4 " in again.stdout
    assert [t.number for t in finished_trials(url)] == [0, 1, 2, 3, 4]
    with Storage(url) as store:
        assert len(store.list_range_tests()) == 2  # bounds are reused, not re-measured


def test_resuming_with_a_changed_spec_is_refused_and_loses_nothing(
    study_run: tuple[Path, str, Result], task_file: Path
) -> None:
    spec, url, _ = study_run
    spec.write_text(spec.read_text().replace("epochs = 2", "epochs = 3"))
    result = invoke("study", str(spec), "--storage", url)
    _assert_one_line_error(result, "exists with other settings (epochs is 2, not 3)", 2)
    assert len(finished_trials(url)) == 3


def test_best_prints_a_table_json_and_code_that_runs(study_run: tuple[Path, str, Result]) -> None:
    _, url, _ = study_run
    table = invoke("best", "tiny", "--storage", url)
    assert table.exit_code == 0, table.output
    assert "optimizer" in table.stdout and "schedule" in table.stdout
    data = json.loads(invoke("best", "tiny", "--storage", url, "--json").stdout)
    best = min(finished_trials(url), key=lambda t: t.value)
    assert data["trial"] == best.number
    assert data["value"] == pytest.approx(best.value)
    code = invoke("best", "tiny", "--storage", url, "--code").stdout
    namespace: dict = {"model": torch.nn.Linear(8, 2)}
    exec(code, namespace)
    optimizer = namespace["optimizer"]
    config = best.user_attrs["config"]
    assert type(optimizer).__name__.lower() == config["optimizer"]
    assert optimizer.param_groups[0]["initial_lr" if "scheduler" in namespace else "lr"] == (
        pytest.approx(config["lr"])
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_every_trial(
    study_run: tuple[Path, str, Result], tmp_path: Path, fmt: str
) -> None:
    _, url, _ = study_run
    out = tmp_path / f"trials.{fmt}"
    result = invoke("export", "tiny", "--storage", url, "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert sorted(frame["number"]) == [0, 1, 2]
    assert set(frame["optimizer"]) <= {"adamw", "sgd"}


def test_report_writes_the_figures(study_run: tuple[Path, str, Result], tmp_path: Path) -> None:
    _, url, _ = study_run
    result = invoke("report", "tiny", "--storage", url, "--out", str(tmp_path / "figures"))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert {"history.png", "by_optimizer.png", "by_schedule.png", "top_trials.png"} <= set(written)
    assert "importances.png" in written
    for name in written:
        assert (tmp_path / "figures" / name).read_bytes()[:4] == b"\x89PNG"


def test_studies_lists_progress_and_best(study_run: tuple[Path, str, Result]) -> None:
    _, url, _ = study_run
    listing = invoke("studies", "--storage", url)
    assert listing.exit_code == 0, listing.output
    [row] = [line for line in listing.stdout.splitlines() if line.startswith("tiny")]
    assert "3/3" in row
    [entry] = json.loads(invoke("studies", "--storage", url, "--json").stdout)
    assert entry["finished"] == 3 and entry["task"] == "tiny"


def _assert_one_line_error(result: Result, expected: str, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert expected in lines[0], lines[0]


BAD_STUDY_INPUT = [
    pytest.param(["study", "{tmp}/none.toml"], "none.toml", 2, id="missing-spec"),
    pytest.param(["study", "{bad_key}"], "unknown key 'n_trail'", 2, id="unknown-key"),
    pytest.param(["study", "{bad_schedule}"], "cosine_annealing", 2, id="unknown-schedule"),
    pytest.param(["study", "{bad_type}"], "n_trials", 2, id="wrong-type"),
    pytest.param(["study", "{spec}", "--n-trials", "0"], "--n-trials", 2, id="zero-trials"),
    pytest.param(["best", "nosuch"], "No study named 'nosuch'", 2, id="best-unknown-study"),
    pytest.param(["export", "nosuch"], "No study named 'nosuch'", 2, id="export-unknown"),
    pytest.param(
        ["export", "tiny", "--out", "{tmp}/no/dir/t.csv"], "does not exist", 2, id="export-dir"
    ),
    pytest.param(["export", "tiny", "--format", "xlsx"], "xlsx", 2, id="export-format"),
    pytest.param(["report", "tiny", "--out", "{spec}"], "is not a folder", 2, id="report-file"),
]


@pytest.mark.parametrize(("args", "expected", "code"), BAD_STUDY_INPUT)
def test_bad_study_input_gets_one_line_and_loses_nothing(
    args: list[str],
    expected: str,
    code: int,
    study_run: tuple[Path, str, Result],
    tmp_path: Path,
) -> None:
    spec, url, _ = study_run
    variants = {"tmp": str(tmp_path), "spec": str(spec)}
    for name, (old, new) in {
        "bad_key": ("n_trials", "n_trail"),
        "bad_schedule": ('"cosine"', '"cosine_annealing"'),
        "bad_type": ("n_trials = 3", 'n_trials = "3"'),
    }.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(spec.read_text().replace(old, new))
        variants[name] = str(path)
    command, *rest = [a.format(**variants) for a in args]
    result = invoke(command, *rest, "--storage", url)
    if "--n-trials" in rest or "--format" in rest:
        # Click's own usage errors: its usage hint, then one "Error:" line naming the option.
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert expected in result.stderr.strip().splitlines()[-1]
    else:
        _assert_one_line_error(result, expected, code)
    assert len(finished_trials(url)) == 3


def test_an_unreachable_database_is_one_line(task_file: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, task_file)
    url = "postgresql://postgres@127.0.0.1:1/none"
    _assert_one_line_error(invoke("study", str(spec), "--storage", url), "Cannot open storage", 1)
    _assert_one_line_error(invoke("best", "tiny", "--storage", url), "Cannot open storage", 1)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_and_the_same_command_continues(task_file: Path, tmp_path: Path) -> None:
    # A budget far beyond what runs before the signal arrives, even on a fast machine.
    spec = write_spec(tmp_path, task_file, n_trials=2000)
    url = f"sqlite:///{tmp_path / 'ctrl-c.db'}"
    command = [sys.executable, "-m", "lrtune", "study", str(spec), "--storage", url]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A shell running CI in the background starts it with SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler: give the child a terminal's default.
        preexec_fn=_default_sigint,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("[2/2000]"):
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Stopped by SIGINT after" in stderr
    assert "run the same command to continue" in stderr
    assert "Traceback" not in stderr
    stopped = len(finished_trials(url))
    assert 2 <= stopped < 2000
    spec.write_text(spec.read_text().replace("n_trials = 2000", f"n_trials = {stopped + 2}"))
    resumed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    trials = optuna.load_study(study_name="tiny", storage=url).trials
    assert len([t for t in trials if t.state in FINISHED]) == stopped + 2
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in trials)


def test_the_bundled_quick_spec_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'quick.db'}"
    result = invoke("study", str(REPO / "studies" / "quick.toml"), "--storage", url)
    assert result.exit_code == 0, result.output
    assert len(finished_trials(url, "quick")) == 6
