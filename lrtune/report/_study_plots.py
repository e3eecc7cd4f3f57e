"""Study figures: each function draws data from ``_study_data`` and computes nothing.

A figure with nothing to show says so in its middle ("no completed trials yet") rather
than failing, so a report can be written while a study is still starting. Figures of
many trials draw their dense parts (hundreds of lines or markers) as one embedded image
(``rasterized``): an SVG of every line of 10,000 trials would weigh megabytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.collections import Collection, LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lrtune.report._range_test_plot import _root_figure
from lrtune.report._study_data import (
    IMPORTANCE_LABELS,
    EpochCurves,
    History,
    Importances,
    IntermediateGrid,
    ParallelCoordinates,
    Slices,
    StudyObjective,
    StudyReport,
    Timeline,
    TopTrial,
    axis_scale,
    check_has_trials,
    history_scale,
    importances_caveat,
)
from lrtune.report._text import fmt

if TYPE_CHECKING:
    import optuna
    from matplotlib.axes import Axes

NO_TRIALS = "no completed trials yet"
NO_EPOCHS = "the trials recorded nothing per epoch"
TOP_FONT_SIZE = 11
"""The top-trials figure's text: two panels side by side are shown small on a page."""
DENSE = 200
"""From this many lines or markers on, an axes' data is drawn as an image in vector output."""


def plot_history(info: History, ax: Axes | None = None) -> Figure:
    """Each completed trial's value by trial number, and the best so far as a step line."""
    ax = _axes(ax)
    name, direction = info.objective
    ax.set_title(f"Optimization history ({direction} {name})")
    if not info.numbers:
        return _empty(ax, NO_TRIALS)
    (points,) = ax.plot(info.numbers, info.values, "o", alpha=0.6, label=f"trial {name}")
    _dense(points, len(info.numbers), smooth=True)
    ax.step(info.numbers, info.best, where="post", color="C1", linewidth=2, label="best so far")
    ax.set_yscale(history_scale(info.values))
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(name)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return _root_figure(ax)


def plot_epoch_curves(info: EpochCurves, ax: Axes | None = None) -> Figure:
    """Every trial's validation curve: completed ones in colour, pruned and others faint,
    the best trial's drawn thick."""
    ax = _axes(ax)
    ax.set_title(f"Validation {info.objective.name} per epoch, every trial")
    if not info.numbers:
        return _empty(ax, "no trial has finished an epoch yet")
    rows = list(zip(info.epochs, info.values, info.states, strict=True))
    for complete, style in ((False, _FAINT), (True, _COMPLETE)):
        lines = [_line(e, v) for e, v, state in rows if (state == "COMPLETE") is complete]
        collection = ax.add_collection(LineCollection(lines, **style))
        _dense(collection, len(rows))
    if info.best is not None:
        index = info.numbers.index(info.best)
        ax.plot(
            info.epochs[index],
            info.values[index],
            "o-",
            color="C1",
            linewidth=2.5,
            label=f"best: #{info.best}",
        )
        ax.legend(loc="best")
    _curve_limits(ax, info)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(info.objective.name)
    ax.grid(True, alpha=0.3)
    return _root_figure(ax)


def plot_best_by(table: pd.DataFrame, objective: StudyObjective, ax: Axes | None = None) -> Figure:
    """One bar per group of ``best_by`` output: its best value, trial and counts."""
    ax = _axes(ax)
    group = str(table.index.name or "group")
    ax.set_title(f"Best {objective.name} by {group} ({objective.direction})")
    shown = table[table["best"].notna()]
    if shown.empty:
        return _empty(ax, NO_TRIALS)
    names = [str(name) for name in shown.index][::-1]  # the best on top
    bars = ax.barh(names, shown["best"].to_numpy()[::-1], color="C0", alpha=0.8)
    labels = [_bar_label(row) for _, row in shown.iloc[::-1].iterrows()]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=8)
    ax.set_xlabel(objective.name)
    ax.margins(x=0.35)
    ax.grid(True, axis="x", alpha=0.3)
    return _root_figure(ax)


