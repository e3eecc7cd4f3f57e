"""Study data: the frame, history, best per group, top trials and importances hold the
numbers the trials recorded."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timedelta
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from lrtune.report import (
    PER_EPOCH_ATTRS,
    Importances,
    ParamSlice,
    best_by,
    history,
    importance_inputs,
    importances,
    importances_of,
    intermediate_grid,
    parallel_coordinates,
    slices,
    study_objective,
    timeline,
    top_trials,
    trials_frame,
    worker_label,
)
from lrtune.study import SearchSpace, StudySettings

FIXED_COLUMNS = [
    "number",
    "state",
    "value",
    "optimizer",
    "lr",
    "schedule",
    "warmup_ratio",
    "epochs_run",
    "pruned_reason",
    "warm_start",
    "seed",
    "host",
    "device",
    "datetime_start",
    "duration_s",
]


def settings(objective: str = "val_loss", direction: str = "minimize") -> StudySettings:
    space = SearchSpace(
        ("adamw", "sgd"), ("constant", "cosine"), {"adamw": (1e-4, 1.0), "sgd": (1e-4, 1.0)}
    )
    return StudySettings(
        task="toy",
        epochs=3,
        steps_per_epoch=10,
        objective=objective,  # type: ignore[arg-type]
        metric="accuracy",
        direction=direction,  # type: ignore[arg-type]
        seed=0,
        n_trials=10,
        pruner="median",
        sampler="tpe",
        lr_margin=3.0,
        space=space,
    )


def synthetic(direction: str = "minimize", objective: str = "val_loss") -> optuna.Study:
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction=direction)
    study.set_user_attr("lrtune", settings(objective, direction).to_dict())
    return study


def add(
    study: optuna.Study,
    value: float | None,
    *,
    state: TrialState = TrialState.COMPLETE,
    optimizer: str = "adamw",
    lr: float = 0.01,
    schedule: str = "cosine",
    warmup_ratio: float | None = None,
    curve: list[float | None] | None = None,
    **attrs: Any,
) -> FrozenTrial:
    """A trial as the objective records one: config, per-epoch values and LRs."""
    curve = curve if curve is not None else ([value] * 3 if value is not None else [])
    config = {
        "optimizer": optimizer,
        "lr": lr,
        "optimizer_params": {"weight_decay": 0.01},
        "schedule": schedule,
        "schedule_params": {"eta_min_ratio": 0.1} if schedule == "cosine" else {},
        "warmup_ratio": warmup_ratio,
    }
    user_attrs = {
        "config": config,
        "seed": len(study.trials),
        "host": "box",
        "device": "cpu",
        "val_losses": curve,
        "lrs": [[lr / (i + 1), lr / (i + 2), lr / (i + 1)] for i in range(len(curve))],
        "epochs_run": len(curve),
        **attrs,
    }
    study.add_trial(
        optuna.trial.create_trial(
            state=state,
            value=value if state == TrialState.COMPLETE else None,
            params={"optimizer": optimizer, f"{optimizer}.lr": lr},
            distributions={
                "optimizer": CategoricalDistribution(["adamw", "sgd"]),
                f"{optimizer}.lr": FloatDistribution(1e-4, 1.0, log=True),
            },
            user_attrs=user_attrs,
            intermediate_values={i + 1: v for i, v in enumerate(curve) if v is not None},
        )
    )
    return study.trials[-1]


def nan_to_none(value: Any) -> Any:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
        else value
    )


# --- trials_frame ----------------------------------------------------------------------


def test_frame_holds_every_trials_recorded_attributes(real_study: optuna.Study) -> None:
    frame = trials_frame(real_study)
    assert list(frame["number"]) == [t.number for t in real_study.trials]
    for trial, (_, row) in zip(real_study.trials, frame.iterrows(), strict=True):
        attrs, config = trial.user_attrs, trial.user_attrs["config"]
        assert row["state"] == trial.state.name
        assert row["value"] == trial.value
        assert (row["optimizer"], row["lr"], row["schedule"]) == (
            config["optimizer"],
            config["lr"],
            config["schedule"],
        )
        for name, value in config["optimizer_params"].items():
            assert row[f"opt.{name}"] == value
        for name, value in config["schedule_params"].items():
            assert row[f"sched.{name}"] == value
        for epoch, (loss, lrs) in enumerate(zip(attrs["val_losses"], attrs["lrs"], strict=True), 1):
            assert row[f"val_loss_{epoch}"] == loss
            assert row[f"val_metric_{epoch}"] == attrs["val_metrics"][epoch - 1]
            assert row[f"lr_{epoch}"] == lrs[0]
        assert row["epochs_run"] == attrs["epochs_run"]
        assert (row["seed"], row["host"], row["device"]) == (
            attrs["seed"],
            attrs["host"],
            attrs["device"],
        )
        assert row["warm_start"] == attrs.get("warm_start", False)
        assert nan_to_none(row["pruned_reason"]) == attrs.get("pruned_reason")
        assert row["datetime_start"] == trial.datetime_start
        assert trial.datetime_complete is not None and trial.datetime_start is not None
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
        assert row["duration_s"] == pytest.approx(duration)


def test_frame_orders_columns_fixed_then_prefixed_then_per_epoch(real_study: optuna.Study) -> None:
    columns = list(trials_frame(real_study).columns)
    assert columns[: len(FIXED_COLUMNS)] == FIXED_COLUMNS
    rest = columns[len(FIXED_COLUMNS) :]
    opt = [c for c in rest if c.startswith("opt.")]
    sched = [c for c in rest if c.startswith("sched.")]
    assert opt == sorted(opt) and sched == sorted(sched)
    assert "opt.weight_decay" in opt and "sched.pct_start" in sched
    per_epoch = ["val_loss_1", "val_loss_2", "val_metric_1", "val_metric_2", "lr_1", "lr_2"]
    assert rest == [*opt, *sched, *per_epoch]


def test_a_frame_without_per_epoch_columns_is_the_rest_of_the_full_one(
    real_study: optuna.Study,
) -> None:
    """What the dashboard's trial table shows of a study read without ``PER_EPOCH_ATTRS``."""
    full = trials_frame(real_study)
    light = trials_frame(real_study, per_epoch=False)
    per_epoch = [c for c in full.columns if c.startswith(("val_loss_", "val_metric_", "lr_"))]
    assert per_epoch and list(light.columns) == [c for c in full.columns if c not in per_epoch]
    pd.testing.assert_frame_equal(light, full[light.columns])
    assert {"val_losses", "val_metrics", "lrs"} == set(PER_EPOCH_ATTRS)


