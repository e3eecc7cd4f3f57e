"""The best trial of a study as a ``BestConfig``: a table, a JSON-ready dict, and PyTorch
code to paste into a training script."""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrtune._exceptions import StudyError
from lrtune.optimizers import OPTIMIZERS
from lrtune.report._study_data import check_has_trials, completed_trials, study_objective
from lrtune.report._text import fmt, table
from lrtune.schedules import Length, plan_code, plan_steps
from lrtune.study import read_settings
from lrtune.tasks import Direction
from lrtune.training import TrainingConfig

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


@dataclass(frozen=True)
class BestConfig:
    """The best completed trial of a study and what it takes to train it again.

    Args:
        study: The study's name.
        task: The task's name.
        trial: The trial's number.
        value: Its objective value.
        objective: What the value measures (``"val_loss"`` or the metric's name).
        direction: ``"minimize"`` or ``"maximize"``.
        config: The optimizer, learning rate and schedule it trained with.
        epochs: The study's training length.
        steps_per_epoch: Batches per epoch; the schedule's length depends on it.
        source: How ``load_task`` finds the task (an example name, a task file, a
            module); ``None``: by its name.
    """

    study: str
    task: str
    trial: int
    value: float
    objective: str
    direction: Direction
    config: TrainingConfig
    epochs: int
    steps_per_epoch: int
    source: str | None = None


def best_config(study: optuna.Study) -> BestConfig:
    """The best completed trial of ``study``.

    Raises:
        lrtune.StudyError: ``study`` has no trial at all.
        lrtune.StudyError: ``study`` was not created by lrtune.
        ValueError: No trial has completed yet.
        lrtune.StudyError: The best trial records no configuration.
    """
    check_has_trials(study)
    settings = read_settings(study)
    if not completed_trials(study):
        raise ValueError(
            f"Study {study.study_name!r} has no completed trial yet; "
            "run more trials or wait for one to finish."
        )
    trial = study.best_trial
    objective = study_objective(study)
    return BestConfig(
        study=study.study_name,
        task=settings.task,
        trial=trial.number,
        value=float(trial.value or 0),
        objective=objective.name,
        direction=objective.direction,
        config=_config(study, trial),
        epochs=settings.epochs,
        steps_per_epoch=settings.steps_per_epoch,
        source=settings.source,
    )


def best_table(best: BestConfig) -> str:
    """Two columns, setting and value; parameters are named as a study spec names them."""
    config = best.config
    rows = [
        ["study", best.study],
        ["task", best.task],
        ["trial", str(best.trial)],
        [best.objective, f"{fmt(best.value)} ({best.direction})"],
        ["optimizer", config.optimizer],
        ["lr", fmt(config.lr)],
        *_param_rows(config.optimizer, config.optimizer_params),
        ["schedule", config.schedule],
        *_param_rows(config.schedule, config.schedule_params),
        ["warmup_ratio", fmt(config.warmup_ratio)],
        ["epochs", str(best.epochs)],
        ["steps_per_epoch", str(best.steps_per_epoch)],
    ]
    return table(["setting", "value"], rows)


def best_dict(best: BestConfig) -> dict[str, Any]:
    """A JSON-ready view of ``best``, with its PyTorch code under ``"code"``."""
    return {
        "study": best.study,
        "task": best.task,
        "trial": best.trial,
        "objective": best.objective,
        "direction": best.direction,
        "value": best.value,
        "config": best.config.to_dict(),
        "epochs": best.epochs,
        "steps_per_epoch": best.steps_per_epoch,
        "code": best_code(best),
        "script": best_script(best),
    }


_TRAIN_EVAL = (
    "# Schedule-Free: call optimizer.train() before each epoch's training steps, and",
    "# optimizer.eval() before every evaluation and before saving a checkpoint.",
)


def best_code(best: BestConfig) -> str:
    """PyTorch lines building the best trial's optimizer and schedule for a ``model``.

    A third-party optimizer's import follows ``import torch``; for one that needs them
    (Schedule-Free), the comments say where the training loop calls ``optimizer.train()``
    and ``optimizer.eval()``.
    """
    config = best.config
    _check_names(best)
    family = OPTIMIZERS.get(config.optimizer)
    length = Length(best.epochs, best.steps_per_epoch)
    lines = [
        "import torch",
        *family.imports(),
        "",
        _headline(best),
        f"# The schedule spans {best.epochs} epochs of {best.steps_per_epoch} batches each;",
        "# with another number of batches per epoch it would end early or late.",
        f"epochs = {best.epochs}",
        family.code(config.lr, config.optimizer_params),
        plan_code(
            config.schedule,
            config.lr,
            config.schedule_params,
            length,
            warmup_ratio=config.warmup_ratio,
        ),
        *(_TRAIN_EVAL if family.needs_train_eval else ()),
    ]
    return "\n".join(lines)


