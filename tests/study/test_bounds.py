"""The LR range a study searches, from a range test's bounds and interval."""

from __future__ import annotations

import pytest

from lrtune.study._bounds import bounds_from_result

from ..storage.conftest import build_result


def test_the_margin_sets_the_range_when_it_holds_the_interval() -> None:
    result = build_result(50, min_lr=1e-3, max_lr=4e-3, lr_interval=(5e-4, 2e-3))

    bounds = bounds_from_result(result, "adamw", (10.0, 2.0))

    assert (bounds.low, bounds.high) == pytest.approx((1e-4, 8e-3))


def test_the_range_widens_to_hold_the_whole_interval() -> None:
    # A long SGD run: the best constant LR likely sits far below the range test's bounds.
    result = build_result(50, min_lr=1e-2, max_lr=4e-2, lr_interval=(2e-4, 5e-2))

    bounds = bounds_from_result(result, "sgd", (10.0, 2.0))

    assert (bounds.low, bounds.high) == pytest.approx((2e-4, 8e-2))
    below = bounds_from_result(
        build_result(50, min_lr=1e-2, max_lr=4e-2, lr_interval=(1e-2, 0.5)), "sgd", (10.0, 2.0)
    )
    assert (below.low, below.high) == pytest.approx((1e-3, 0.5))


def test_without_an_interval_the_margin_alone_sets_the_range() -> None:
    result = build_result(50, min_lr=1e-3, max_lr=4e-3, lr_interval=None)

    bounds = bounds_from_result(result, "adamw", (3.0, 3.0))

    assert (bounds.low, bounds.high) == pytest.approx((1e-3 / 3, 1.2e-2))
