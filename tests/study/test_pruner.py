"""The median pruner lrtune uses: Optuna's answers, without reading the study in warmup."""

from __future__ import annotations

import optuna
import pytest
from optuna.pruners import MedianPruner

from lrtune.study._choices import PRUNERS, StudySetup, WarmupFirstMedianPruner


def study_with_history() -> optuna.Study:
    study = optuna.create_study()
    for offset in range(6):  # six finished trials whose curves fall from 10 + offset
        trial = study.ask()
        for step in range(9):
            trial.report(10.0 + offset - step, step)
        study.tell(trial, 2.0 + offset)
    return study


@pytest.mark.parametrize("value", [0.0, 6.5, 30.0])
def test_it_answers_as_optunas_median_pruner_at_every_step(value: float) -> None:
    study = study_with_history()
    ours = PRUNERS.get("median")(StudySetup(epochs=9, seed=0))
    assert isinstance(ours, WarmupFirstMedianPruner)
    theirs = MedianPruner(n_startup_trials=5, n_warmup_steps=ours.warmup_steps)
    trial = study.ask()
    for step in range(9):
        trial.report(value + 10.0 - step, step)
        frozen = study._storage.get_trial(trial._trial_id)
        assert ours.prune(study, frozen) == theirs.prune(study, frozen), step


def test_it_reads_no_trials_during_the_warmup(monkeypatch: pytest.MonkeyPatch) -> None:
    study = study_with_history()
    pruner = WarmupFirstMedianPruner(n_startup_trials=5, n_warmup_steps=3)
    reads: list[object] = []
    original = study.get_trials
    monkeypatch.setattr(study, "get_trials", lambda *a, **k: reads.append(1) or original(*a, **k))
    trial = study.ask()
    for step in range(5):
        trial.report(100.0, step)
        pruner.prune(study, study._storage.get_trial(trial._trial_id))
    assert len(reads) == 2  # steps 3 and 4 only


@pytest.mark.parametrize(
    "arguments",
    [
        ((), {}),
        ((2, 3, 2), {"n_min_trials": 3}),
        ((), {"n_startup_trials": 0, "n_warmup_steps": 1, "interval_steps": 3}),
    ],
    ids=["defaults", "positional", "keywords"],
)
def test_it_takes_median_pruners_arguments_and_answers_alike(
    arguments: tuple[tuple[int, ...], dict[str, int]],
) -> None:
    """A drop-in for ``MedianPruner``: the same arguments, the same answers."""
    args, kwargs = arguments
    ours, theirs = WarmupFirstMedianPruner(*args, **kwargs), MedianPruner(*args, **kwargs)
    study = study_with_history()
    for value in (0.0, 6.5, 30.0):
        trial = study.ask()
        for step in range(9):
            trial.report(value + 10.0 - step, step)
            frozen = study._storage.get_trial(trial._trial_id)
            assert ours.prune(study, frozen) == theirs.prune(study, frozen), (value, step)