def plot_top_trials(tops: Sequence[TopTrial], objective: StudyObjective) -> Figure:
    """Left: each top trial's mean LR per epoch with its low-high band; right: its curve."""
    figure = Figure(figsize=(12, 5), layout="constrained")
    lr_ax, value_ax = figure.subplots(1, 2)
    lr_ax.set_title("Learning rate per epoch (band: lowest to highest)", fontsize=TOP_FONT_SIZE + 1)
    value_ax.set_title(f"{objective.name} per epoch (validation)", fontsize=TOP_FONT_SIZE + 1)
    if not tops:
        _empty(lr_ax, NO_TRIALS)
        _empty(value_ax, NO_TRIALS)
        return figure
    for index, top in enumerate(tops):
        _draw_top(lr_ax, value_ax, top, f"C{index % 10}")
    _decorate_top(lr_ax, value_ax, tops, objective.name)
    return figure


def plot_importances(info: Importances, ax: Axes | None = None) -> Figure:
    """A bar per parameter, the most important on top; the reason when there are none."""
    ax = _axes(ax)
    ax.set_title(f"Parameter importances ({IMPORTANCE_LABELS[info.method]})")
    if not info.values:
        return _empty(ax, info.reason or NO_TRIALS)
    names = list(info.values)[::-1]
    bars = ax.barh(names, [info.values[name] for name in names], color="C2", alpha=0.8)
    ax.bar_label(bars, labels=[f"{info.values[name]:.2f}" for name in names], padding=3)
    ax.set_xlabel("importance (the parameters' shares sum to 1)")
    caveat = importances_caveat(info)
    if caveat is not None:
        ax.text(0.98, 0.02, caveat, transform=ax.transAxes, ha="right", va="bottom", color="C3")
    ax.set_xlim(0, 1.1)
    ax.grid(True, axis="x", alpha=0.3)
    return _root_figure(ax)


def plot_parallel_coordinates(info: ParallelCoordinates) -> Figure:
    """A line per completed trial across the parameters' axes and the objective's,
    coloured by its value (the best darkest)."""
    ax = _axes(None)
    ax.set_title(f"Parallel coordinates ({info.objective.direction} {info.objective.name})")
    if not info.numbers:
        return _empty(ax, NO_TRIALS)
    xs = np.arange(len(info.names), dtype=np.float64)
    lines = [np.column_stack([xs, row]) for row in np.asarray(info.columns).T]
    collection = LineCollection(lines, cmap=_cmap(info.objective), alpha=0.5, linewidths=0.8)
    collection.set_array(np.asarray(info.values))
    collection.set_clim(*_percentiles(np.asarray(info.values, dtype=np.float64)))
    _dense(collection, len(lines))
    ax.add_collection(collection)
    _parallel_axes(ax, info, xs)
    ax.figure.colorbar(collection, ax=ax, label=info.objective.name)
    return _root_figure(ax)


def plot_slices(info: Slices) -> Figure:
    """One panel per parameter: each completed trial's objective against its value,
    coloured by trial number (later trials darker)."""
    count = max(len(info.params), 1)
    figure = Figure(figsize=(3.2 * count + 1, 4), layout="constrained")
    axes = figure.subplots(1, count, sharey=True, squeeze=False)[0]
    figure.suptitle(f"Slice plot ({info.objective.direction} {info.objective.name})")
    if not info.numbers:
        _empty(axes[0], NO_TRIALS)
        return figure
    for ax, param in zip(axes, info.params, strict=True):
        points = ax.scatter(param.x, info.values, c=info.numbers, cmap="Blues", s=10, alpha=0.6)
        _dense(points, len(info.numbers), smooth=True)
        _slice_axis(ax, param.name, param.choices)
    axes[0].set_ylabel(info.objective.name)
    figure.colorbar(points, ax=list(axes), label="trial")
    return figure


def plot_intermediate_grid(info: IntermediateGrid) -> Figure:
    """Every trial's intermediate values as one image: a column per trial, a row per
    step, the colour its value (blank where it reported none)."""
    ax = _axes(None)
    ax.set_title(f"Intermediate values ({info.objective.name}) per trial")
    if not info.numbers:
        return _empty(ax, "no trial has reported a value yet")
    grid = np.asarray(info.values, dtype=np.float64).T
    image = ax.imshow(
        grid,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap=_cmap(info.objective),
        extent=_grid_extent(info),
    )
    image.set_clim(*_percentiles(grid))
    ax.set_xlabel("trial")
    ax.set_ylabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.figure.colorbar(image, ax=ax, label=info.objective.name)
    return _root_figure(ax)