def test_frame_keeps_pruned_diverged_and_failed_trials() -> None:
    study = synthetic()
    add(study, 0.5)
    add(
        study,
        None,
        state=TrialState.PRUNED,
        curve=[0.9],
        pruned_reason="pruned by MedianPruner: at epoch 1",
    )
    add(study, None, state=TrialState.PRUNED, curve=[0.8, None], pruned_reason="diverged: loss nan")
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))  # interrupted at once
    frame = trials_frame(study)
    assert list(frame["state"]) == ["COMPLETE", "PRUNED", "PRUNED", "FAIL"]
    assert frame["value"].isna().tolist() == [False, True, True, True]
    assert frame.loc[1, "pruned_reason"] == "pruned by MedianPruner: at epoch 1"
    assert frame.loc[2, "pruned_reason"].startswith("diverged:")
    # Epochs a trial never reached (and a diverged epoch's missing loss) are empty.
    assert frame.loc[1, ["val_loss_1", "val_loss_2", "val_loss_3"]].isna().tolist() == [
        False,
        True,
        True,
    ]
    assert frame.loc[2, ["val_loss_1", "val_loss_2"]].isna().tolist() == [False, True]
    assert frame.loc[3, ["optimizer", "lr", "epochs_run", "val_loss_1"]].isna().all()
    assert frame.loc[3, "warm_start"] == False  # noqa: E712


def test_frame_of_an_empty_study_has_its_columns_and_no_rows() -> None:
    frame = trials_frame(synthetic())
    assert frame.empty
    assert list(frame.columns) == [
        *FIXED_COLUMNS,
        "val_loss_1",
        "val_loss_2",
        "val_loss_3",
        "lr_1",
        "lr_2",
        "lr_3",
    ]


# --- history ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "best"),
    [("minimize", [3.0, 1.0, 1.0, 0.5, 0.5]), ("maximize", [3.0, 3.0, 3.0, 3.0, 4.0])],
)
def test_history_best_so_far_follows_the_direction(direction: str, best: list[float]) -> None:
    study = synthetic(direction)
    for value in (3.0, 1.0, 2.0):
        add(study, value)
    add(study, None, state=TrialState.PRUNED, curve=[0.1])  # better, but not complete
    for value in (0.5, 4.0):
        add(study, value)
    info = history(study)
    assert info.numbers == [0, 1, 2, 4, 5]
    assert info.values == [3.0, 1.0, 2.0, 0.5, 4.0]
    assert info.best == best
    assert info.objective.direction == direction


