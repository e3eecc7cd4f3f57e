"""A schedule as an ordered list of torch scheduler constructions.

``build_plan`` runs a recipe and ``plan_code`` prints it; one description serving both is
what makes the pasted code run the schedule the study measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch

from lrtune._checks import is_number
from lrtune.schedules._base import Interval, Length, ScheduleFamily
from lrtune.schedules._registry import SCHEDULES
from lrtune.schedules._warmup import WARMUP_START_FACTOR, warmup_kwargs, warmup_steps


@dataclass(frozen=True)
class Ref:
    """A scheduler made earlier in the recipe and passed to a later one (``SequentialLR``)."""

    variable: str

    def __repr__(self) -> str:
        # The generated code names the variable holding that scheduler.
        return self.variable


@dataclass(frozen=True)
class Part:
    """One construction: ``variable = cls(optimizer, **kwargs)``, with a comment above it."""

    variable: str
    cls: type
    kwargs: Mapping[str, Any]
    comment: str = ""


@dataclass(frozen=True)
class Recipe:
    """The constructions in order, and which variables the training loop steps, and when."""

    parts: tuple[Part, ...] = ()
    per_step: str | None = None
    per_epoch: str | None = None


def to_family(schedule: str | ScheduleFamily) -> ScheduleFamily:
    """The family itself, or the one registered under that name."""
    if isinstance(schedule, ScheduleFamily):
        return schedule
    if isinstance(schedule, str):
        return SCHEDULES.get(schedule)
    raise TypeError(f"schedule must be a name or a ScheduleFamily, but got {schedule!r}.")


def make_recipe(
    schedule: str | ScheduleFamily,
    lr: float,
    values: Mapping[str, Any],
    length: Length,
    warmup_ratio: float | None,
) -> Recipe:
    """The constructions for ``schedule`` at ``lr``, with a warmup when a ratio is given."""
    family = to_family(schedule)
    lr = _checked_lr(lr)
    if warmup_ratio is None:
        return _without_warmup(family, lr, values, length)
    return _with_warmup(family, lr, values, length, warmup_ratio)


def _checked_lr(lr: float) -> float:
    if not is_number(lr) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, but got {lr=}.")
    return float(lr)


def _without_warmup(
    family: ScheduleFamily, lr: float, values: Mapping[str, Any], length: Length
) -> Recipe:
    kwargs = family.kwargs(lr, values, length)
    if family.scheduler_class is None:
        return Recipe()
    part = Part("scheduler", family.scheduler_class, kwargs)
    if family.interval is Interval.EPOCH:
        return Recipe((part,), per_epoch="scheduler")
    return Recipe((part,), per_step="scheduler")


def _with_warmup(
    family: ScheduleFamily,
    lr: float,
    values: Mapping[str, Any],
    length: Length,
    warmup_ratio: float,
) -> Recipe:
    steps = warmup_steps(family, length, warmup_ratio)
    warmup = _warmup_part(steps)
    if family.scheduler_class is None:
        family.kwargs(lr, values, length)  # refuses parameters constant does not have
        return Recipe((replace(warmup, variable="scheduler"),), per_step="scheduler")
    if family.interval is Interval.EPOCH:
        # ReduceLROnPlateau multiplies whatever LR it finds, so the per-batch warmup and
        # the per-epoch cuts compose without knowing of each other.
        main = Part("scheduler", family.scheduler_class, family.kwargs(lr, values, length))
        return Recipe((warmup, main), per_step="warmup", per_epoch="scheduler")
    return _sequential(warmup, family, family.kwargs(lr, values, length.after(steps)), steps)


def _warmup_part(steps: int) -> Part:
    comment = (
        f"# Linear warmup from lr * {WARMUP_START_FACTOR!r} to lr over the first {steps} steps."
    )
    return Part("warmup", torch.optim.lr_scheduler.LinearLR, warmup_kwargs(steps), comment)


def _sequential(
    warmup: Part, family: ScheduleFamily, kwargs: Mapping[str, Any], steps: int
) -> Recipe:
    assert family.scheduler_class is not None  # the caller handled constant
    main = Part(
        "main",
        family.scheduler_class,
        kwargs,
        f"# Then {family.name}, its lengths counted over the steps left after the warmup.",
    )
    chain = Part(
        "scheduler",
        torch.optim.lr_scheduler.SequentialLR,
        {"schedulers": [Ref("warmup"), Ref("main")], "milestones": [steps]},
    )
    return Recipe((warmup, main, chain), per_step="scheduler")
