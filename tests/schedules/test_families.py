"""Every family's LR sequence, measured on a real optimizer, against its closed form.

Each case gives the LR at step ``t`` of a run whose family starts at step ``start`` (0, or
the end of a warmup), so one formula checks the family with and without a warmup.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from lrtune.schedules import SCHEDULES, WARMUP_START_FACTOR, Length, build_plan

LR = 0.1


def close(expected: Any) -> Any:
    # The recursive forms torch uses drift from the closed forms by rounding only.
    return pytest.approx(expected, rel=1e-10, abs=1e-15)


TWENTY = Length(epochs=4, steps_per_epoch=5)


@dataclass
class Run:
    used: list[float]
    """The LR each optimizer step used, measured from the step itself."""
    final: float
    """What ``current_lrs`` reports once training is over."""


def drive(
    schedule: str,
    values: dict[str, Any],
    length: Length,
    *,
    warmup_ratio: float | None = None,
    losses: list[float] | None = None,
) -> Run:
    """Train one float64 parameter with plain SGD and a gradient of one, so it moves by -lr."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([param], lr=LR)
    plan = build_plan(optimizer, schedule, LR, values, length, warmup_ratio=warmup_ratio)
    used: list[float] = []
    for epoch in range(length.epochs):
        for _ in range(length.steps_per_epoch):
            announced = plan.current_lrs()
            param.data.zero_()
            param.grad = torch.ones_like(param)
            optimizer.step()
            used.append(-param.item())
            assert announced == [used[-1]], "current_lrs() must be the LR the step uses"
            plan.after_step()
        plan.after_epoch(1.0 if losses is None else losses[epoch])
    return Run(used, plan.current_lrs()[0])


def cosine(low: float, progress: float) -> float:
    return low + (LR - low) * (1 + math.cos(math.pi * progress)) / 2


def restarts(t: int, first: int, mult: int, low: float) -> float:
    start, cycle = 0, first
    while t >= start + cycle:
        start, cycle = start + cycle, cycle * mult
    return cosine(low, (t - start) / cycle)


def smith_cycle(t: int, half: int, base: float, scale: Callable[[int, int], float]) -> float:
    """Smith's triangular policy (arXiv 1506.01186), with an amplitude ``scale``."""
    cycle = math.floor(1 + t / (2 * half))
    x = abs(t / half - 2 * cycle + 1)
    return base + (LR - base) * max(0.0, 1 - x) * scale(cycle, t)


def drops(t: int, at: list[int], gamma: float) -> float:
    return LR * gamma ** sum(t >= mark for mark in at)