def test_history_of_a_study_with_no_completed_trial_is_empty() -> None:
    study = synthetic()
    add(study, None, state=TrialState.PRUNED, curve=[1.0])
    info = history(study)
    assert (info.numbers, info.values, info.best) == ([], [], [])


def test_the_objective_is_named_after_the_metric_or_val_loss() -> None:
    assert tuple(study_objective(synthetic("maximize", "metric"))) == ("accuracy", "maximize")
    assert tuple(study_objective(synthetic())) == ("val_loss", "minimize")
    plain = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction="maximize")
    assert tuple(study_objective(plain)) == ("value", "maximize")


# --- best_by ---------------------------------------------------------------------------


def test_best_by_picks_each_groups_best_completed_trial() -> None:
    study = synthetic()
    add(study, 0.4, optimizer="adamw", schedule="cosine")
    add(study, 0.3, optimizer="sgd", schedule="cosine")
    add(study, 0.2, optimizer="adamw", schedule="constant")
    add(study, None, state=TrialState.PRUNED, curve=[0.01], optimizer="sgd", schedule="constant")
    add(study, 0.6, optimizer="sgd", schedule="constant")
    frame = trials_frame(study)

    by_optimizer = best_by(frame, "optimizer", "minimize")
    assert list(by_optimizer.index) == ["adamw", "sgd"]
    assert by_optimizer.index.name == "optimizer"
    assert by_optimizer.loc["adamw"].to_dict() == {
        "best": 0.2,
        "trial": 2,
        "complete": 2,
        "pruned": 0,
        "trials": 2,
    }
    assert by_optimizer.loc["sgd"].to_dict() == {
        "best": 0.3,
        "trial": 1,
        "complete": 2,
        "pruned": 1,
        "trials": 3,
    }

    by_schedule = best_by(frame, "schedule", "maximize")
    assert list(by_schedule.index) == ["constant", "cosine"]
    assert (by_schedule.loc["constant", "best"], by_schedule.loc["constant", "trial"]) == (0.6, 4)
    assert (by_schedule.loc["cosine", "best"], by_schedule.loc["cosine", "trial"]) == (0.4, 0)


def test_best_by_lists_groups_without_a_completed_trial_last() -> None:
    study = synthetic()
    add(study, None, state=TrialState.PRUNED, curve=[0.1], optimizer="adamw")
    add(study, 0.7, optimizer="sgd")
    table = best_by(trials_frame(study), "optimizer", "minimize")
    assert list(table.index) == ["sgd", "adamw"]
    assert math.isnan(table.loc["adamw", "best"]) and table.loc["adamw", "trial"] is pd.NA
    assert table.loc["adamw", "pruned"] == 1


def test_best_by_refuses_an_unknown_column_or_direction() -> None:
    frame = trials_frame(synthetic())
    with pytest.raises(ValueError, match="column='nope'"):
        best_by(frame, "nope", "minimize")
    with pytest.raises(ValueError, match="direction='down'"):
        best_by(frame, "optimizer", "down")  # type: ignore[arg-type]


# --- top_trials ------------------------------------------------------------------------


@pytest.mark.parametrize(("direction", "expected"), [("minimize", [1, 2]), ("maximize", [0, 2])])
def test_top_trials_are_the_k_best_in_the_studys_direction(
    direction: str, expected: list[int]
) -> None:
    study = synthetic(direction)
    add(study, 0.9, curve=[1.5, 1.2, 0.9])
    add(study, 0.1, curve=[0.5, 0.2, 0.1], lr=0.3)
    add(study, 0.5, curve=[0.7, 0.6, 0.5])
    add(study, None, state=TrialState.PRUNED, curve=[0.05])
    tops = top_trials(study, 2)
    assert [t.number for t in tops] == expected
    for top in tops:
        trial = study.trials[top.number]
        assert top.value == trial.value
        assert top.epochs == [1, 2, 3]
        assert top.values == [trial.intermediate_values[e] for e in (1, 2, 3)]
        lrs = trial.user_attrs["lrs"]
        assert (top.lr_mean, top.lr_low, top.lr_high) == tuple(
            [lr[i] for lr in lrs] for i in range(3)
        )
        assert top.label == f"#{top.number} adamw + cosine"


def test_top_trials_returns_what_there_is_and_checks_k(real_study: optuna.Study) -> None:
    complete = [t for t in real_study.trials if t.state == TrialState.COMPLETE]
    assert len(top_trials(real_study, 100)) == len(complete)
    assert top_trials(real_study, 1)[0].number == real_study.best_trial.number
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            top_trials(real_study, k)  # type: ignore[arg-type]


