"""The trial loop in one process: what the sampler sees, and the budget it keeps."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.samplers import RandomSampler
from optuna.trial import FrozenTrial

from lrtune.study._loop import run_trials


class CountingSampler(RandomSampler):
    """Records how many trials the study showed it (through the cache TPE reads) each time."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.seen: list[int] = []

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, Any]:
        self.seen.append(len(study._get_trials(deepcopy=False, use_cache=True)))
        return {}


def test_the_sampler_sees_every_trial_so_far_at_each_claim() -> None:
    sampler = CountingSampler()
    study = optuna.create_study(sampler=sampler)
    outcome = run_trials(study, lambda trial: trial.suggest_float("x", 0, 1), budget=4)
    assert outcome.trials == 4
    # The claimed trial itself is in the study when it is sampled.
    assert sampler.seen == [1, 2, 3, 4]


def test_the_loop_runs_queued_trials_first_and_stops_at_the_budget() -> None:
    study = optuna.create_study(sampler=RandomSampler(seed=0))
    study.enqueue_trial({"x": 0.25})
    values: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        values.append(trial.suggest_float("x", 0, 1))
        return values[-1]

    outcome = run_trials(study, objective, budget=3)
    assert (outcome.trials, outcome.finished, outcome.budget) == (3, 3, 3)
    assert values[0] == 0.25
    assert len(study.trials) == 3
    assert run_trials(study, objective, budget=3).trials == 0
