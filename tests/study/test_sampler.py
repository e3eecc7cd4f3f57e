"""lrtune's TPE: Optuna's draws (constant liar, grouped), with one read of the study."""

from __future__ import annotations

import warnings

import optuna
import pytest
from optuna.samplers import TPESampler

from lrtune.study._choices import SAMPLERS, OneReadTPESampler, StudySetup


def objective_space(trial: optuna.Trial) -> float:
    """A conditional space like lrtune's: each optimizer with its own parameters."""
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adamw"])
    lr = trial.suggest_float(f"{optimizer}.lr", 1e-4, 1.0, log=True)
    if optimizer == "sgd":
        return lr * trial.suggest_float("sgd.momentum", 0.0, 0.99)
    return lr * trial.suggest_float("adamw.beta1", 0.8, 0.99)


def history(sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    """15 finished trials and 2 still running (whose relative draws the liar accounts for)."""
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective_space, n_trials=15)
    for _ in range(2):
        objective_space(study.ask())
    return study


def tpe(cls: type[TPESampler], seed: int) -> TPESampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(seed=seed, multivariate=True, group=True, n_startup_trials=5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_draws_what_optunas_tpe_draws(seed: int) -> None:
    ours, theirs = history(tpe(OneReadTPESampler, seed)), history(tpe(TPESampler, seed))
    for _ in range(5):
        mine, other = ours.ask(), theirs.ask()
        objective_space(mine)
        objective_space(other)
        assert mine.params == other.params


def reads_to_sample(cls: type[TPESampler], monkeypatch: pytest.MonkeyPatch) -> int:
    """How many times sampling one trial reads every trial of the study."""
    study = history(tpe(cls, 0))
    reads: list[int] = []
    original = study._storage.get_all_trials
    monkeypatch.setattr(
        study._storage, "get_all_trials", lambda *a, **k: reads.append(1) or original(*a, **k)
    )
    objective_space(study.ask())
    return len(reads)


def test_it_reads_the_study_once_per_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = reads_to_sample(OneReadTPESampler, monkeypatch)
    theirs = reads_to_sample(TPESampler, monkeypatch)
    assert ours < theirs
    assert ours <= 3, (ours, theirs)


def test_the_registry_gives_it() -> None:
    assert isinstance(SAMPLERS.get("tpe")(StudySetup(epochs=3, seed=0)), OneReadTPESampler)
