"""Studies lrtune did not create (plain Optuna ones, values below zero included), read by
``lrtune report``, ``export`` and ``best`` from a real SQLite database."""

from __future__ import annotations

import io
from pathlib import Path

import optuna
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from optuna.distributions import CategoricalDistribution

from lrtune import StudyError
from lrtune.cli import cli
from lrtune.report import (
    StudyReport,
    axis_scale,
    best_config,
    export_trials,
    top_trials,
    write_report,
)
from lrtune.report._study_plots import REPORT_FILES, STUDY_FIGURES

PLAIN = "plain"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    shift = {"a": -0.5, "b": 0.0}[trial.suggest_categorical("c", ["a", "b"])]
    return x**2 + shift  # negative, zero-ish and positive values


@pytest.fixture(scope="module")
def plain_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A plain Optuna study of 20 trials in SQLite (only read by the tests)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('plain') / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(storage=url, study_name=PLAIN, sampler=sampler)
    study.optimize(objective, n_trials=20)
    assert min(t.value or 0 for t in study.trials) < 0
    return url


def test_axis_scale_is_log_only_for_positive_values() -> None:
    assert axis_scale([1e-4, 1e-2, 0.5]) == "log"
    assert axis_scale([1e-4, 0.0]) == "linear"
    assert axis_scale([-1.0, 2.0]) == "linear"
    assert axis_scale([]) == "linear"
    assert axis_scale([float("nan"), 0.1]) == "log"


def test_report_of_a_plain_study_writes_every_figure(plain_url: str, tmp_path: Path) -> None:
    result = invoke("report", PLAIN, "--storage", plain_url, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    for name in REPORT_FILES:
        assert (tmp_path / name).stat().st_size > 0, name


def test_top_trials_of_a_plain_study_are_labelled_by_their_params(plain_url: str) -> None:
    study = optuna.load_study(study_name=PLAIN, storage=plain_url)
    tops = top_trials(study, 3)
    assert [t.value for t in tops] == sorted(t.value for t in study.trials)[:3]
    best = study.best_trial
    assert tops[0].label == f"#{best.number} x={best.params['x']:.3g}, c={best.params['c']}"
    assert tops[0].lr_mean == [] and tops[0].values == []
    figure = STUDY_FIGURES["top_trials"](StudyReport(study))
    lr_ax, value_ax = figure.axes
    assert lr_ax.get_yscale() == "linear"
    assert [t.get_text() for t in value_ax.texts] == ["the trials recorded nothing per epoch"]
    figure.savefig(io.BytesIO(), format="png")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_of_a_plain_study_has_a_column_per_param(
    plain_url: str, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"plain.{fmt}"
    result = invoke("export", PLAIN, "--storage", plain_url, "--format", fmt, "--out", str(path))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    trials = optuna.load_study(study_name=PLAIN, storage=plain_url).trials
    assert frame["params.x"].tolist() == pytest.approx([t.params["x"] for t in trials])
    assert frame["params.c"].tolist() == [t.params["c"] for t in trials]
    assert frame["value"].tolist() == pytest.approx([t.value for t in trials])


def test_a_param_of_mixed_types_is_exported_to_parquet_as_text(tmp_path: Path) -> None:
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    choices = CategoricalDistribution([1, "a", None])
    for choice in (1, "a", None):
        trial = optuna.trial.create_trial(
            params={"k": choice}, distributions={"k": choices}, value=0
        )
        study.add_trial(trial)
    path = tmp_path / "mixed.parquet"
    assert export_trials(study, path, "parquet") == 3
    column = pd.read_parquet(path)["params.k"]
    assert column[:2].tolist() == ["1", "a"] and column.isna()[2]


@pytest.fixture
def empty_url(tmp_path: Path) -> str:
    """A plain Optuna study with no trial, as a failed creation used to leave one."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.create_study(storage=url, study_name="empty")
    return url


def test_best_of_a_study_without_trials_says_so_in_one_line(empty_url: str) -> None:
    result = invoke("best", "empty", "--storage", empty_url)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: Study 'empty' has no trials: nothing to show until one has run."
    ]


def test_report_of_a_study_without_trials_writes_nothing(empty_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = invoke("report", "empty", "--storage", empty_url, "--out", str(out))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: Study 'empty' has no trials: nothing to show until one has run."
    ]
    assert not out.exists()
    study = optuna.load_study(study_name="empty", storage=empty_url)
    with pytest.raises(StudyError, match="has no trials"):
        write_report(study, out)
    with pytest.raises(StudyError, match="has no trials"):
        best_config(study)
