"""How refine spends its budget: rungs, survivors and the cost they add up to."""

from __future__ import annotations

import math

import pytest

from lrtune.refine import plan
from lrtune.refine._plan import MIN_FIRST_RUNG, survivors


@pytest.mark.parametrize("planned", [150, 184, 1000, 12_345])
@pytest.mark.parametrize("budget", [0.8, 1.5, 3.0])
def test_the_plan_never_spends_more_than_the_budget(planned: int, budget: float) -> None:
    steps = 100 if budget * planned > 400 else 40
    found = plan(planned, budget, steps)

    assert found.cost_steps <= math.floor(budget * planned) == found.budget_steps
    assert found.rungs == tuple(sorted(set(found.rungs)))
    assert found.rungs[-1] <= planned


def test_each_rung_keeps_half_until_a_winner_is_left() -> None:
    found = plan(1000, 1.5, 100, candidates=8, eta=2)

    assert found.alive == (8, 4, 2)
    assert found.keep == (4, 2, 1)
    assert found.rungs[1] == 2 * found.rungs[0] and found.rungs[2] == 4 * found.rungs[0]
    # 8 runs to r, 4 from r to 2r, 2 from 2r to 4r: 16 r steps in all.
    assert found.search_steps == 16 * found.rungs[0]
    assert found.budget_steps - found.cost_steps < 16


def test_a_budget_beyond_use_stops_the_last_rung_at_a_full_training() -> None:
    found = plan(100, 50.0, 20)

    assert found.rungs[-1] == 100


@pytest.mark.parametrize("candidates, expected", [(8, (8, 4, 2)), (6, (6, 3)), (2, (2,))])
def test_survivors_halve_down_to_two(candidates: int, expected: tuple[int, ...]) -> None:
    assert survivors(candidates, 2) == expected


@pytest.mark.parametrize("budget", [0, -1.0, math.nan, math.inf, True, "1.5"])
def test_a_budget_that_is_not_a_positive_number_is_refused(budget: object) -> None:
    with pytest.raises(ValueError, match="budget"):
        plan(1000, budget, 100)  # type: ignore[arg-type]


def test_a_budget_the_range_test_uses_up_is_refused_with_the_least_that_works() -> None:
    with pytest.raises(ValueError, match=r"refine needs at least budget=") as caught:
        plan(200, 0.6, 100)

    needed = float(str(caught.value).rsplit("budget=", 1)[1].rstrip("."))
    assert plan(200, needed, 100).rungs[0] >= MIN_FIRST_RUNG


@pytest.mark.parametrize("candidates", [1, 0, -4, 2.0, True, "8"])
def test_fewer_than_two_candidates_or_a_non_integer_is_refused(candidates: object) -> None:
    with pytest.raises(ValueError, match="candidates must be an integer of at least 2"):
        plan(1000, 1.5, 100, candidates=candidates)  # type: ignore[arg-type]


@pytest.mark.parametrize("candidates", [2, 3, 4, 6, 8, 16])
def test_fewer_candidates_train_further_within_the_same_budget(candidates: int) -> None:
    refine_plan = plan(1000, 1.5, 100, candidates=candidates)

    assert refine_plan.cost_steps <= refine_plan.budget_steps
    assert refine_plan.alive[0] == candidates and refine_plan.keep[-1] == 1
    if candidates > 2:
        fewer = plan(1000, 1.5, 100, candidates=max(2, candidates // 2))
        assert fewer.rungs[-1] >= refine_plan.rungs[-1]
