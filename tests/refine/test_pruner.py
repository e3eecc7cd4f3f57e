"""Synchronous successive halving: judged against every candidate of the rung, in any order."""

from __future__ import annotations

import math

import optuna
import pytest

from lrtune.refine import HalvingPruner


def rung_study(values: list[float], pruner: HalvingPruner) -> tuple[optuna.Study, list]:
    study = optuna.create_study(pruner=pruner)
    trials = [study.ask() for _ in values]
    for trial, value in zip(trials, values, strict=True):
        trial.report(value, pruner.rungs[0])
    return study, trials


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]])
def test_the_best_half_go_on_whatever_order_they_are_asked_in(order: list[int]) -> None:
    pruner = HalvingPruner([10, 20], [2, 1])
    _, trials = rung_study([0.5, 0.2, 0.9, 0.3], pruner)

    verdicts = {index: trials[index].should_prune() for index in order}

    assert verdicts == {0: True, 1: False, 2: True, 3: False}


def test_ties_go_to_the_earlier_trial_and_diverged_ones_lose() -> None:
    pruner = HalvingPruner([10], [2])
    _, trials = rung_study([math.inf, 0.4, 0.4, math.nan], pruner)

    assert [trial.should_prune() for trial in trials] == [True, False, False, True]


def test_steps_between_rungs_never_prune() -> None:
    pruner = HalvingPruner([10], [1])
    study = optuna.create_study(pruner=pruner)
    first, second = study.ask(), study.ask()
    first.report(0.1, 5)
    second.report(9.0, 5)

    assert not second.should_prune()


@pytest.mark.parametrize(
    "rungs, keep", [([], []), ([10, 20], [1]), ([20, 10], [2, 1]), ([10], [0])]
)
def test_bad_rungs_are_refused(rungs: list[int], keep: list[int]) -> None:
    with pytest.raises(ValueError):
        HalvingPruner(rungs, keep)
