"""The best configuration: which trial it is, how it reads, and code that reproduces the
learning rates the trial trained with."""

from __future__ import annotations

import ast
import json
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState

from lrtune._exceptions import StudyError
from lrtune.optimizers import OPTIMIZERS
from lrtune.report import (
    BestConfig,
    best_code,
    best_config,
    best_dict,
    best_script,
    best_table,
)
from lrtune.schedules import SCHEDULES, Length, plan_steps
from lrtune.study import SearchSpace, StudySettings, read_settings
from lrtune.tasks import load_task
from lrtune.training import TrainingConfig, train

EPOCHS = 3


def synthetic(direction: str, values: list[float | None]) -> optuna.Study:
    """A metric study with one trial per value (``None``: pruned)."""
    space = SearchSpace(("adamw",), ("constant",), {"adamw": (1e-4, 1.0)})
    settings = StudySettings(
        "toy",
        4,
        10,
        "metric",
        "accuracy",
        direction,
        0,
        10,
        "median",
        "tpe",
        3.0,
        space,  # type: ignore[arg-type]
    )
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction=direction)
    study.set_user_attr("lrtune", settings.to_dict())
    for index, value in enumerate(values):
        config = TrainingConfig("adamw", 0.01 * (index + 1), {"weight_decay": 0.01})
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.COMPLETE if value is not None else TrialState.PRUNED,
                value=value,
                user_attrs={"config": config.to_dict()},
            )
        )
    return study


def replay(
    code: str, epochs: int, steps: int, val_losses: list[float]
) -> tuple[dict[str, Any], list[list[float]]]:
    """Exec ``code`` for a small model and step it as its comments say, as training would
    (``optimizer.train()``/``eval()`` around each epoch if they say so); returns its
    namespace and each epoch's learning rates."""
    model = torch.nn.Linear(3, 1)
    for param in model.parameters():  # some optimizers (DoG) refuse to step without one
        param.grad = torch.zeros_like(param)
    namespace: dict[str, Any] = {"model": model}
    exec(code, namespace)
    optimizer = namespace["optimizer"]
    comments = "\n".join(line for line in code.splitlines() if line.startswith("#"))
    per_step = [namespace[name] for name in re.findall(r"(\w+)\.step\(\)", comments)]
    per_epoch = [namespace[name] for name in re.findall(r"(\w+)\.step\(val_loss\)", comments)]
    modes = "optimizer.train()" in comments and "optimizer.eval()" in comments
    lrs: list[list[float]] = []
    for epoch in range(epochs):
        lrs.append([])
        if modes:
            optimizer.train()
        for _ in range(steps):
            lrs[-1].append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            for scheduler in per_step:
                scheduler.step()
        if modes:
            optimizer.eval()
        for scheduler in per_epoch:
            scheduler.step(val_losses[epoch])
    return namespace, lrs


def assert_same_lrs(replayed: list[list[float]], recorded: list[list[float]]) -> None:
    """Each epoch's [mean, low, high] as the training loop recorded them."""
    assert len(replayed) == len(recorded)
    for epoch_lrs, (mean, low, high) in zip(replayed, recorded, strict=True):
        assert sum(epoch_lrs) / len(epoch_lrs) == pytest.approx(mean, rel=1e-12)
        assert (min(epoch_lrs), max(epoch_lrs)) == pytest.approx((low, high), rel=1e-12)


def assert_builds(namespace: dict[str, Any], config: TrainingConfig) -> None:
    family = OPTIMIZERS.get(config.optimizer)
    optimizer = namespace["optimizer"]
    assert type(optimizer) is family.optimizer_class()
    assert optimizer.defaults["lr"] == config.lr
    for name, value in family.kwargs(config.optimizer_params).items():
        assert optimizer.defaults[name] == value, name
    main = SCHEDULES.get(config.schedule).scheduler_class
    assert main is None or any(type(value) is main for value in namespace.values())
    assert type(namespace.get("scheduler")) is expected_scheduler(config)


def expected_scheduler(config: TrainingConfig) -> type:
    """The class of ``scheduler``: the family's, or the warmup's wrapped around it."""
    main = SCHEDULES.get(config.schedule).scheduler_class
    if config.warmup_ratio is None or main is torch.optim.lr_scheduler.ReduceLROnPlateau:
        return type(None) if main is None else main
    lr_scheduler = torch.optim.lr_scheduler
    return lr_scheduler.LinearLR if main is None else lr_scheduler.SequentialLR


# --- best_config -----------------------------------------------------------------------