# --- importances -----------------------------------------------------------------------


def test_importances_rank_the_uniform_parameters(real_study: optuna.Study) -> None:
    found = importances(real_study)
    assert found.reason is None
    assert set(found.values) <= {"optimizer", "schedule", "log10_lr", "warmup_ratio"}
    assert "log10_lr" in found.values
    assert "warmup_ratio" not in found.values  # no trial had a warmup
    assert sum(found.values.values()) == pytest.approx(1.0)
    assert list(found.values.values()) == sorted(found.values.values(), reverse=True)


def test_importances_come_from_plain_inputs_another_process_can_take(
    real_study: optuna.Study,
) -> None:
    """The dashboard computes ``importance_inputs`` where the study is and the importances
    in a worker process: the same importances, from data that pickles."""
    inputs = pickle.loads(pickle.dumps(importance_inputs(real_study)))
    assert importances_of(inputs) == importances(real_study)
    assert importances_of(inputs, method="fanova") == importances(real_study, method="fanova")


def test_importances_leave_out_parameters_no_trial_varied() -> None:
    study = synthetic()
    for index, lr in enumerate((1e-3, 1e-2, 1e-1, 3e-1)):
        add(
            study,
            0.1 * (index + 1),
            lr=lr,
            schedule=("cosine", "constant")[index % 2],
            warmup_ratio=0.1,
        )
    found = importances(study)
    assert set(found.values) == {"schedule", "log10_lr"}


@pytest.mark.parametrize(
    ("values", "lrs", "reason"),
    [
        ([], [], "need 2 completed trials; the study has 0"),
        ([0.5], [0.1], "need 2 completed trials; the study has 1"),
        ([0.5, 0.7], [0.1, 0.1], "same optimizer, schedule, LR and warmup"),
        ([0.5, 0.5], [0.1, 0.2], "same value"),
    ],
)
def test_importances_are_empty_with_the_reason(
    values: list[float], lrs: list[float], reason: str
) -> None:
    study = synthetic()
    add(study, None, state=TrialState.PRUNED, curve=[0.2], lr=0.5)
    for value, lr in zip(values, lrs, strict=True):
        add(study, value, lr=lr)
    found = importances(study)
    assert found == Importances({}, found.reason, "ped_anova", len(values))
    assert found.reason is not None and reason in found.reason


def test_importances_leave_optuna_logging_as_it_was(capsys: pytest.CaptureFixture[str]) -> None:
    study = synthetic()
    add(study, 0.1, lr=0.01)
    add(study, 0.2, lr=0.1)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        importances(study)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert "A new study created" not in capsys.readouterr().err