@dataclass
class Case:
    id: str
    schedule: str
    values: dict[str, Any]
    expected: Callable[[int, int, int], float]
    """``(t, start, total)`` -> the LR at step ``t``; the family begins at ``start``."""
    length: Length = TWENTY
    losses: list[float] | None = None
    final: Callable[[], float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("constant", "constant", {}, lambda t, s, n: LR),
    Case(
        "exponential",
        "exponential",
        {"final_ratio": 0.05},
        lambda t, s, n: LR * 0.05 ** ((t - s) / (n - s)),
        final=lambda: LR * 0.05,
    ),
    Case(
        "step-half",
        "step",
        {"step_ratio": 0.5, "gamma": 0.2},
        lambda t, s, n: LR * 0.2 ** ((t - s) // 10),
    ),
    Case(
        "step-3-of-10-epochs",
        "step",
        {},
        lambda t, s, n: LR * 0.1 ** ((t - s) // 9),
        Length(10, 3),
    ),
    Case(
        "multistep-10-epochs",
        "multistep",
        {"milestones": "0.3,0.6,0.9", "gamma": 0.5},
        lambda t, s, n: drops(t, [9, 18, 27], 0.5),
        Length(10, 3),
    ),
    Case(
        # 0.9 of 4 epochs rounds to the end of the run: that drop is never seen.
        "multistep-4-epochs",
        "multistep",
        {"milestones": "0.3,0.6,0.9"},
        lambda t, s, n: drops(t, [5, 10], 0.1),
    ),
    Case(
        "multistep-thirds",
        "multistep",
        {"milestones": "0.33,0.67"},
        lambda t, s, n: drops(t, [4, 8], 0.1),
        Length(3, 4),
    ),
    Case(
        # patience 2 epochs: a flat loss cuts the LR after epochs 4, 7 and 10.
        "plateau-flat",
        "plateau",
        {"patience_ratio": 0.2},
        lambda t, s, n: drops(t, [8, 14], 0.5),
        Length(10, 2),
        losses=[1.0] * 10,
        final=lambda: LR / 8,
    ),
    Case(
        "plateau-improving",
        "plateau",
        {"patience_ratio": 0.2, "factor": 0.1},
        lambda t, s, n: LR,
        Length(10, 2),
        losses=[1.0 / (epoch + 1) for epoch in range(10)],
        final=lambda: LR,
    ),
    Case(
        "cosine",
        "cosine",
        {"eta_min_ratio": 0.05},
        lambda t, s, n: cosine(LR * 0.05, (t - s) / (n - s)),
        final=lambda: LR * 0.05,
    ),
    Case(
        "cosine_restarts-doubling",
        "cosine_restarts",
        {},
        lambda t, s, n: restarts(t - s, round(0.25 * (n - s)), 2, 0.0),
    ),
    Case(
        "cosine_restarts-even",
        "cosine_restarts",
        {"first_cycle_ratio": 0.1, "t_mult": 1, "eta_min_ratio": 0.1},
        lambda t, s, n: restarts(t - s, max(1, round(0.1 * (n - s))), 1, LR * 0.1),
    ),
    Case(
        "polynomial",
        "polynomial",
        {"power": 2.0},
        lambda t, s, n: LR * (1 - (t - s) / (n - s)) ** 2,
        final=lambda: 0.0,
    ),
]

STARTING_LOW_CASES = [
    Case(
        "onecycle",
        "onecycle",
        {},
        lambda t, s, n: one_cycle(t, n, 0.3, 25.0, 1e4, "cos"),
    ),
    Case(
        "cyclic-triangular",
        "cyclic",
        {},
        lambda t, s, n: smith_cycle(t, 3, LR / 4, lambda c, i: 1.0),
        Length(4, 6),
    ),
    Case(
        "cyclic-triangular2",
        "cyclic",
        {"mode": "triangular2", "cycles": 3, "div": 10.0},
        lambda t, s, n: smith_cycle(t, 3, LR / 10, lambda c, i: 0.5 ** (c - 1)),
    ),
    Case(
        "cyclic-exp_range",
        "cyclic",
        {"mode": "exp_range", "gamma_final": 0.05},
        lambda t, s, n: smith_cycle(t, 3, LR / 4, lambda c, i: 0.05 ** (i / n)),
        Length(4, 6),
    ),
]


@pytest.mark.parametrize("case", CASES + STARTING_LOW_CASES, ids=lambda case: case.id)
def test_family_follows_its_closed_form(case: Case) -> None:
    run = drive(case.schedule, case.values, case.length, losses=case.losses)
    total = case.length.total_steps
    assert run.used == close([case.expected(t, 0, total) for t in range(total)])
    if case.final is not None:
        assert run.final == close(case.final())


WARMUP_RATIO = 0.15


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_family_after_a_warmup_follows_its_closed_form(case: Case) -> None:
    run = drive(
        case.schedule, case.values, case.length, warmup_ratio=WARMUP_RATIO, losses=case.losses
    )
    total = case.length.total_steps
    warm = max(1, round(WARMUP_RATIO * total))
    climb = [LR * (WARMUP_START_FACTOR + (1 - WARMUP_START_FACTOR) * t / warm) for t in range(warm)]
    assert run.used[:warm] == close(climb)
    rest = [case.expected(t, warm, total) for t in range(warm, total)]
    assert run.used[warm:] == close(rest)
    if case.final is not None:
        assert run.final == close(case.final())


def test_every_family_has_a_closed_form_case() -> None:
    assert {case.schedule for case in CASES + STARTING_LOW_CASES} == set(SCHEDULES)


@pytest.mark.parametrize(
    ("anneal", "pct", "div", "final_div"), [("cos", 0.3, 25.0, 1e4), ("linear", 0.25, 10.0, 100.0)]
)
def test_onecycle_rises_to_the_lr_then_anneals_far_below_the_start(
    anneal: str, pct: float, div: float, final_div: float
) -> None:
    values = {"anneal_strategy": anneal, "pct_start": pct, "div_factor": div}
    values["final_div_factor"] = final_div
    run = drive("onecycle", values, TWENTY)
    peak = run.used.index(max(run.used))
    assert run.used[0] == close(LR / div)
    assert max(run.used) == close(LR)
    assert abs(peak - pct * 20) <= 1
    assert run.used[-1] == close(LR / (div * final_div))
    assert run.used == close([one_cycle(t, 20, pct, div, final_div, anneal) for t in range(20)])


def one_cycle(t: int, total: int, pct: float, div: float, final_div: float, anneal: str) -> float:
    """OneCycleLR's two phases: the rise ends at step ``pct * total - 1``, the fall at the end."""
    start, end = LR / div, LR / div / final_div
    rise_end = pct * total - 1
    if t <= rise_end:
        return interpolate(start, LR, t / rise_end, anneal)
    return interpolate(LR, end, (t - rise_end) / (total - 1 - rise_end), anneal)


def interpolate(a: float, b: float, x: float, anneal: str) -> float:
    if anneal == "linear":
        return a + (b - a) * x
    return b + (a - b) * (1 + math.cos(math.pi * x)) / 2


SHAPES = [
    ("exponential", {}),
    ("step", {"step_ratio": 0.25}),
    ("multistep", {"milestones": "0.5,0.75"}),
    ("cosine", {"eta_min_ratio": 0.05}),
    ("cosine_restarts", {"first_cycle_ratio": 1 / 3, "t_mult": 2}),
    ("cyclic", {"mode": "triangular2"}),
    ("polynomial", {"power": 2.0}),
]


@pytest.mark.parametrize(
    ("schedule", "values", "warmup_ratio"),
    [
        (schedule, values, warmup)
        for schedule, values in SHAPES
        for warmup in ((None, 0.125) if SCHEDULES.get(schedule).supports_warmup else (None,))
    ],
)
def test_the_same_values_give_the_same_shape_at_any_length(
    schedule: str, values: dict[str, Any], warmup_ratio: float | None
) -> None:
    short = drive(schedule, values, Length(4, 6), warmup_ratio=warmup_ratio).used
    long = drive(schedule, values, Length(12, 6), warmup_ratio=warmup_ratio).used
    # Every eighth of the run: steps 0, 3, 6, ... of 24 and 0, 9, 18, ... of 72.
    assert short[::3] == close(long[::9])


def test_plateau_patience_is_a_share_of_the_epochs() -> None:
    # A flat loss: the first epoch sets the best, a cut follows patience + 1 more.
    values = {"patience_ratio": 0.25}
    short = drive("plateau", values, Length(4, 1), losses=[1.0] * 4).used
    long = drive("plateau", values, Length(12, 1), losses=[1.0] * 12).used
    assert short == [LR] * 3 + [LR / 2]  # patience 1
    assert long == [LR] * 5 + [LR / 2] * 4 + [LR / 4] * 3  # patience 3


@pytest.mark.parametrize("epochs", [4, 12])
def test_onecycle_peaks_at_the_same_fraction_of_any_run(epochs: int) -> None:
    used = drive("onecycle", {"pct_start": 0.4}, Length(epochs, 5)).used
    peak = used.index(max(used))
    assert abs(peak - 0.4 * len(used)) <= 1
