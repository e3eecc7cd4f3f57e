from __future__ import annotations

import dataclasses
import math
import os
import signal
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState

from lrtune import StudyError
from lrtune.examples import load_example
from lrtune.storage import Storage
from lrtune.study import LR_MARGIN, StudyStopped, read_settings, run_study
from lrtune.tasks import Task
from lrtune.training import TrainingConfig, train

optuna.logging.set_verbosity(optuna.logging.WARNING)

SMALL = {
    "optimizers": ["adamw", "sgd"],
    "schedules": ["constant", "cosine", "onecycle"],
    "epochs": 2,
    "finder_options": {"num_iter": 40},
}


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_example("digits-mlp")


def small_study(task: Task, storage: Any, **changes: Any) -> optuna.Study:
    arguments = {**SMALL, "n_trials": 4, "storage": storage, **changes}
    return run_study(task, **arguments)


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_range_tests_bound_the_lr_and_are_stored(digits: Task, storage_url: str) -> None:
    study = small_study(digits, storage_url)
    settings = read_settings(study)
    with Storage(storage_url) as store:
        stored = {r.id: r for r in (store.get_range_test(s.id) for s in store.list_range_tests())}
    assert len(stored) == 2
    for name, bounds in settings.bounds.items():
        result = stored[bounds.range_test_id]
        assert (bounds.min_lr, bounds.max_lr) == (result.min_lr, result.max_lr)
        below, above = LR_MARGIN
        interval_low, interval_high = result.lr_interval
        assert bounds.low == pytest.approx(min(result.min_lr / below, interval_low))
        assert bounds.high == pytest.approx(max(result.max_lr * above, interval_high))
        assert bounds.low <= result.suggested_lr <= bounds.high
        assert settings.space.lr[name] == (bounds.low, bounds.high)
    assert len({r.group for r in stored.values()}) == 1
    for trial in study.trials:
        config = trial.user_attrs["config"]
        low, high = settings.space.lr[config["optimizer"]]
        assert low <= config["lr"] <= high


def test_warm_starts_come_first_from_the_range_tests(digits: Task) -> None:
    study = small_study(digits, optuna.storages.InMemoryStorage())
    bounds = read_settings(study).bounds
    first, second = (t.user_attrs["config"] for t in study.trials[:2])
    assert (first["optimizer"], first["schedule"]) == ("adamw", "cosine")
    assert first["lr"] == pytest.approx(bounds["adamw"].suggested_lr)
    assert (second["optimizer"], second["schedule"]) == ("sgd", "onecycle")
    assert second["lr"] == pytest.approx(bounds["sgd"].min_lr)
    assert second["schedule_params"]["div_factor"] == 25.0
    assert [t.user_attrs.get("warm_start", False) for t in study.trials[:3]] == [
        True,
        True,
        False,
    ]


def test_warm_starts_never_exceed_the_budget(digits: Task) -> None:
    study = small_study(digits, optuna.storages.InMemoryStorage(), n_trials=1)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]


def test_one_margin_factor_widens_both_sides(digits: Task) -> None:
    study = small_study(digits, optuna.storages.InMemoryStorage(), lr_margin=3, n_trials=1)
    settings = read_settings(study)
    assert settings.lr_margin == (3.0, 3.0)
    for bounds in settings.bounds.values():  # widened further only to hold the interval
        assert bounds.low <= bounds.min_lr / 3 * (1 + 1e-12)
        assert bounds.high >= bounds.max_lr * 3 * (1 - 1e-12)
        assert bounds.low <= bounds.suggested_lr <= bounds.high