def planted(count: int = 24) -> optuna.Study:
    """Trials whose value depends on the LR alone (the optimizer and schedule vary too)."""
    study = synthetic()
    for index in range(count):
        lr = 10 ** (-4 + 3 * index / (count - 1))
        value = (math.log10(lr) + 2.5) ** 2 + 0.01 * (index % 3)
        add(
            study,
            value,
            lr=lr,
            optimizer=("adamw", "sgd")[index % 2],
            schedule=("cosine", "constant")[index // 2 % 2],
        )
    return study


@pytest.mark.parametrize("method", ["ped_anova", "fanova"])
def test_both_importance_methods_find_the_parameter_that_matters(method: str) -> None:
    found = importances(planted(), method=method)
    assert found.method == method and found.trials == 24 and found.reason is None
    assert next(iter(found.values)) == "log10_lr"
    assert found.values["log10_lr"] > 0.5


def test_importances_refuse_an_unknown_method() -> None:
    with pytest.raises(ValueError, match=r"method must be one of .*'anova'"):
        importances(planted(), method="anova")


# --- parallel coordinates, slices ------------------------------------------------------


def three_trials() -> optuna.Study:
    """Two AdamW trials and an SGD one, all cosine without warmup; a pruned one aside."""
    study = synthetic()
    add(study, 0.3, lr=1e-3)
    add(study, None, state=TrialState.PRUNED, curve=[0.9], lr=1e-4)
    add(study, 0.1, lr=1e-1, optimizer="sgd")
    add(study, 0.2, lr=1e-2)
    return study


def test_parallel_coordinates_scale_each_axis_of_the_completed_trials() -> None:
    info = parallel_coordinates(three_trials())
    assert info.names == ["optimizer", "schedule", "log10_lr", "warmup_ratio", "val_loss"]
    assert info.numbers == [0, 2, 3] and info.values == [0.3, 0.1, 0.2]
    optimizer, schedule, lr, warmup, value = info.columns
    assert optimizer == [0.0, 1.0, 0.0]
    assert schedule == [0.5, 0.5, 0.5] and warmup == [0.5, 0.5, 0.5]  # never varied
    assert lr == pytest.approx([0.0, 1.0, 0.5])
    assert value == pytest.approx([1.0, 0.0, 0.5])
    assert info.ticks[0] == [(0.0, "adamw"), (1.0, "sgd")]
    assert info.ticks[1] == [(0.5, "cosine")]
    assert info.ticks[2] == [(0.0, "-3"), (1.0, "-1")]
    assert info.ticks[3] == [(0.5, "0")]


def test_slices_give_each_parameter_its_values_and_choices() -> None:
    info = slices(three_trials())
    assert info.numbers == [0, 2, 3] and info.values == [0.3, 0.1, 0.2]
    by_name = {param.name: param for param in info.params}
    assert by_name["optimizer"] == ParamSlice("optimizer", [0.0, 1.0, 0.0], ["adamw", "sgd"])
    assert by_name["log10_lr"].x == pytest.approx([-3.0, -1.0, -2.0])
    assert by_name["log10_lr"].choices is None
    assert by_name["warmup_ratio"].x == [0.0, 0.0, 0.0]


def test_parallel_coordinates_and_slices_of_a_study_without_completed_trials() -> None:
    study = synthetic()
    add(study, None, state=TrialState.PRUNED, curve=[0.9])
    assert parallel_coordinates(study).names == [] and parallel_coordinates(study).numbers == []
    assert slices(study).params == [] and slices(study).values == []


# --- intermediate values, timeline -----------------------------------------------------


def test_intermediate_grid_has_a_row_per_trial_and_a_column_per_step() -> None:
    study = synthetic()
    add(study, 0.3, curve=[0.9, 0.5, 0.3])
    add(study, None, state=TrialState.PRUNED, curve=[1.2, float("inf")])
    add(study, None, state=TrialState.FAIL, curve=[])
    info = intermediate_grid(study)
    assert info.numbers == [0, 1, 2] and info.steps == [1, 2, 3]
    assert info.values[0] == [0.9, 0.5, 0.3]
    assert info.values[1][0] == 1.2 and all(math.isnan(v) for v in info.values[1][1:])
    assert all(math.isnan(v) for v in info.values[2])
    assert intermediate_grid(synthetic()).numbers == []


def timed(
    study: optuna.Study, state: TrialState, start: datetime, minutes: float | None, **attrs: Any
) -> None:
    trial = optuna.trial.create_trial(
        state=state, value=0.5 if state == TrialState.COMPLETE else None, user_attrs=attrs
    )
    trial.datetime_start = start
    trial.datetime_complete = None if minutes is None else start + timedelta(minutes=minutes)
    study.add_trial(trial)


def test_timeline_puts_each_trial_on_its_workers_row_from_start_to_end() -> None:
    study = synthetic()
    t0 = datetime(2026, 1, 1, 12, 0)
    timed(study, TrialState.COMPLETE, t0, 5, host="b", device="cuda:0", gpu="H100 #0")
    timed(study, TrialState.PRUNED, t0, 2, host="a", device="cpu")
    timed(
        study,
        TrialState.RUNNING,
        t0 + timedelta(minutes=5),
        None,
        host="b",
        device="cuda:0",
        gpu="H100 #0",
    )
    timed(study, TrialState.FAIL, t0 + timedelta(minutes=2), 1)
    now = t0 + timedelta(minutes=9)
    info = timeline(study, now=now)
    assert info.workers == ["? / ?", "a / cpu", "b / cuda:0 (H100 #0)"]
    assert info.numbers == [0, 1, 2, 3] and info.rows == [2, 1, 2, 0]
    assert info.states == ["COMPLETE", "PRUNED", "RUNNING", "FAIL"]
    assert info.starts[2] == t0 + timedelta(minutes=5) and info.ends[2] == now
    assert info.ends[0] == t0 + timedelta(minutes=5)


def test_worker_label_names_host_device_and_gpu() -> None:
    assert worker_label({"host": "box", "device": "cuda:1", "gpu": "A100 #1"}) == (
        "box / cuda:1 (A100 #1)"
    )
    assert worker_label({"host": "box", "device": "cpu"}) == "box / cpu"
    assert worker_label({}) == "? / ?"
