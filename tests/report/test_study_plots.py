"""Study figures draw exactly the data they are given, and say so when there is none."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from lrtune.report import (
    EpochCurves,
    History,
    Importances,
    IntermediateGrid,
    ParallelCoordinates,
    ParamSlice,
    Slices,
    StudyObjective,
    Timeline,
    TopTrial,
    epoch_curves,
    plot_best_by,
    plot_epoch_curves,
    plot_history,
    plot_importances,
    plot_intermediate_grid,
    plot_parallel_coordinates,
    plot_slices,
    plot_timeline,
    plot_top_trials,
    write_report,
)
from lrtune.report._study_data import FEW_TRIALS, history_scale, importances_caveat
from lrtune.report._study_plots import DENSE, REPORT_FILES, STUDY_FIGURES, TOP_FONT_SIZE

LOSS = StudyObjective("val_loss", "minimize")


def texts(ax: Axes) -> list[str]:
    return [text.get_text() for text in ax.texts]


def bars(ax: Axes) -> list[Rectangle]:
    return [patch for patch in ax.patches if isinstance(patch, Rectangle)]


def top(number: int, value: float, lr: float) -> TopTrial:
    lrs = [lr, lr / 2, lr / 4]
    low = [lr / 2, lr / 4, lr / 8]
    label = f"#{number} sgd + cosine"
    return TopTrial(number, value, label, [1, 2, 3], [1.0, 0.8, value], lrs, low, lrs)


def test_plot_history_draws_each_value_and_the_best_so_far() -> None:
    info = History([0, 2, 3], [0.5, 0.7, 0.2], [0.5, 0.5, 0.2], LOSS)
    figure = plot_history(info)
    (ax,) = figure.axes
    points, best = ax.get_lines()
    assert list(points.get_xdata()) == [0, 2, 3] and list(points.get_ydata()) == [0.5, 0.7, 0.2]
    # A step line: the best holds until the next improvement.
    assert list(best.get_ydata()) == [0.5, 0.5, 0.2]
    assert best.get_drawstyle() == "steps-post"
    assert ax.get_ylabel() == "val_loss"


def test_plot_best_by_draws_one_bar_per_group_the_best_on_top() -> None:
    table = pd.DataFrame(
        {
            "best": [0.2, 0.4, np.nan],
            "trial": pd.array([3, 1, pd.NA], dtype="Int64"),
            "complete": [2, 1, 0],
            "pruned": [0, 1, 2],
            "trials": [2, 2, 2],
        },
        index=pd.Index(["adamw", "sgd", "adam"], name="optimizer"),
    )
    (ax,) = plot_best_by(table, LOSS).axes
    drawn = bars(ax)
    assert [b.get_width() for b in drawn] == [0.4, 0.2]  # bottom to top; "adam" has no best
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sgd", "adamw"]
    assert any("#3; 2 complete, 0 pruned, 2 in all" in t for t in texts(ax))
    assert "by optimizer" in ax.get_title()


def test_plot_top_trials_draws_the_lr_band_and_the_curves() -> None:
    tops = [top(4, 0.1, 0.3), top(2, 0.3, 0.01)]
    lr_ax, value_ax = plot_top_trials(tops, LOSS).axes
    for line, trial in zip(lr_ax.get_lines(), tops, strict=True):
        assert list(line.get_ydata()) == trial.lr_mean
    assert len(lr_ax.collections) == 2  # one low-high band per trial
    band = lr_ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(min(tops[0].lr_low))
    assert band[:, 1].max() == pytest.approx(max(tops[0].lr_high))
    assert lr_ax.get_yscale() == "log"
    for line, trial in zip(value_ax.get_lines(), tops, strict=True):
        assert list(line.get_ydata()) == trial.values
        assert line.get_label().startswith(trial.label)


def test_plot_importances_draws_the_largest_on_top() -> None:
    info = Importances({"log10_lr": 0.7, "schedule": 0.2, "optimizer": 0.1}, None)
    (ax,) = plot_importances(info).axes
    assert [b.get_width() for b in bars(ax)] == [0.1, 0.2, 0.7]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["optimizer", "schedule", "log10_lr"]


def test_figures_without_data_say_so() -> None:
    empty_table = pd.DataFrame(
        {"best": [], "trial": [], "complete": [], "pruned": [], "trials": []},
        index=pd.Index([], name="schedule"),
    )
    axes = [
        *plot_history(History([], [], [], LOSS)).axes,
        *plot_best_by(empty_table, LOSS).axes,
        *plot_top_trials([], LOSS).axes,
    ]
    for ax in axes:
        assert texts(ax) == ["no completed trials yet"]
        assert not ax.get_lines()
    (ax,) = plot_importances(Importances({}, "Every completed trial reached the same value.")).axes
    assert texts(ax) == ["Every completed trial reached the same value."]


def test_plots_draw_into_a_given_axes() -> None:
    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert plot_history(History([0], [1.0], [1.0], LOSS), ax=left) is figure
    assert plot_importances(Importances({"schedule": 1.0}, None), ax=right) is figure
    assert left.get_lines() and bars(right)


def check_pngs(paths: list[Path], directory: Path) -> None:
    assert paths == [directory / name for name in REPORT_FILES]
    for path in paths:
        assert path.stat().st_size > 0
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_write_report_writes_every_png(real_study: optuna.Study, tmp_path: Path) -> None:
    directory = tmp_path / "new" / "report"
    check_pngs(write_report(real_study, directory, top=3), directory)


def test_write_report_of_a_study_without_completed_trials(tmp_path: Path) -> None:
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    check_pngs(write_report(study, tmp_path), tmp_path)


def test_plot_epoch_curves_draws_every_trial_and_the_best_thick() -> None:
    info = EpochCurves(
        numbers=[0, 1, 2],
        states=["COMPLETE", "PRUNED", "COMPLETE"],
        epochs=[[1, 2, 3], [1], [1, 2, 3]],
        values=[[1.0, 0.6, 0.5], [2.0], [1.1, 0.7, 0.4]],
        best=2,
        objective=LOSS,
    )
    (ax,) = plot_epoch_curves(info).axes
    faint, complete = ax.collections
    assert [segment.tolist() for segment in faint.get_segments()] == [[[1, 2.0]]]
    assert len(complete.get_segments()) == 2
    (best,) = ax.get_lines()
    assert best.get_ydata().tolist() == [1.1, 0.7, 0.4] and best.get_label() == "best: #2"
    low, high = ax.get_ylim()
    assert low < 0.5 and high > 1.1  # every completed value in view


def test_epoch_curves_of_a_real_study(real_study: optuna.Study) -> None:
    info = epoch_curves(real_study)
    reported = [t for t in real_study.trials if t.intermediate_values]
    assert info.numbers == [t.number for t in reported]
    assert info.best == real_study.best_trial.number
    index = info.numbers.index(info.best)
    assert info.values[index][-1] == real_study.best_value
    texts_of_empty = texts(plot_epoch_curves(info._replace(numbers=[], states=[])).axes[0])
    assert texts_of_empty == ["no trial has finished an epoch yet"]


def test_the_report_writes_one_png_per_study_figure(
    real_study: optuna.Study, tmp_path: Path
) -> None:
    paths = write_report(real_study, tmp_path)
    assert [p.name for p in paths] == [f"{name}.png" for name in STUDY_FIGURES]


def parallel(count: int) -> ParallelCoordinates:
    values = [float(i) for i in range(count)]
    columns = [[i / max(count - 1, 1) for i in range(count)], [0.5] * count]
    ticks = [[(0.0, "-4"), (1.0, "-1")], [(0.5, "sgd")]]
    return ParallelCoordinates(
        ["log10_lr", "optimizer"], columns, ticks, list(range(count)), values, LOSS
    )


def test_plot_parallel_coordinates_draws_a_line_per_trial_across_the_axes() -> None:
    figure = plot_parallel_coordinates(parallel(3))
    ax = figure.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [segment.tolist() for segment in lines.get_segments()] == [
        [[0.0, 0.0], [1.0, 0.5]],
        [[0.0, 0.5], [1.0, 0.5]],
        [[0.0, 1.0], [1.0, 0.5]],
    ]
    assert lines.get_array().tolist() == [0.0, 1.0, 2.0]  # coloured by value
    assert [t.get_text() for t in ax.get_xticklabels()] == ["log10_lr", "optimizer"]
    assert {t.get_text() for t in ax.texts} == {"-4", "-1", "sgd"}
    assert not lines.get_rasterized()
    assert plot_parallel_coordinates(parallel(DENSE)).axes[0].collections[0].get_rasterized()


def test_plot_slices_draws_a_panel_per_parameter() -> None:
    info = Slices(
        [
            ParamSlice("optimizer", [0.0, 1.0], ["adamw", "sgd"]),
            ParamSlice("log10_lr", [-3.0, -2.0], None),
        ],
        [0, 1],
        [0.4, 0.2],
        LOSS,
    )
    first, second = plot_slices(info).axes[:2]
    for ax, xs in ((first, [0.0, 1.0]), (second, [-3.0, -2.0])):
        (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert points.get_offsets().tolist() == [[xs[0], 0.4], [xs[1], 0.2]]
    assert [t.get_text() for t in first.get_xticklabels()] == ["adamw", "sgd"]
    assert second.get_xlabel() == "log10_lr"


def test_plot_intermediate_grid_draws_the_grid_as_one_image() -> None:
    info = IntermediateGrid([0, 1], [1, 2], [[0.9, 0.5], [1.2, float("nan")]], LOSS)
    ax = plot_intermediate_grid(info).axes[0]
    (image,) = ax.images
    drawn = np.ma.getdata(image.get_array())
    assert drawn[0].tolist() == [0.9, 1.2]  # a row per step, a column per trial
    assert drawn[1][0] == 0.5 and np.isnan(drawn[1][1])
    assert image.get_extent() == [-0.5, 1.5, 0.5, 2.5]


def test_plot_timeline_draws_a_bar_per_trial_on_its_workers_row() -> None:
    t0 = datetime(2026, 1, 1, 12, 0)
    info = Timeline(
        ["a / cpu", "b / cuda:0"],
        [0, 1, 2],
        [1, 0, 1],
        [t0, t0, t0 + timedelta(minutes=5)],
        [t0 + timedelta(minutes=5), t0 + timedelta(minutes=2), t0 + timedelta(minutes=8)],
        ["COMPLETE", "PRUNED", "COMPLETE"],
    )
    ax = plot_timeline(info).axes[0]
    bars = {c.get_label(): c for c in ax.collections if isinstance(c, PolyCollection)}
    assert set(bars) == {"complete", "pruned"}
    rows = [
        np.ptp(p.vertices[:, 1]) / 2 + p.vertices[:, 1].min() for p in bars["complete"].get_paths()
    ]
    assert rows == pytest.approx([1.0, 1.0])  # both on worker b's row
    spans = [np.ptp(p.vertices[:, 0]) * 24 * 60 for p in bars["complete"].get_paths()]
    assert spans == pytest.approx([5.0, 3.0])  # minutes, start to end
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a / cpu", "b / cuda:0"]


def test_new_figures_without_data_say_so() -> None:
    objective = LOSS
    empty = [
        plot_parallel_coordinates(ParallelCoordinates([], [], [], [], [], objective)),
        plot_slices(Slices([], [], [], objective)),
        plot_intermediate_grid(IntermediateGrid([], [], [], objective)),
        plot_timeline(Timeline([], [], [], [], [], [])),
    ]
    said = [texts(figure.axes[0]) for figure in empty]
    assert said == [
        ["no completed trials yet"],
        ["no completed trials yet"],
        ["no trial has reported a value yet"],
        ["no trial has started yet"],
    ]


def test_history_scale_turns_log_for_positive_values_with_outliers() -> None:
    steady = [0.30, 0.25, 0.28, 0.22, 0.26, 0.21, 0.24, 0.20, 0.23, 0.27]
    assert history_scale(steady) == "linear"
    assert history_scale([*steady, 40.0]) == "log"  # one diverged trial
    assert history_scale([*steady, -40.0]) == "linear"  # not all positive
    assert history_scale([*steady[:-1], 0.0, 40.0]) == "linear"
    assert history_scale([0.1, 50.0]) == "linear"  # too few to tell an outlier
    assert history_scale(list(np.linspace(0.1, 10.0, 20))) == "linear"  # spread, no outlier


def test_plot_history_uses_a_log_axis_when_outliers_would_squash_it() -> None:
    values = [0.3, 0.25, 0.28, 0.22, 0.26, 0.21, 0.24, 0.2, 0.23, 40.0]
    best = list(np.minimum.accumulate(values))
    (ax,) = plot_history(History(list(range(10)), values, best, LOSS)).axes
    assert ax.get_yscale() == "log"
    shifted = [v - 1.0 for v in values]
    (ax,) = plot_history(History(list(range(10)), shifted, best, LOSS)).axes
    assert ax.get_yscale() == "linear"
    ax.figure.savefig(io.BytesIO(), format="png")


def test_importances_from_few_trials_say_so_on_the_figure() -> None:
    values = {"log10_lr": 0.7, "schedule": 0.3}
    few = Importances(values, None, "ped_anova", FEW_TRIALS - 1)
    enough = Importances(values, None, "ped_anova", FEW_TRIALS)
    assert importances_caveat(few) == f"From only {FEW_TRIALS - 1} completed trials: a rough guide."
    assert importances_caveat(enough) is None
    assert importances_caveat(Importances({}, "none", "ped_anova", 1)) is None
    (ax,) = plot_importances(few).axes
    assert importances_caveat(few) in texts(ax)
    (ax,) = plot_importances(enough).axes
    assert not any("rough guide" in text for text in texts(ax))
    ax.figure.savefig(io.BytesIO(), format="png")


def test_top_trials_text_is_readable() -> None:
    figure = plot_top_trials([top(4, 0.1, 0.3), top(2, 0.3, 0.01)], LOSS)
    figure.savefig(io.BytesIO(), format="png")
    for ax in figure.axes:
        legend = ax.get_legend()
        shown = [
            ax.xaxis.label,
            ax.yaxis.label,
            *ax.get_xticklabels(),
            *ax.get_yticklabels(),
            *legend.get_texts(),
        ]
        assert min(text.get_fontsize() for text in shown) >= TOP_FONT_SIZE
        assert ax.title.get_fontsize() > TOP_FONT_SIZE