def test_best_config_is_the_best_completed_trial(real_study: optuna.Study) -> None:
    best = best_config(real_study)
    complete = [t for t in real_study.trials if t.state == TrialState.COMPLETE]
    winner = min(complete, key=lambda t: t.value or 0)
    settings = read_settings(real_study)
    assert (best.trial, best.value) == (winner.number, winner.value)
    assert best.config == TrainingConfig.from_dict(winner.user_attrs["config"])
    assert (best.study, best.task) == (real_study.study_name, "digits-mlp")
    assert (best.objective, best.direction) == ("val_loss", "minimize")
    assert (best.epochs, best.steps_per_epoch) == (2, settings.steps_per_epoch)


def test_best_config_of_a_maximized_metric_takes_the_highest() -> None:
    best = best_config(synthetic("maximize", [0.7, 0.9, None, 0.8]))
    assert (best.trial, best.value, best.objective, best.direction) == (
        1,
        0.9,
        "accuracy",
        "maximize",
    )
    assert best.config.lr == pytest.approx(0.02)


def test_best_config_without_a_completed_trial_says_so_in_one_line() -> None:
    study = synthetic("maximize", [None, None])
    with pytest.raises(ValueError, match="has no completed trial yet") as raised:
        best_config(study)
    assert study.study_name in str(raised.value) and "\n" not in str(raised.value)


def test_best_config_refuses_a_study_lrtune_did_not_create() -> None:
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    study.add_trial(optuna.trial.create_trial(value=1.0))
    with pytest.raises(StudyError, match="not created by lrtune"):
        best_config(study)


# --- table and dict --------------------------------------------------------------------


def test_best_table_lists_each_setting_by_its_spec_name(real_study: optuna.Study) -> None:
    best = best_config(real_study)
    lines = best_table(best).splitlines()
    assert lines[0].split() == ["setting", "value"]
    rows = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines[2:]}
    config = best.config
    assert rows["trial"] == str(best.trial)
    assert rows["val_loss"] == f"{best.value:.3g} (minimize)"
    assert (rows["optimizer"], rows["schedule"]) == (config.optimizer, config.schedule)
    assert rows["lr"] == f"{config.lr:.3g}"
    for name in config.optimizer_params:
        assert f"{config.optimizer}.{name}" in rows
    for name in config.schedule_params:
        assert f"{config.schedule}.{name}" in rows
    assert (rows["epochs"], rows["warmup_ratio"]) == ("2", "-")


def test_best_dict_is_json_ready_and_carries_the_code(real_study: optuna.Study) -> None:
    best = best_config(real_study)
    data = json.loads(json.dumps(best_dict(best)))
    assert data["code"] == best_code(best)
    assert TrainingConfig.from_dict(data["config"]) == best.config
    assert (data["trial"], data["value"], data["epochs"]) == (best.trial, best.value, best.epochs)
    assert (data["objective"], data["direction"]) == ("val_loss", "minimize")


# --- best_code -------------------------------------------------------------------------


def test_best_code_names_its_trial_and_length(real_study: optuna.Study) -> None:
    best = best_config(real_study)
    code = best_code(best)
    assert code.startswith("import torch\n")
    assert f"# Trial {best.trial} of study {best.study!r}" in code
    assert "epochs = 2\n" in code
    compile(code, "<best>", "exec")


def test_best_code_replays_the_best_trials_learning_rates(real_study: optuna.Study) -> None:
    best = best_config(real_study)
    trial = real_study.trials[best.trial]
    code = best_code(best)
    namespace, lrs = replay(code, best.epochs, best.steps_per_epoch, trial.user_attrs["val_losses"])
    assert_builds(namespace, best.config)
    assert_same_lrs(lrs, trial.user_attrs["lrs"])


def test_best_code_replays_every_trial_of_the_study(real_study: optuna.Study) -> None:
    best = best_config(real_study)
    for trial in real_study.trials:
        if trial.state != TrialState.COMPLETE:
            continue
        config = TrainingConfig.from_dict(trial.user_attrs["config"])
        namespace, lrs = replay(
            best_code(replace(best, config=config)),
            2,
            best.steps_per_epoch,
            trial.user_attrs["val_losses"],
        )
        assert_builds(namespace, config)
        assert_same_lrs(lrs, trial.user_attrs["lrs"])


