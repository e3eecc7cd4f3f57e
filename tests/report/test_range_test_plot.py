"""Range-test figures: the numbers in ``CurveInfo``, then what the figure draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import lrtune.report
from lrtune.finder import DEFAULT_RULE, FinderResult, StopReason
from lrtune.finder._smoothing import ema
from lrtune.finder._suggest import smoothed_curve
from lrtune.report import CurveInfo, curve_info, plot_range_tests
from lrtune.report._range_test_plot import (
    LINE_STYLES,
    curve_styles,
    legend_label,
    shared_rule,
    y_limits,
)


def make_result(
    seed: int = 0, *, optimizer: str = "SGD", task: str | None = None, rising: bool = False
) -> FinderResult:
    """A result with a noisy descent and an explosion (or only a rise), suggestion set."""
    lrs = np.geomspace(1e-6, 10.0, 100)
    x = np.log10(lrs)
    if rising:
        clean = 1.0 + 0.3 * (x + 6.0)
    else:
        clean = 0.5 + 2.0 / (1.0 + np.exp(2.5 * (x + 3.5))) + 0.2 * np.exp(4.0 * (x + 0.5))
    losses = clean + np.random.default_rng(seed).normal(0.0, 0.03, len(lrs))
    history = pd.DataFrame({"lr": lrs, "loss": losses, "smoothed_loss": ema(losses, 0.98)})
    result = FinderResult(
        history=history,
        suggested_lr=None,
        min_lr=None,
        max_lr=None,
        stop_reason=StopReason.COMPLETED,
        stop_detail="Completed all 100 steps.",
        rule=DEFAULT_RULE,
        optimizer=optimizer,
        task=task,
    )
    suggestion = result.suggest()
    result.suggested_lr, result.min_lr, result.max_lr = (
        suggestion.lr,
        suggestion.min_lr,
        suggestion.max_lr,
    )
    return result


def _markers(lines: list[Line2D]) -> list[Line2D]:
    return [line for line in lines if line.get_marker() == "o"]


# --- the numbers ---------------------------------------------------------------------


def test_curve_info_holds_the_raw_and_zero_phase_curves() -> None:
    result = make_result(task="toy")
    lrs, losses = result.history["lr"].to_numpy(), result.history["loss"].to_numpy()

    info = curve_info(result)

    assert info.label == "toy/SGD"
    np.testing.assert_array_equal(info.lrs, lrs)
    np.testing.assert_array_equal(info.losses, losses)
    np.testing.assert_array_equal(info.curve, smoothed_curve(lrs, losses))
    assert info.bounds == (result.min_lr, result.max_lr)


def test_suggested_point_lies_on_the_smoothed_curve() -> None:
    result = make_result()
    on_grid = make_result()
    on_grid.suggested_lr = float(on_grid.history["lr"][37])

    info, grid_info = curve_info(result), curve_info(on_grid)

    assert grid_info.suggested == (on_grid.suggested_lr, grid_info.curve[37])
    assert info.suggested is not None and info.suggested[0] == result.suggested_lr
    right = int(np.searchsorted(info.lrs, result.suggested_lr))
    assert info.lrs[right - 1] < result.suggested_lr < info.lrs[right]  # between two points
    low, high = sorted(info.curve[right - 1 : right + 1])
    assert low <= info.suggested[1] <= high


def test_y_limits_show_the_descent_but_cut_off_the_explosion() -> None:
    info = curve_info(make_result())

    limits = y_limits([info])

    assert limits is not None
    low, high = limits
    assert low < info.curve.min() and high > info.curve[0]
    assert info.losses[-10:].min() > high  # the explosion runs off the top
    lowest = int(np.argmin(info.curve))
    assert ((info.losses[:lowest] > low) & (info.losses[:lowest] < high)).mean() > 0.9


def test_y_limits_top_is_set_by_where_the_curve_starts() -> None:
    lrs = np.geomspace(1e-5, 1.0, 50)
    curve = np.r_[np.full(5, 2.0), np.linspace(2.0, 0.5, 30), np.linspace(0.5, 9.0, 15)]
    info = CurveInfo("x", lrs, curve, curve, None, None)

    low, high = y_limits([info])  # type: ignore[misc]

    assert high == pytest.approx(2.0 + 0.08 * 1.5)
    assert low == pytest.approx(0.5 - 0.08 * 1.5)


def test_y_limits_cover_every_curve() -> None:
    first, second = curve_info(make_result(0)), curve_info(make_result(1, rising=True))

    low, high = y_limits([first, second])  # type: ignore[misc]

    assert low < min(first.curve.min(), second.curve.min())
    assert high > max(first.curve[0], second.curve[0])


def test_a_result_without_a_suggestion_has_no_marks() -> None:
    result = make_result(rising=True)
    assert result.suggested_lr is None

    info = curve_info(result)
    axes = result.plot().axes[0]

    assert info.suggested is None and info.bounds is None
    assert _markers(axes.get_lines()) == [] and len(axes.patches) == 0


def test_an_empty_history_still_plots() -> None:
    result = make_result()
    result.history = result.history.iloc[:0]
    result.suggested_lr = result.min_lr = result.max_lr = None

    info = curve_info(result)

    assert isinstance(info, CurveInfo) and len(info.curve) == 0
    assert y_limits([info]) is None
    assert isinstance(result.plot(), Figure)


def test_legend_label_names_the_result_its_lr_and_bounds() -> None:
    result = make_result(task="toy")
    result.suggested_lr, result.min_lr, result.max_lr = 0.0123, 0.0456, 0.1789
    bare = make_result(rising=True)

    assert legend_label(curve_info(result)) == "toy/SGD: lr 0.012 (lrtune), bounds 0.046-0.18"
    assert legend_label(curve_info(bare)) == "SGD"


# --- the figure ----------------------------------------------------------------------


def test_plot_returns_a_figure_with_one_log_scaled_axes() -> None:
    figure = make_result().plot()

    assert isinstance(figure, Figure)
    assert len(figure.axes) == 1
    assert figure.axes[0].get_xscale() == "log"


def test_plot_draws_raw_and_smoothed_curves_and_marks_the_suggestion() -> None:
    result = make_result()
    info = curve_info(result)

    axes = result.plot().axes[0]

    lines = axes.get_lines()
    raw = [line for line in lines if np.array_equal(line.get_ydata(), info.losses)]
    smooth = [line for line in lines if np.array_equal(line.get_ydata(), info.curve)]
    assert len(raw) == 1 and len(smooth) == 1
    np.testing.assert_array_equal(raw[0].get_xdata(), info.lrs)
    assert smooth[0].get_linewidth() > raw[0].get_linewidth()
    (marker,) = _markers(lines)
    assert info.suggested is not None
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == info.suggested
    assert smooth[0].get_label() == f"SGD: lr {result.suggested_lr:.2g} (lrtune), bounds " + (
        f"{result.min_lr:.2g}-{result.max_lr:.2g}"
    )
    assert axes.get_ylim() == pytest.approx(y_limits([info]))


def test_a_single_result_shades_its_bounds() -> None:
    result = make_result()

    axes = result.plot().axes[0]

    (span,) = axes.patches
    assert span.get_x() == pytest.approx(result.min_lr)
    assert span.get_x() + span.get_width() == pytest.approx(result.max_lr)
    legend = axes.get_legend()
    texts = [text.get_text() for text in legend.get_texts()]
    assert texts == [legend_label(curve_info(result)), "min_lr .. max_lr"]


def test_several_results_are_overlaid_with_a_legend_entry_each() -> None:
    results = [
        make_result(0, optimizer="SGD"),
        make_result(1, optimizer="AdamW"),
        make_result(2, optimizer="AdamW", task="other"),
    ]

    figure = plot_range_tests(results)

    (axes,) = figure.axes
    entries = [text.get_text() for text in axes.get_legend().get_texts()]
    legend = entries[::2]
    assert legend == [legend_label(curve_info(result)) for result in results]
    assert entries[1::2] == [f"{label.split(':')[0]}: min_lr .. max_lr" for label in legend]
    assert [text.split(":")[0] for text in legend] == ["SGD", "AdamW", "other/AdamW"]
    labelled = [line for line in axes.get_lines() if line.get_label() in legend]
    assert [line.get_color() for line in labelled] == ["C0", "C1", "C2"]
    assert len(_markers(axes.get_lines())) == 3
    assert len(axes.patches) == 0  # bounds become dotted lines, not overlapping shades
    bound_lines = [line for line in axes.get_lines() if line.get_linestyle() == ":"]
    assert sorted(line.get_xdata()[0] for line in bound_lines) == pytest.approx(
        sorted(bound for r in results for bound in (r.min_lr, r.max_lr))
    )


def test_curve_styles_are_pairwise_distinct() -> None:
    styles = curve_styles(8)
    assert len({(s.linestyle, s.marker) for s in styles}) == 8
    assert [s.color for s in curve_styles(10)] == [f"C{i}" for i in range(10)]
    assert styles[0].linestyle == "-" and styles[0].marker == ""
    assert [s.linestyle for s in styles[:4]] == list(LINE_STYLES)


def test_identical_curves_are_drawn_apart() -> None:
    results = [make_result(0), make_result(0)]

    (axes,) = plot_range_tests(results).axes

    labelled = [line for line in axes.get_lines() if line.get_linewidth() == 2]
    assert len(labelled) == 2
    first, second = labelled
    np.testing.assert_array_equal(first.get_ydata(), second.get_ydata())
    assert first.get_linestyle() != second.get_linestyle()
    assert first.get_marker() != second.get_marker()


def test_the_rule_of_the_marked_suggestion_is_named() -> None:
    result = make_result()
    result.rule = "valley"
    result.suggested_lr = result.suggest("valley").lr
    info = curve_info(result)

    (axes,) = result.plot().axes

    assert shared_rule([info]) == "valley"
    assert "valley" in axes.get_title()
    assert "(valley)" in legend_label(info)
    other = make_result(1)
    assert shared_rule([info, curve_info(other)]) is None
    assert "rule" not in plot_range_tests([result, other]).axes[0].get_title()


def test_plot_draws_into_the_axes_it_is_given() -> None:
    figure = Figure()
    left, right = figure.subplots(1, 2)

    returned = make_result().plot(ax=right)

    assert returned is figure
    assert left.get_lines() == [] and len(right.get_lines()) >= 3
    assert right.get_xscale() == "log" and left.get_xscale() == "linear"


def test_report_all_is_complete_and_sorted() -> None:
    public = {
        name
        for name, value in vars(lrtune.report).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("lrtune")
    }
    assert public <= set(lrtune.report.__all__)
    assert all(getattr(lrtune.report, name) is not None for name in lrtune.report.__all__)
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    order = sorted(lrtune.report.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert lrtune.report.__all__ == order
