"""refine_lr end to end: on SQLite and PostgreSQL, within budget, read back, bad input refused."""

from __future__ import annotations

import dataclasses

import optuna
import pytest
import torch
from optuna.trial import TrialState

from lrtune.examples import load_example
from lrtune.refine import STUDY_KIND, refine_lr, result_from_study
from lrtune.refine._plan import CANDIDATES, survivors
from lrtune.storage import Storage

TASK = "breast-cancer-logreg"


@pytest.fixture(scope="module")
def task():
    return load_example(TASK)


def test_refine_spends_no_more_than_its_budget_and_stores_every_candidate(
    task, storage_url: str
) -> None:
    result = refine_lr(task, optimizer="sgd", budget=1.5, seed=0, storage=storage_url)

    assert result.cost_steps <= result.budget_steps == int(1.5 * task.planned_steps())
    assert len(result.candidates) == CANDIDATES
    assert [c.pruned for c in result.candidates].count(False) == 1
    low, high = result.range_test.lr_interval
    assert low <= result.winner_lr <= high and result.lr > 0
    study = optuna.load_study(study_name=result.study_name, storage=storage_url)
    states = [trial.state for trial in study.trials]
    assert (
        states.count(TrialState.PRUNED) == CANDIDATES - 1 and states.count(TrialState.COMPLETE) == 1
    )
    assert study.user_attrs["kind"] == STUDY_KIND
    assert study.metric_names == ["val_loss"]  # named for optuna-dashboard
    assert study.best_trial.params["lr"] == result.winner_lr
    read_back = result_from_study(study)
    assert dataclasses.replace(read_back, range_test=result.range_test) == result
    with Storage(storage_url) as store:
        stored = store.get_range_test(result.range_test_id)
    assert stored.lr_interval == pytest.approx(result.range_test.lr_interval)


def test_each_rung_judges_every_survivor_of_the_rung_before(task, tmp_path) -> None:
    result = refine_lr(task, optimizer="adamw", storage=f"sqlite:///{tmp_path / 'r.db'}")

    reached = [sum(step in c.steps for c in result.candidates) for step in result.rungs]
    assert reached == list(survivors(CANDIDATES))
    for step, nxt in zip(result.rungs, result.rungs[1:], strict=False):
        at = {c.lr: c.val_losses[c.steps.index(step)] for c in result.candidates if step in c.steps}
        went_on = {c.lr for c in result.candidates if nxt in c.steps}
        assert went_on == set(sorted(at, key=at.get)[: len(went_on)])


def test_an_optimizer_callable_is_accepted(task, tmp_path) -> None:
    def momentum_sgd(params, lr):
        return torch.optim.SGD(params, lr=lr, momentum=0.9)

    result = refine_lr(task, optimizer=momentum_sgd, storage=f"sqlite:///{tmp_path / 'r.db'}")

    assert result.optimizer == "momentum_sgd"
    assert result.range_test.optimizer == "SGD"


@pytest.mark.parametrize("budget", [0, -1.0, float("nan")])
def test_a_budget_that_is_not_positive_is_refused_before_anything_runs(
    task, tmp_path, budget: float
) -> None:
    with pytest.raises(ValueError, match="budget"):
        refine_lr(task, budget=budget, storage=f"sqlite:///{tmp_path / 'r.db'}")
    assert not (tmp_path / "r.db").exists()


def test_a_task_without_a_validation_loader_is_refused(task, tmp_path) -> None:
    bare = dataclasses.replace(task, val_loader=None)

    with pytest.raises(ValueError, match="has no val_loader"):
        refine_lr(bare, storage=f"sqlite:///{tmp_path / 'r.db'}")