def best_script(best: BestConfig) -> str:
    """A complete Python file that trains the task with the best trial's configuration.

    It loads the task as the study did (``lrtune.tasks.load_task``), builds the model,
    the loaders, the optimizer and the schedule (``best_code``), and runs the training
    loop that steps each scheduler as the study's trials did, printing the validation
    loss after every epoch. It runs as it is, on the CPU.
    """
    config = best.config
    family = OPTIMIZERS.get(config.optimizer)
    length = Length(best.epochs, best.steps_per_epoch)
    per_step, per_epoch = plan_steps(
        config.schedule,
        config.lr,
        config.schedule_params,
        length,
        warmup_ratio=config.warmup_ratio,
    )
    code = best_code(best).splitlines()
    imports, body = code[: code.index("")], code[code.index("") + 1 :]
    return "\n".join(
        [
            *imports,
            "from lrtune.tasks import load_task",
            "",
            f"task = load_task({(best.source or best.task)!r})  # as the study loaded it",
            "# Seeded otherwise than the trial, so expect a value near the trial's, not equal.",
            "model = task.build_model()",
            "train_loader = task.make_train_loader()",
            "val_loader = task.make_val_loader() or train_loader",
            "",
            *body,
            "",
            "",
            *_LOOP_HELPERS,
            "",
            "",
            *_loop(family.needs_train_eval, per_step, per_epoch),
            "",
        ]
    )


_LOOP_HELPERS = (
    "def predict(inputs):",
    "    if isinstance(inputs, dict):",
    "        return task.output_fn(model(**inputs))",
    "    if isinstance(inputs, tuple):",
    "        return task.output_fn(model(*inputs))",
    "    return task.output_fn(model(inputs))",
    "",
    "",
    "def validation_loss():",
    "    model.eval()",
    "    losses = []",
    "    with torch.no_grad():",
    "        for batch in val_loader:",
    "            inputs, targets = task.batch_fn(batch)",
    "            losses.append(float(task.criterion(predict(inputs), targets)))",
    "    return sum(losses) / len(losses)",
)


def _loop(train_eval: bool, per_step: str | None, per_epoch: str | None) -> list[str]:
    return [
        "for epoch in range(epochs):",
        "    model.train()",
        *(["    optimizer.train()"] if train_eval else []),
        "    for batch in train_loader:",
        "        inputs, targets = task.batch_fn(batch)",
        "        loss = task.criterion(predict(inputs), targets)",
        "        optimizer.zero_grad(set_to_none=True)",
        "        loss.backward()",
        "        optimizer.step()",
        *([f"        {per_step}.step()"] if per_step else []),
        *(["    optimizer.eval()"] if train_eval else []),
        "    val_loss = validation_loss()",
        *([f"    {per_epoch}.step(val_loss)"] if per_epoch else []),
        '    print(f"epoch {epoch + 1}/{epochs}: val_loss {val_loss:.4g}")',
    ]


def _headline(best: BestConfig) -> str:
    """The comment naming the trial; stored names are quoted or cleaned, so that no
    character in them (a newline in a metric's name, say) can end the comment."""
    return (
        f"# Trial {best.trial} of study {best.study!r} (task {best.task!r}): "
        f"{_one_line(best.objective)} {best.value:.6g} ({best.direction})."
    )


def _one_line(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())


def _check_names(best: BestConfig) -> None:
    """Refuse a stored configuration whose names would not be Python keywords as written."""
    config = best.config
    for name in (*config.optimizer_params, *config.schedule_params):
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise StudyError(
                f"Trial {best.trial} of study {best.study!r} records a parameter named "
                f"{name!r}, which is not a Python name; its code is not written."
            )


def _config(study: optuna.Study, trial: FrozenTrial) -> TrainingConfig:
    values = trial.user_attrs.get("config")
    if values is None:
        raise StudyError(f"Trial {trial.number} of study {study.study_name!r} records no config.")
    return TrainingConfig.from_dict(values)


def _param_rows(family: str, values: Mapping[str, Any]) -> list[list[str]]:
    return [[f"{family}.{name}", _show(value)] for name, value in values.items()]


def _show(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    return str(value)
