"""Listings of every study in a database, lrtune's and others' alike."""

from __future__ import annotations

from datetime import timedelta

import optuna
import pytest

from lrtune.study import BETWEEN_TRIALS_S, study_summaries, trials_state
from lrtune.study._summary import pareto_front


@pytest.fixture
def storage() -> optuna.storages.BaseStorage:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.InMemoryStorage()
    multi = optuna.create_study(
        storage=storage, study_name="mo", directions=["minimize", "maximize"]
    )
    for x, y in [(0.1, 0.1), (0.2, 0.9), (0.3, 0.5), (0.05, 0.05)]:
        multi.add_trial(optuna.trial.create_trial(values=[x, y]))
    plain = optuna.create_study(storage=storage, study_name="plain", direction="maximize")
    for value in (0.2, 0.7, 0.4):
        plain.add_trial(optuna.trial.create_trial(value=value))
    return storage


def test_a_multi_objective_study_is_listed_with_its_directions_and_front(
    storage: optuna.storages.BaseStorage,
) -> None:
    by_name = {s["name"]: s for s in study_summaries(storage)}
    multi = by_name["mo"]
    assert multi["directions"] == ["minimize", "maximize"]
    assert multi["direction"] == "minimize, maximize"
    assert multi["best_value"] is None and multi["finished"] == 4
    # (0.2, 0.9) and (0.05, 0.05) and (0.1, 0.1) are non-dominated; (0.3, 0.5) is not.
    assert multi["pareto_front"] == 3
    plain = by_name["plain"]
    assert (plain["kind"], plain["best_value"], plain["pareto_front"]) == ("optuna", 0.7, None)


def test_the_pareto_front_takes_each_objective_in_its_direction() -> None:
    values = [[1.0, 1.0], [2.0, 2.0], [0.5, 3.0], [2.0, 0.5]]
    assert pareto_front(values, ["minimize", "minimize"]) == [0, 2, 3]
    assert pareto_front(values, ["maximize", "maximize"]) == [1, 2]
    assert pareto_front([[1.0, 1.0], [1.0, 1.0]], ["minimize", "minimize"]) == [0, 1]


def test_a_study_with_trials_left_reads_running_only_just_after_a_trial_ended() -> None:
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=1.0))
    trials = study.get_trials()
    ended = trials[0].datetime_complete
    assert ended is not None
    just_after, long_after = (ended + timedelta(seconds=s) for s in (1, BETWEEN_TRIALS_S + 1))
    assert trials_state(trials, 3, just_after) == "running"  # setting up the next trial
    assert trials_state(trials, 3, long_after) == "stopped"  # no worker left
    assert trials_state(trials, 3, ended - timedelta(seconds=5)) == "stopped"  # a clock ahead
    assert trials_state(trials, None, just_after) == "stopped"  # no budget: nothing left known
    assert trials_state(trials, 1, just_after) == "finished"
    assert trials_state([], 3, just_after) == "new"
