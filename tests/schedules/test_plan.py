"""``build_plan`` and ``LRPlan``: what the training loop sees."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from lrtune.schedules import SCHEDULES, Length, LRPlan, build_plan

LR = 0.1
LENGTH = Length(4, 5)
SCHEDULERS = torch.optim.lr_scheduler


def new_optimizer(groups: int = 1) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(groups)]
    return torch.optim.SGD(params, lr=LR)


@pytest.mark.parametrize(
    ("schedule", "values", "start"),
    [
        ("onecycle", {"div_factor": 10.0}, LR / 10),
        ("cyclic", {"div": 5.0}, LR / 5),
        ("cosine", {}, LR),
        ("constant", {}, LR),
    ],
)
def test_current_lrs_is_the_rate_of_the_first_step_for_every_group(
    schedule: str, values: dict[str, Any], start: float
) -> None:
    # OneCycleLR and CyclicLR replace the optimizer's LR as soon as they are built.
    plan = build_plan(new_optimizer(groups=2), schedule, LR, values, LENGTH)
    assert plan.current_lrs() == pytest.approx([start, start])


def test_a_constant_plan_steps_nothing() -> None:
    optimizer = new_optimizer()
    plan = build_plan(optimizer, "constant", LR, {}, LENGTH)
    assert (plan.per_step, plan.per_epoch) == (None, None)
    for _ in range(3):
        optimizer.step()
        plan.after_step()
        plan.after_epoch(1.0)
    assert plan.current_lrs() == [LR]


def test_per_step_plans_ignore_the_validation_loss() -> None:
    optimizer = new_optimizer()
    plan = build_plan(optimizer, "cosine", LR, {}, LENGTH)
    before = plan.current_lrs()
    plan.after_epoch(math.inf)
    assert plan.current_lrs() == before


def test_plateau_ignores_batches() -> None:
    optimizer = new_optimizer()
    plan = build_plan(optimizer, "plateau", LR, {"patience_ratio": 0.0}, LENGTH)
    for _ in range(10):
        optimizer.step()
        plan.after_step()
    assert plan.current_lrs() == [LR]


def test_what_the_plan_steps_and_when() -> None:
    optimizer = new_optimizer()
    warm_cosine = build_plan(optimizer, "cosine", LR, {}, LENGTH, warmup_ratio=0.1)
    assert isinstance(warm_cosine.per_step, SCHEDULERS.SequentialLR)
    assert warm_cosine.per_epoch is None
    warm_plateau = build_plan(new_optimizer(), "plateau", LR, {}, LENGTH, warmup_ratio=0.1)
    assert isinstance(warm_plateau.per_step, SCHEDULERS.LinearLR)
    assert isinstance(warm_plateau.per_epoch, SCHEDULERS.ReduceLROnPlateau)
    warm_constant = build_plan(new_optimizer(), "constant", LR, {}, LENGTH, warmup_ratio=0.1)
    assert isinstance(warm_constant.per_step, SCHEDULERS.LinearLR)


def test_a_family_object_works_like_its_name() -> None:
    plan = build_plan(new_optimizer(), SCHEDULES.get("step"), LR, {}, LENGTH)
    assert isinstance(plan, LRPlan)
    assert isinstance(plan.per_step, SCHEDULERS.StepLR)


@pytest.mark.parametrize("lr", [0, -0.1, math.nan, math.inf, "0.1", True])
def test_the_lr_must_be_a_positive_number(lr: Any) -> None:
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        build_plan(new_optimizer(), "cosine", lr, {}, LENGTH)


def test_a_schedule_must_be_a_name_or_a_family() -> None:
    with pytest.raises(TypeError, match="schedule must be a name or a ScheduleFamily"):
        build_plan(new_optimizer(), 3, LR, {}, LENGTH)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("schedule", "values", "warmup_ratio"),
    [
        ("onecycle", {"pct_start": 1.5}, None),
        ("cosine", {"unknown": 1}, 0.1),
        ("cyclic", {}, 0.1),
    ],
)
def test_a_refused_plan_leaves_the_optimizer_untouched(
    schedule: str, values: dict[str, Any], warmup_ratio: float | None
) -> None:
    optimizer = new_optimizer()
    with pytest.raises(ValueError):
        build_plan(optimizer, schedule, LR, values, LENGTH, warmup_ratio=warmup_ratio)
    assert optimizer.param_groups[0]["lr"] == LR
    assert "initial_lr" not in optimizer.param_groups[0]