def plot_timeline(info: Timeline) -> Figure:
    """A bar per trial from its start to its end, a row per worker, coloured by state."""
    height = 1.5 + 0.4 * max(len(info.workers), 2)
    ax = Figure(figsize=(10, min(height, 12)), layout="constrained").add_subplot()
    ax.set_title("Timeline of trials by worker")
    if not info.numbers:
        return _empty(ax, "no trial has started yet")
    for state in sorted(set(info.states)):
        _timeline_bars(ax, info, state)
    ax.autoscale_view()
    ax.set_yticks(range(len(info.workers)), info.workers, fontsize=8)
    ax.set_ylim(-0.6, len(info.workers) - 0.4)
    ax.xaxis_date()
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _root_figure(ax)


class StudyFigure(NamedTuple):
    """A study figure: ``data`` picks its data from a ``StudyReport`` (computing it on
    first use), ``draw`` draws it. Calling one does both."""

    data: Callable[[StudyReport], tuple[Any, ...]]
    draw: Callable[..., Figure]

    def __call__(self, report: StudyReport) -> Figure:
        return self.draw(*self.data(report))


STUDY_FIGURES: dict[str, StudyFigure] = {
    "history": StudyFigure(lambda r: (r.history,), plot_history),
    "epoch_curves": StudyFigure(lambda r: (r.curves,), plot_epoch_curves),
    "by_optimizer": StudyFigure(lambda r: (r.by_optimizer, r.objective), plot_best_by),
    "by_schedule": StudyFigure(lambda r: (r.by_schedule, r.objective), plot_best_by),
    "top_trials": StudyFigure(lambda r: (r.tops, r.objective), plot_top_trials),
    "importances": StudyFigure(lambda r: (r.importances,), plot_importances),
    "parallel_coordinates": StudyFigure(lambda r: (r.parallel,), plot_parallel_coordinates),
    "slices": StudyFigure(lambda r: (r.slices,), plot_slices),
    "intermediate_values": StudyFigure(lambda r: (r.intermediate,), plot_intermediate_grid),
    "timeline": StudyFigure(lambda r: (r.timeline,), plot_timeline),
}
"""A study's figures by name: what ``lrtune report`` writes and the dashboard shows."""

REPORT_FILES = tuple(f"{name}.png" for name in STUDY_FIGURES)
"""The files ``write_report`` writes, in order."""


def write_report(study: optuna.Study, out_dir: str | Path, *, top: int = 5) -> list[Path]:
    """Write ``REPORT_FILES`` of ``study`` into ``out_dir`` (created if missing).

    Raises:
        lrtune.StudyError: ``study`` has no trial at all (nothing is written).
    """
    check_has_trials(study)
    report = StudyReport(study, top=top)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in STUDY_FIGURES.items():
        paths.append(directory / f"{name}.png")
        figure(report).savefig(paths[-1], dpi=100)
    return paths


def _axes(ax: Axes | None) -> Axes:
    return Figure(figsize=(8, 5), layout="constrained").add_subplot() if ax is None else ax


def _empty(ax: Axes, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    return _root_figure(ax)


_FAINT: dict[str, Any] = {"colors": "0.6", "alpha": 0.25, "linewidths": 0.8}
_COMPLETE: dict[str, Any] = {"colors": "C0", "alpha": 0.45, "linewidths": 1.0}


def _line(epochs: list[int], values: list[float]) -> np.ndarray:
    return np.column_stack([epochs, values])


def _curve_limits(ax: Axes, info: EpochCurves) -> None:
    """Every epoch shown; the values cut at their 2nd and 98th percentiles, so that a few
    diverged trials do not flatten the rest."""
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in info.values])
    values = values[np.isfinite(values)]
    epochs = [e for steps in info.epochs for e in steps]
    ax.set_xlim(min(epochs) - 0.2, max(epochs) + 0.2)
    if len(values):
        low, high = np.percentile(values, [2, 98])
        margin = 0.08 * max(float(high - low), 1e-12)
        ax.set_ylim(float(low) - margin, float(high) + margin)


def _bar_label(row: pd.Series) -> str:
    return (
        f"{fmt(row['best'])} (#{row['trial']}; {row['complete']} complete, "
        f"{row['pruned']} pruned, {row['trials']} in all)"
    )


