"""Range tests on a ``Task``: a fresh model and optimizer, seeded, per test."""

from __future__ import annotations

from typing import Any, Literal

import torch

from lrtune.finder._find import find_lr
from lrtune.finder._result import FinderResult
from lrtune.optimizers import build_optimizer
from lrtune.tasks import Task


def find_lr_for_task(
    task: Task,
    optimizer: str = "adamw",
    *,
    seed: int = 0,
    optimizer_options: dict[str, Any] | None = None,
    validation: bool = False,
    planned_steps: int | Literal["task"] | None = "task",
    **options: Any,
) -> FinderResult:
    """Run ``find_lr`` on a fresh model of ``task`` with the optimizer named ``optimizer``.

    Args:
        task: The training problem.
        optimizer: A name from ``lrtune.optimizers.OPTIMIZERS`` (``"sgd"``, ``"adamw"``, ...).
        seed: Seeds the model's initialisation and the data order, so reruns repeat.
        optimizer_options: Passed to the optimizer (``weight_decay``, ``momentum``, ...).
        validation: Record the task's validation loss (Smith's mode) instead of training loss.
        planned_steps: The optimizer steps training will take; ``"task"`` (the default)
            counts the task's epochs times its training loader's length.
        **options: Passed to ``find_lr`` (``start_lr``, ``num_iter``, ``device``, ...).
    """
    torch.manual_seed(seed)
    model = task.build_model()
    built = build_optimizer(optimizer, model.parameters(), lr=1e-3, **(optimizer_options or {}))
    val_loader = task.make_val_loader() if validation else None
    if validation and val_loader is None:
        raise ValueError(f"validation=True, but task {task.name!r} has no val_loader.")
    train_loader = task.make_train_loader()
    if planned_steps == "task":
        planned_steps = task.planned_steps(train_loader)
    return find_lr(
        model,
        built,
        train_loader,
        task.criterion,
        val_loader=val_loader,
        batch_fn=task.batch_fn,
        output_fn=task.output_fn,
        task=task.name,
        planned_steps=planned_steps,
        **options,
    )