def test_budget_is_the_total_and_resuming_continues(digits: Task, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = small_study(digits, url, n_trials=3)
    assert len(finished(study)) == 3
    again = small_study(digits, url, n_trials=5)
    assert len(finished(again)) == 5
    assert [t.number for t in again.trials] == list(range(5))
    assert read_settings(again).n_trials == 5
    with Storage(url) as store:
        assert len(store.list_range_tests()) == 2  # the resume ran no new range test
    small_study(digits, url, n_trials=5)
    assert len(finished(optuna.load_study(study_name="digits-mlp", storage=url))) == 5


def test_a_signal_stops_the_study_and_says_where_it_stands(digits: Task, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"

    def stop_after_the_first(_study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(StudyStopped) as stopped:
        small_study(digits, url, n_trials=6, callbacks=[stop_after_the_first])
    assert isinstance(stopped.value, KeyboardInterrupt)
    outcome = stopped.value.outcome
    assert (outcome.stopped_by, outcome.budget) == ("SIGTERM", 6)
    assert 1 <= outcome.trials == outcome.finished < 6
    study = optuna.load_study(study_name="digits-mlp", storage=url)
    assert len(finished(study)) == outcome.finished
    assert all(t.state != TrialState.RUNNING for t in study.trials)


def test_a_resumed_study_does_not_repeat_its_first_draws(digits: Task, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    small_study(digits, url, n_trials=6, warm_start=False, sampler="random")
    again = small_study(digits, url, n_trials=9, warm_start=False, sampler="random")
    lrs = [t.user_attrs["config"]["lr"] for t in again.trials]
    assert len(set(lrs)) == len(lrs) == 9


def test_resuming_with_another_space_is_refused(digits: Task, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    small_study(digits, url, n_trials=2)
    with pytest.raises(StudyError, match="schedules are"):
        small_study(digits, url, schedules=["constant"])
    with pytest.raises(StudyError, match="epochs is 2, not 3"):
        small_study(digits, url, epochs=3)
    assert len(finished(optuna.load_study(study_name="digits-mlp", storage=url))) == 2


def test_each_trial_records_what_it_trained_and_can_be_rerun(digits: Task) -> None:
    study = small_study(digits, optuna.storages.InMemoryStorage(), pruner="none")
    for trial in study.trials:
        attrs = trial.user_attrs
        assert attrs["seed"] == trial.number
        assert attrs["epochs_run"] == len(attrs["val_losses"]) == len(attrs["lrs"]) == 2
        assert trial.intermediate_values == {1: attrs["val_losses"][0], 2: attrs["val_losses"][1]}
        assert trial.value == attrs["val_losses"][-1]
        assert attrs["device"] == "cpu"
    trial = study.trials[-1]
    run = train(
        digits, TrainingConfig.from_dict(trial.user_attrs["config"]), seed=trial.number, epochs=2
    )
    assert run.val_losses == trial.user_attrs["val_losses"]


def test_lr_per_epoch_is_the_lr_actually_used(digits: Task) -> None:
    study = small_study(digits, optuna.storages.InMemoryStorage(), pruner="none")
    cosine = study.trials[0]
    assert cosine.user_attrs["config"]["schedule"] == "cosine"
    (mean1, low1, high1), (mean2, low2, high2) = cosine.user_attrs["lrs"]
    assert high1 == pytest.approx(cosine.user_attrs["config"]["lr"])
    assert high2 < low1  # a cosine decays: the second epoch is below the first
    assert low1 < mean1 < high1 and low2 < mean2 < high2


def test_a_diverging_trial_is_pruned_with_its_reason(digits: Task) -> None:
    study = small_study(
        digits,
        optuna.storages.InMemoryStorage(),
        optimizers=["sgd"],
        schedules=["constant"],
        ranges={"sgd.lr": (1e3, 1e4)},
        n_trials=2,
    )
    for trial in study.trials:
        assert trial.state == TrialState.PRUNED
        assert trial.user_attrs["pruned_reason"].startswith("diverged: ")
        assert trial.user_attrs["epochs_run"] == 1


def test_lr_ranges_given_replace_the_range_tests(digits: Task, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = small_study(digits, url, ranges={"sgd.lr": (0.01, 0.1)}, n_trials=2)
    # Its objective is named for Optuna's own tools (optuna-dashboard's "Objective 0").
    assert optuna.load_study(study_name=study.study_name, storage=url).metric_names == ["val_loss"]
    settings = read_settings(study)
    assert settings.space.lr["sgd"] == (0.01, 0.1)
    assert settings.bounds["sgd"].range_test_id is None
    with Storage(url) as store:
        assert [s.optimizer for s in store.list_range_tests()] == ["AdamW"]


def test_metric_objective_is_maximized(digits: Task) -> None:
    study = small_study(digits, optuna.storages.InMemoryStorage(), objective="metric")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.metric_names == ["accuracy"]
    completed = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert completed
    for trial in completed:
        assert 0 <= trial.value <= 1
        assert trial.value == trial.user_attrs["val_metrics"][-1]


def test_sampler_and_pruner_by_name(digits: Task) -> None:
    study = small_study(
        digits, optuna.storages.InMemoryStorage(), sampler="random", pruner="hyperband"
    )
    assert type(study.sampler).__name__ == "RandomSampler"
    assert type(study.pruner).__name__ == "HyperbandPruner"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_trials": 0}, "n_trials must be a positive integer"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"pruner": "percentile"}, "unknown pruner 'percentile'"),
        ({"sampler": "cmaes"}, "unknown sampler 'cmaes'"),
        ({"objective": "accuracy"}, "objective must be one of"),
        ({"lr_margin": 0.5}, "lr_margin must be a number >= 1"),
        ({"lr_margin": (10, 0.5)}, "a pair \\[below, above\\]"),
        ({"timeout": -1}, "timeout must be a positive number"),
        ({"seed": -1}, "seed must be an integer"),
        (
            {"device": "cuda:7"}
            if not __import__("torch").cuda.is_available()
            else {"device": "tpu"},
            "device",
        ),
        ({"fixed": {"adamw.betas": 0.9}}, "unknown parameter 'adamw.betas'"),
        ({"ranges": {"sgd.lr": (1.0,)}}, "must be \\[low, high\\]"),
    ],
)
def test_bad_arguments_fail_before_anything_is_stored(
    digits: Task, tmp_path: Any, changes: dict, message: str
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with pytest.raises(ValueError, match=message):
        small_study(digits, url, **changes)
    assert not (tmp_path / "s.db").exists()


def test_metric_objective_needs_a_metric(tmp_path: Any) -> None:
    task = load_example("diabetes-mlp")
    assert task.metric is None
    with pytest.raises(ValueError, match="has no metric"):
        small_study(task, f"sqlite:///{tmp_path / 's.db'}", objective="metric")


def test_values_are_finite_and_json_safe(digits: Task) -> None:
    study = small_study(digits, optuna.storages.InMemoryStorage(), n_trials=6)
    for trial in study.trials:
        assert all(v is None or math.isfinite(v) for v in trial.user_attrs["val_losses"])


def test_a_range_test_that_never_turned_is_flagged(
    digits: Task, caplog: pytest.LogCaptureFixture
) -> None:
    # Stopping the sweep at 1e-3 leaves Adam's loss still falling at the end.
    with caplog.at_level("WARNING", logger="lrtune"):
        small_study(
            digits,
            optuna.storages.InMemoryStorage(),
            optimizers=["adam"],
            finder_options={"num_iter": 40, "end_lr": 1e-3},
            n_trials=1,
        )
    assert "range test adam: the loss was still falling at end_lr=0.001" in caplog.text


def test_a_range_test_that_turned_is_not_flagged(
    digits: Task, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="lrtune"):
        small_study(digits, optuna.storages.InMemoryStorage(), optimizers=["adam"], n_trials=1)
    assert "still falling" not in caplog.text


def test_lr_free_and_schedule_free_optimizers_run_as_a_study(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'lrfree.db'}"
    study = run_study(
        load_example("breast-cancer-logreg"),
        n_trials=4,
        storage=url,
        optimizers=["prodigy", "schedulefree-adamw"],
        epochs=2,
        finder_options={"num_iter": 40},
    )
    settings = read_settings(study)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    configs = [t.user_attrs["config"] for t in study.trials]
    assert {c["optimizer"] for c in configs} == {"prodigy", "schedulefree-adamw"}
    for config in configs:
        low, high = settings.space.lr[config["optimizer"]]
        assert low <= config["lr"] <= high
        if config["optimizer"] == "schedulefree-adamw":
            assert config["schedule"] == "constant"
    # Prodigy's LR scales its own estimate: searched around its default, no range test.
    assert settings.space.lr["prodigy"] == (0.1, 10.0)
    assert settings.bounds["prodigy"].range_test_id is None
    with Storage(url) as store:
        assert [s.optimizer for s in store.list_range_tests()] == ["AdamWScheduleFree"]
    first = configs[0]  # the warm start: Prodigy at its documented default
    assert (first["optimizer"], first["lr"], first["schedule"]) == ("prodigy", 1.0, "constant")


class _FailsLater(torch.nn.Module):
    """A model that trains a few steps, then raises: the range test fails half-way."""

    calls = 0

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        if type(self).calls > 10:
            raise RuntimeError("the task's model broke")
        return self.net(x)


def test_a_study_whose_creation_fails_leaves_nothing_behind(digits: Task, storage_url: str) -> None:
    broken = dataclasses.replace(digits, name="broken", model=_FailsLater)
    _FailsLater.calls = 0
    with pytest.raises(RuntimeError, match="model broke"):
        small_study(broken, storage_url, optimizers=["adamw"])
    assert optuna.get_all_study_names(storage=storage_url) == []
    _FailsLater.calls = -(10**9)  # it works now: the same name makes a whole study
    study = small_study(broken, storage_url, optimizers=["adamw"], n_trials=1)
    assert read_settings(study).n_trials == 1
    assert optuna.get_all_study_names(storage=storage_url) == ["broken"]