def _draw_top(lr_ax: Axes, value_ax: Axes, top: TopTrial, color: str) -> None:
    lr_epochs = range(1, len(top.lr_mean) + 1)
    lr_ax.fill_between(lr_epochs, top.lr_low, top.lr_high, color=color, alpha=0.15)
    lr_ax.plot(lr_epochs, top.lr_mean, "o-", color=color, label=top.label)
    label = f"{top.label}: {fmt(top.value)}"
    value_ax.plot(top.epochs, top.values, "o-", color=color, label=label)


def _decorate_top(lr_ax: Axes, value_ax: Axes, tops: Sequence[TopTrial], name: str) -> None:
    lrs = [lr for top in tops for lr in (*top.lr_mean, *top.lr_low, *top.lr_high)]
    lr_ax.set_yscale(axis_scale(lrs))
    lr_ax.set_ylabel("learning rate", fontsize=TOP_FONT_SIZE)
    value_ax.set_ylabel(name, fontsize=TOP_FONT_SIZE)
    for ax, drawn in ((lr_ax, lrs), (value_ax, [v for top in tops for v in top.values])):
        if not drawn:
            _empty(ax, NO_EPOCHS)
            continue
        ax.set_xlabel("epoch", fontsize=TOP_FONT_SIZE)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=TOP_FONT_SIZE)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=TOP_FONT_SIZE)


def _dense(artist: Artist, count: int, *, smooth: bool = False) -> None:
    """Draw ``artist`` as an image in vector output when it holds ``DENSE`` lines or
    markers or more; lines without antialiasing then (unless ``smooth``): their few
    colours make an image a third the size."""
    if count >= DENSE:
        artist.set_rasterized(True)
        if not smooth and isinstance(artist, Collection):
            artist.set_antialiased(False)


def _cmap(objective: StudyObjective) -> str:
    """Darker is better: ``viridis`` runs dark to light."""
    return "viridis" if objective.direction == "minimize" else "viridis_r"


def _parallel_axes(ax: Axes, info: ParallelCoordinates, xs: np.ndarray) -> None:
    for x, ticks in zip(xs, info.ticks, strict=True):
        ax.axvline(x, color="0.3", linewidth=0.8)
        for y, text in ticks:
            ax.annotate(
                text,
                (x, y),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize=7,
                va="center",
                ha="left",
            )
    ax.set_xticks(xs, info.names)
    ax.set_xlim(-0.1, len(xs) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])


def _slice_axis(ax: Axes, name: str, choices: list[str] | None) -> None:
    ax.set_xlabel(name)
    if choices is not None:
        ax.set_xticks(range(len(choices)), choices, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(choices) - 0.5)
    ax.grid(True, alpha=0.3)


def _grid_extent(info: IntermediateGrid) -> tuple[float, float, float, float]:
    return (
        min(info.numbers) - 0.5,
        max(info.numbers) + 0.5,
        min(info.steps) - 0.5,
        max(info.steps) + 0.5,
    )


def _percentiles(grid: np.ndarray) -> tuple[float, float]:
    """The colour range: the 2nd to 98th percentile, so a few diverged values do not
    wash out the rest."""
    finite = grid[np.isfinite(grid)]
    if not len(finite):
        return 0.0, 1.0
    low, high = np.percentile(finite, [2, 98])
    return float(low), float(max(high, low + 1e-12))


_STATE_COLOURS = {"COMPLETE": "C0", "PRUNED": "C1", "FAIL": "C3", "RUNNING": "C2"}


def _timeline_bars(ax: Axes, info: Timeline, state: str) -> None:
    """One collection of bars per state: thousands of separate rectangles draw slowly."""
    chosen = [i for i, s in enumerate(info.states) if s == state]
    starts = mdates.date2num([info.starts[i] for i in chosen])
    ends = mdates.date2num([info.ends[i] for i in chosen])
    rows = np.asarray([info.rows[i] for i in chosen], dtype=np.float64)
    low, high = rows - 0.4, rows + 0.4
    corners = np.stack([starts, low, ends, low, ends, high, starts, high], axis=1)
    bars = PolyCollection(
        list(corners.reshape(-1, 4, 2)),
        facecolors=_STATE_COLOURS.get(state, "0.5"),
        edgecolors="none",
        label=state.lower(),
    )
    _dense(bars, len(info.numbers))
    ax.add_collection(bars)
