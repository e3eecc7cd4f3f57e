"""``plan_code`` prints the schedulers ``build_plan`` builds: run, they give the same LRs."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

from lrtune.schedules import SCHEDULES, Length, build_plan, plan_code

LR = 0.03
LENGTH = Length(epochs=5, steps_per_epoch=7)
LOSSES = [1.0, 0.8, 0.8, 0.8, 0.8]
"""A loss that stalls, so plateau cuts."""

VALUES: dict[str, dict[str, Any]] = {
    "constant": {},
    "exponential": {"final_ratio": 0.0123},
    "step": {"step_ratio": 0.4, "gamma": 0.3},
    "multistep": {"milestones": "0.3,0.6,0.9", "gamma": 0.07},
    "plateau": {"factor": 0.3, "patience_ratio": 0.2},
    "onecycle": {
        "pct_start": 0.45,
        "div_factor": 7.0,
        "final_div_factor": 33.0,
        "anneal_strategy": "linear",
    },
    "cosine": {"eta_min_ratio": 0.1 / 3},
    "cosine_restarts": {"first_cycle_ratio": 0.15, "t_mult": 1, "eta_min_ratio": 0.01},
    "cyclic": {"mode": "exp_range", "cycles": 3, "div": 7.5, "gamma_final": 0.3},
    "polynomial": {"power": 2.5},
}

CASES = [
    pytest.param(name, values, warmup, id=f"{name}-{label}-{warmup}")
    for name in SCHEDULES
    for label, values in (("defaults", {}), ("set", VALUES[name]))
    for warmup in ((None, 0.1) if SCHEDULES.get(name).supports_warmup else (None,))
]


def new_optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)


def train(optimizer: torch.optim.Optimizer, after_step: Any, after_epoch: Any) -> list[float]:
    seen = []
    for epoch in range(LENGTH.epochs):
        for _ in range(LENGTH.steps_per_epoch):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            after_step()
        after_epoch(LOSSES[epoch])
    return seen


def planned(schedule: str, values: dict[str, Any], warmup: float | None) -> list[float]:
    optimizer = new_optimizer()
    plan = build_plan(optimizer, schedule, LR, values, LENGTH, warmup_ratio=warmup)
    return train(optimizer, plan.after_step, plan.after_epoch)


def pasted(code: str) -> list[float]:
    """Run ``code`` as a user would, stepping what its comment says to step, and when."""
    namespace: dict[str, Any] = {"torch": torch, "optimizer": new_optimizer()}
    exec(code, namespace)
    per_batch = re.search(r"(\w+)\.step\(\) after every batch", code)
    per_epoch = re.search(r"(\w+)\.step\(val_loss\) after every epoch", code)
    return train(
        namespace["optimizer"],
        namespace[per_batch[1]].step if per_batch else lambda: None,
        namespace[per_epoch[1]].step if per_epoch else lambda loss: None,
    )


@pytest.mark.parametrize(("schedule", "values", "warmup"), CASES)
def test_pasted_code_runs_the_planned_schedule(
    schedule: str, values: dict[str, Any], warmup: float | None
) -> None:
    code = plan_code(schedule, LR, values, LENGTH, warmup_ratio=warmup)
    expected = planned(schedule, values, warmup)
    assert pasted(code) == expected  # exactly: the same constructors, the same numbers
    if schedule != "constant" or warmup is not None:
        assert len(set(expected)) > 1, "the case should exercise a changing LR"


def test_code_names_the_scheduler_and_its_arguments() -> None:
    code = plan_code("cosine", 0.1, {}, Length(10, 23))
    assert code.splitlines() == [
        "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=230, eta_min=0.0)",
        "# Call scheduler.step() after every batch, right after optimizer.step().",
    ]


def test_code_for_a_warmup_chains_it_before_the_family() -> None:
    code = plan_code("polynomial", 0.1, {"power": 2.0}, Length(10, 10), warmup_ratio=0.05)
    lines = [line for line in code.splitlines() if not line.startswith("#")]
    assert lines == [
        "warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, "
        "end_factor=1.0, total_iters=5)",
        "main = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=95, power=2.0)",
        "scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, "
        "schedulers=[warmup, main], milestones=[5])",
    ]


def test_code_for_plateau_steps_it_with_the_validation_loss() -> None:
    code = plan_code("plateau", 0.1, {}, Length(10, 10))
    assert "ReduceLROnPlateau(optimizer, mode='min', factor=0.5, patience=1)" in code
    assert code.endswith("# Call scheduler.step(val_loss) after every epoch's validation.")


def test_code_for_plateau_after_a_warmup_steps_the_two_apart() -> None:
    code = plan_code("plateau", 0.1, {}, Length(10, 10), warmup_ratio=0.05)
    assert code.count("warmup = torch.optim.lr_scheduler.LinearLR(") == 1
    assert "SequentialLR" not in code
    assert "warmup.step() after every batch" in code
    assert "scheduler.step(val_loss) after every epoch" in code


def test_a_constant_rate_needs_no_scheduler() -> None:
    code = plan_code("constant", 0.1, {}, Length(10, 10))
    assert code.startswith("#")
    assert "no scheduler" in code


def test_numbers_are_written_to_round_trip() -> None:
    code = plan_code("cosine", 0.1, {"eta_min_ratio": 0.1 / 3}, Length(3, 7))
    assert f"eta_min={0.1 * (0.1 / 3)!r}" in code
