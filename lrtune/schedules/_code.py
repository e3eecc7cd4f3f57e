"""``plan_code``: the PyTorch source that builds a schedule, to paste after the optimizer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrtune.schedules._base import Length, ScheduleFamily
from lrtune.schedules._recipe import Part, Recipe, make_recipe

_AFTER_BATCH = "after every batch, right after optimizer.step()"
_AFTER_EPOCH = "after every epoch's validation"


def plan_code(
    schedule: str | ScheduleFamily,
    lr: float,
    values: Mapping[str, Any],
    length: Length,
    *,
    warmup_ratio: float | None = None,
) -> str:
    """Python lines building the schedule ``build_plan`` builds, for a variable ``optimizer``.

    The arguments are those of ``build_plan``; the lines end with a comment saying when to
    step each scheduler. Numbers are written with ``repr`` so they round-trip exactly.
    """
    recipe = make_recipe(schedule, lr, values, length, warmup_ratio)
    if not recipe.parts:
        return "# A constant learning rate: no scheduler is needed."
    lines = [line for part in recipe.parts for line in _lines(part)]
    return "\n".join([*lines, *_when(recipe)])


def plan_steps(
    schedule: str | ScheduleFamily,
    lr: float,
    values: Mapping[str, Any],
    length: Length,
    *,
    warmup_ratio: float | None = None,
) -> tuple[str | None, str | None]:
    """The variables ``plan_code``'s lines define that a loop steps: ``(after every
    batch, after every epoch's validation with the loss)``; ``None`` for neither."""
    recipe = make_recipe(schedule, lr, values, length, warmup_ratio)
    return recipe.per_step, recipe.per_epoch


def _lines(part: Part) -> list[str]:
    arguments = ", ".join(["optimizer", *(f"{k}={v!r}" for k, v in part.kwargs.items())])
    code = f"{part.variable} = torch.optim.lr_scheduler.{part.cls.__name__}({arguments})"
    return [part.comment, code] if part.comment else [code]


def _when(recipe: Recipe) -> list[str]:
    if recipe.per_epoch is None:
        return [f"# Call {recipe.per_step}.step() {_AFTER_BATCH}."]
    if recipe.per_step is None:
        return [f"# Call {recipe.per_epoch}.step(val_loss) {_AFTER_EPOCH}."]
    return [
        f"# Call {recipe.per_step}.step() {_AFTER_BATCH}",
        "# (it leaves the LR alone once the warmup is over),",
        f"# and {recipe.per_epoch}.step(val_loss) {_AFTER_EPOCH}.",
    ]
