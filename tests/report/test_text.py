"""How a range test's end reads: the normal end of a sweep, with the plotted numbers."""

from __future__ import annotations

import pytest

from lrtune.examples import load_example
from lrtune.finder import FinderResult, find_lr_for_task, smoothed_curve
from lrtune.report import fmt, result_details, stop_label, stop_text, suggestion_table


@pytest.fixture(scope="module")
def rose() -> FinderResult:
    result = find_lr_for_task(load_example("digits-mlp"), "sgd", num_iter=100, device="cpu")
    assert result.stop_reason.value == "diverged"
    return result


def test_a_rising_loss_reads_as_the_sweeps_normal_end(rose: FinderResult) -> None:
    text = stop_text(rose)
    assert text.startswith("the loss rose past 4x its lowest, as expected at high")
    assert "diverged" not in text and "diverged" not in suggestion_table([rose])
    assert "loss rose" in suggestion_table([rose])
    assert f"stopped:       {text}" in result_details(rose)


def test_its_numbers_are_the_plotted_curves(rose: FinderResult) -> None:
    lrs = rose.history["lr"].to_numpy()
    curve = smoothed_curve(lrs, rose.history["loss"].to_numpy())
    low = int(curve.argmin())
    text = stop_text(rose)
    assert f"lowest {fmt(curve[low])} at lr {fmt(lrs[low])}" in text
    assert f"{fmt(curve[-1])} at lr {fmt(lrs[-1])})" in text


def test_the_other_ends_are_named_plainly() -> None:
    result = find_lr_for_task(
        load_example("digits-mlp"), "sgd", num_iter=20, end_lr=1e-3, device="cpu"
    )
    assert result.stop_reason.value == "completed"
    assert stop_text(result) == "ran all 20 steps"
    assert stop_label("non_finite") == "loss not finite"