@pytest.mark.parametrize(
    ("optimizer", "options", "schedule", "values", "warmup"),
    [
        ("adamw", {"beta1": 0.85, "beta2": 0.99, "weight_decay": 0.02}, "constant", {}, None),
        ("adam", {"weight_decay": 1e-5}, "constant", {}, 0.2),
        (
            "sgd",
            {"momentum": 0.8, "nesterov": True, "weight_decay": 1e-4},
            "cosine",
            {"eta_min_ratio": 0.1},
            None,
        ),
        ("sgd", {"momentum": 0.9}, "cosine", {}, 0.2),
        ("adam", {}, "onecycle", {"pct_start": 0.4, "anneal_strategy": "linear"}, None),
        ("rmsprop", {"alpha": 0.95, "momentum": 0.5}, "step", {}, None),
        ("nadam", {}, "exponential", {}, 0.1),
        ("radam", {}, "cosine_restarts", {}, None),
        ("sgd", {}, "cyclic", {"mode": "triangular2"}, None),
        ("adamw", {}, "multistep", {}, 0.1),
        ("sgd", {}, "polynomial", {"power": 2.0}, None),
        ("adamw", {}, "plateau", {}, None),
        ("adamw", {}, "plateau", {}, 0.1),
    ],
)
def test_best_code_replays_what_training_recorded(
    optimizer: str,
    options: dict[str, Any],
    schedule: str,
    values: dict[str, Any],
    warmup: float | None,
) -> None:
    lr = 0.05 if optimizer == "sgd" else 0.005
    replay_training(TrainingConfig(optimizer, lr, options, schedule, values, warmup))


def replay_training(config: TrainingConfig) -> str:
    """Train ``config``, then check its code builds it and replays its LRs; the code."""
    task = load_task("digits-mlp")
    run = train(task, config, seed=0, epochs=EPOCHS)
    assert not run.diverged
    steps = len(task.make_train_loader())
    best = BestConfig(
        "s", "digits-mlp", 0, run.final_val_loss, "val_loss", "minimize", config, EPOCHS, steps
    )
    code = best_code(best)
    namespace, lrs = replay(code, EPOCHS, steps, run.val_losses)
    assert_builds(namespace, config)
    assert_same_lrs(lrs, [[lr.mean, lr.low, lr.high] for lr in run.lrs])
    return code


@pytest.mark.parametrize(
    ("optimizer", "module", "options", "schedule", "warmup"),
    [
        ("schedulefree-adamw", "schedulefree", {"beta1": 0.95}, "constant", 0.2),
        ("prodigy", "prodigyopt", {"weight_decay": 1e-4}, "cosine", None),
        ("dadapt-adam", "dadaptation", {}, "onecycle", None),
        ("dog", "dog", {"reps_rel": 1e-5}, "constant", None),
    ],
)
def test_best_code_imports_a_third_party_optimizer_and_replays_its_training(
    optimizer: str, module: str, options: dict[str, Any], schedule: str, warmup: float | None
) -> None:
    pytest.importorskip(module)
    lr = OPTIMIZERS.get(optimizer).default_lr
    assert lr is not None
    code = replay_training(TrainingConfig(optimizer, lr, options, schedule, {}, warmup))
    assert code.startswith(f"import torch\nimport {module}\n")
    switches = "optimizer.train()" in code and "optimizer.eval()" in code
    assert switches is OPTIMIZERS.get(optimizer).needs_train_eval


# --- best_script -----------------------------------------------------------------------


def test_best_script_runs_as_a_file_and_trains_the_task(
    real_study: optuna.Study, tmp_path: Path
) -> None:
    """The file `lrtune best --code` prints trains the study's task on its own."""
    best = best_config(real_study)
    path = tmp_path / "train.py"
    path.write_text(best_script(best))
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"epoch {n}/{best.epochs}" for n in range(1, best.epochs + 1)
    ]
    final = float(lines[-1].rsplit(" ", 1)[1])
    assert math.isfinite(final) and final < 2.3  # below chance on digits: it trained


def test_a_plateau_schedule_is_stepped_with_the_validation_loss() -> None:
    config = TrainingConfig("adamw", 0.005, {}, "plateau", {}, 0.1)
    best = BestConfig("s", "digits-mlp", 0, 0.1, "val_loss", "minimize", config, 2, 23)
    script = best_script(best)
    compile(script, "<script>", "exec")
    per_step, per_epoch = plan_steps("plateau", 0.005, {}, Length(2, 23), warmup_ratio=0.1)
    assert per_step is not None and per_epoch == "scheduler"
    assert f"        {per_step}.step()\n" in script  # the warmup, after every batch
    assert "    scheduler.step(val_loss)\n" in script  # the plateau, after every epoch


def test_a_stored_name_cannot_add_a_line_to_the_code() -> None:
    config = TrainingConfig("sgd", 0.1)
    best = BestConfig(
        "s\nimport os", "t", 0, 0.1, "acc\nos.system('x')", "maximize", config, 1, 10, "x\ny"
    )
    script = best_script(best)
    tree = ast.parse(script)
    assert not any(isinstance(node, ast.Expr) and "system" in ast.dump(node) for node in tree.body)
    assert "os.system" not in "\n".join(
        line for line in script.splitlines() if not line.lstrip().startswith("#")
    )
    bad = replace(best, config=TrainingConfig("sgd", 0.1, {"momentum=0.9)\nimport os\n#": 1}))
    with pytest.raises(StudyError, match="not a Python name"):
        best_code(bad)
