"""``DivergenceCheck``: the ratio test for positive losses, a distance test otherwise."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from lrtune.finder._stopping import DivergenceCheck


def verdicts(values: Sequence[float], threshold: float = 4.0) -> list[bool]:
    check = DivergenceCheck(threshold)
    return [check(value) for value in values]


def test_positive_losses_diverge_past_threshold_times_the_best() -> None:
    assert verdicts([2.0, 1.0, 3.9, 4.0]) == [False, False, False, False]
    assert verdicts([2.0, 1.0, 4.1]) == [False, False, True]


def test_the_best_is_the_lowest_value_so_far() -> None:
    check = DivergenceCheck(2.0)
    assert [check(v) for v in [3.0, 0.5, 0.9, 1.1]] == [False, False, False, True]
    assert check.best == 0.5


@pytest.mark.parametrize(
    ("values", "boundary"),
    [
        # best -3, fallen 2 from the start: scale 3, so rising 3 * 3 = 9 above -3 diverges.
        ([-1.0, -2.0, -3.0], 6.0),
        # best -0.5, fallen 1.5 from the start: scale 1.5, rising 4.5 above -0.5 diverges.
        ([1.0, -0.5], 4.0),
        # best exactly 0, fallen 1: scale 1.
        ([1.0, 0.0], 3.0),
        # Never fell and sits at -5: scale |best| = 5.
        ([-5.0, -5.0], 10.0),
    ],
)
def test_negative_or_zero_best_diverges_by_distance(values: list[float], boundary: float) -> None:
    assert verdicts([*values, boundary - 0.01]) == [False] * (len(values) + 1)
    assert verdicts([*values, boundary + 0.01])[-1] is True


def test_a_falling_negative_loss_never_diverges() -> None:
    assert not any(verdicts([-0.1 * i for i in range(1, 200)]))


def test_a_loss_stuck_at_zero_never_diverges() -> None:
    assert not any(verdicts([0.0] * 50))


def test_threshold_is_used_in_the_negative_branch_too() -> None:
    values = [-1.0, -2.0, -3.0, 2.0]  # 5 above the best; scale 3
    assert verdicts(values, threshold=2.0)[-1] is True  # allowed 1 * 3
    assert verdicts(values, threshold=3.0)[-1] is False  # allowed 2 * 3


@pytest.mark.parametrize("threshold", [1.0, 0.5, -2.0])
def test_a_threshold_of_one_or_less_is_rejected(threshold: float) -> None:
    with pytest.raises(ValueError, match="diverge_threshold"):
        DivergenceCheck(threshold)
