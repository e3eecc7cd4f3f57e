"""The linear warmup: its length, its climb, how it hands over, and where it is refused."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from lrtune.schedules import WARMUP_RATIO, WARMUP_START_FACTOR, Length, build_plan, plan_code

LR = 0.2


def lrs(
    schedule: str,
    values: dict[str, Any],
    length: Length,
    warmup_ratio: float,
    losses: list[float] | None = None,
) -> list[float]:
    """The LR of every step, then the one after the last step."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=LR)
    plan = build_plan(optimizer, schedule, LR, values, length, warmup_ratio=warmup_ratio)
    seen = []
    for epoch in range(length.epochs):
        for _ in range(length.steps_per_epoch):
            seen.append(plan.current_lrs()[0])
            optimizer.step()
            plan.after_step()
        plan.after_epoch(1.0 if losses is None else losses[epoch])
    return [*seen, plan.current_lrs()[0]]


def climb(t: int, steps: int) -> float:
    return WARMUP_START_FACTOR + (1 - WARMUP_START_FACTOR) * t / steps


def test_warmup_ratio_is_a_searchable_fraction_of_the_run() -> None:
    assert (WARMUP_RATIO.name, WARMUP_RATIO.default) == ("warmup_ratio", 0.05)
    assert (WARMUP_RATIO.low, WARMUP_RATIO.high) == (0.01, 0.2)
    assert WARMUP_START_FACTOR == 0.01


def test_warmup_climbs_then_the_cosine_still_ends_at_eta_min() -> None:
    seen = lrs("cosine", {"eta_min_ratio": 0.1}, Length(4, 5), 0.2)
    assert seen[0] == pytest.approx(LR * WARMUP_START_FACTOR)
    assert seen[:4] == pytest.approx([LR * climb(t, 4) for t in range(4)])
    assert seen[4] == pytest.approx(LR)
    assert seen[4:] == sorted(seen[4:], reverse=True)
    assert seen[-1] == pytest.approx(LR * 0.1)


def test_warmup_lasts_at_least_one_step() -> None:
    seen = lrs("constant", {}, Length(4, 5), 0.01)  # 0.01 * 20 steps rounds to 0
    assert seen == pytest.approx([LR * WARMUP_START_FACTOR] + [LR] * 20)


def test_a_plateau_cut_during_the_warmup_scales_the_rest_of_the_climb() -> None:
    # 8 warmup steps over 4 epochs of 2; patience 0 and a flat loss cut the LR after
    # every epoch but the first, warmup or not.
    seen = lrs("plateau", {"patience_ratio": 0.0}, Length(20, 2), 0.2)
    cuts = [max(0, t // 2 - 1) for t in range(40)]
    expected = [LR * min(1.0, climb(t, 8)) * 0.5**cut for t, cut in enumerate(cuts)]
    assert seen[:40] == pytest.approx(expected)


@pytest.mark.parametrize("schedule", ["onecycle", "cyclic", "OneCycle"])
def test_families_that_start_low_refuse_a_warmup(schedule: str) -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    with pytest.raises(ValueError, match=f"'{schedule.lower()}' takes no warmup"):
        build_plan(optimizer, schedule, LR, {}, Length(4, 5), warmup_ratio=0.1)
    with pytest.raises(ValueError, match="takes no warmup"):
        plan_code(schedule, LR, {}, Length(4, 5), warmup_ratio=0.1)
    assert optimizer.param_groups[0]["lr"] == LR, "a refused plan must leave the LR alone"


@pytest.mark.parametrize("ratio", [0.0, 0.95, math.nan, "0.1", True])
def test_a_warmup_ratio_out_of_range_names_the_range(ratio: Any) -> None:
    with pytest.raises(ValueError, match=r"warmup_ratio must be in \[1e-06, 0.9\]"):
        plan_code("cosine", LR, {}, Length(4, 5), warmup_ratio=ratio)


def test_a_warmup_that_leaves_no_step_is_refused() -> None:
    with pytest.raises(ValueError, match="leaves none of the run's 1 steps"):
        plan_code("cosine", LR, {}, Length(1, 1), warmup_ratio=0.1)
