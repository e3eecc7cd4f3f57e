"""``LRPlan``: a built schedule, and the three calls the training loop makes on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from lrtune.schedules._base import Length, ScheduleFamily
from lrtune.schedules._recipe import Ref, make_recipe


@dataclass
class LRPlan:
    """The schedulers driving one optimizer, and when each is stepped.

    Attributes:
        optimizer: The optimizer whose learning rates the plan sets.
        per_step: Stepped after every optimizer step, or ``None``.
        per_epoch: A ``ReduceLROnPlateau`` stepped with each epoch's validation loss, or
            ``None``.
    """

    optimizer: torch.optim.Optimizer
    per_step: torch.optim.lr_scheduler.LRScheduler | None = None
    per_epoch: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None

    def after_step(self) -> None:
        """Call after every ``optimizer.step()``."""
        if self.per_step is not None:
            self.per_step.step()

    def after_epoch(self, val_loss: float) -> None:
        """Call after every epoch's validation, with its loss."""
        if self.per_epoch is not None:
            self.per_epoch.step(val_loss)

    def current_lrs(self) -> list[float]:
        """The learning rate each parameter group will use at the next step."""
        # Read from the optimizer, not the schedulers: OneCycleLR and CyclicLR replace the
        # LR the optimizer was built with as soon as they are constructed.
        return [float(group["lr"]) for group in self.optimizer.param_groups]


def build_plan(
    optimizer: torch.optim.Optimizer,
    schedule: str | ScheduleFamily,
    lr: float,
    values: Mapping[str, Any],
    length: Length,
    *,
    warmup_ratio: float | None = None,
) -> LRPlan:
    """Attach ``schedule`` to ``optimizer``, which was built with learning rate ``lr``.

    Args:
        optimizer: A fresh optimizer (schedulers record its LR as their starting point).
        schedule: A name from ``SCHEDULES`` or a family.
        lr: The optimizer's LR: the peak of 1cycle and cyclical schedules, else the start.
        values: The family's parameters; missing ones take their defaults.
        length: The training run the schedule spans.
        warmup_ratio: The fraction of the run spent in linear warmup; ``None`` for none.

    Raises:
        ValueError: An unknown parameter, a value out of its range, or a warmup for a
            family that takes none.
        lrtune.RegistryError: An unknown schedule name.
    """
    recipe = make_recipe(schedule, lr, values, length, warmup_ratio)
    made: dict[str, Any] = {}
    for part in recipe.parts:
        kwargs = {key: _resolved(value, made) for key, value in part.kwargs.items()}
        made[part.variable] = part.cls(optimizer, **kwargs)
    return LRPlan(optimizer, _made(recipe.per_step, made), _made(recipe.per_epoch, made))


def _resolved(value: Any, made: Mapping[str, Any]) -> Any:
    if isinstance(value, Ref):
        return made[value.variable]
    if isinstance(value, list):
        return [_resolved(item, made) for item in value]
    return value


def _made(variable: str | None, made: Mapping[str, Any]) -> Any:
    return None if variable is None else made[variable]
