"""Study figures: each function draws data from ``_study_data`` and computes nothing.

A figure with nothing to show says so in its middle ("no completed trials yet") rather
than failing, so a report can be written while a study is still starting.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lrtune.report._range_test_plot import _root_figure
from lrtune.report._study_data import (
    History,
    Importances,
    StudyObjective,
    TopTrial,
    best_by,
    history,
    importances,
    study_objective,
    top_trials,
    trials_frame,
)
from lrtune.report._text import fmt

if TYPE_CHECKING:
    import optuna
    from matplotlib.axes import Axes

NO_TRIALS = "no completed trials yet"
REPORT_FILES = (
    "history.png",
    "by_optimizer.png",
    "by_schedule.png",
    "top_trials.png",
    "importances.png",
)
"""The files ``write_report`` writes, in order."""


def plot_history(info: History, ax: Axes | None = None) -> Figure:
    """Each completed trial's value by trial number, and the best so far as a step line."""
    ax = _axes(ax)
    name, direction = info.objective
    ax.set_title(f"Optimization history ({direction} {name})")
    if not info.numbers:
        return _empty(ax, NO_TRIALS)
    ax.plot(info.numbers, info.values, "o", alpha=0.6, label=f"trial {name}")
    ax.step(info.numbers, info.best, where="post", color="C1", linewidth=2, label="best so far")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(name)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
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
    lr_ax.set_title("Learning rate per epoch (band: lowest to highest)")
    value_ax.set_title(f"{objective.name} per epoch (validation)")
    if not tops:
        _empty(lr_ax, NO_TRIALS)
        _empty(value_ax, NO_TRIALS)
        return figure
    for index, top in enumerate(tops):
        _draw_top(lr_ax, value_ax, top, f"C{index % 10}")
    _decorate_top(lr_ax, value_ax, objective.name)
    return figure


def plot_importances(info: Importances, ax: Axes | None = None) -> Figure:
    """A bar per parameter, the most important on top; the reason when there are none."""
    ax = _axes(ax)
    ax.set_title("Parameter importances (fANOVA)")
    if not info.values:
        return _empty(ax, info.reason or NO_TRIALS)
    names = list(info.values)[::-1]
    bars = ax.barh(names, [info.values[name] for name in names], color="C2", alpha=0.8)
    ax.bar_label(bars, labels=[f"{info.values[name]:.2f}" for name in names], padding=3)
    ax.set_xlabel("importance (share of the objective's variance)")
    ax.set_xlim(0, 1.1)
    ax.grid(True, axis="x", alpha=0.3)
    return _root_figure(ax)


def write_report(study: optuna.Study, out_dir: str | Path, *, top: int = 5) -> list[Path]:
    """Write ``REPORT_FILES`` of ``study`` into ``out_dir`` (created if missing)."""
    objective = study_objective(study)
    frame = trials_frame(study)
    figures = [
        plot_history(history(study)),
        plot_best_by(best_by(frame, "optimizer", objective.direction), objective),
        plot_best_by(best_by(frame, "schedule", objective.direction), objective),
        plot_top_trials(top_trials(study, top), objective),
        plot_importances(importances(study)),
    ]
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in REPORT_FILES]
    for figure, path in zip(figures, paths, strict=True):
        figure.savefig(path, dpi=100)
    return paths


def _axes(ax: Axes | None) -> Axes:
    return Figure(figsize=(8, 5), layout="constrained").add_subplot() if ax is None else ax


def _empty(ax: Axes, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    return _root_figure(ax)


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


def _decorate_top(lr_ax: Axes, value_ax: Axes, name: str) -> None:
    lr_ax.set_yscale("log")
    lr_ax.set_ylabel("learning rate")
    value_ax.set_ylabel(name)
    for ax in (lr_ax, value_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
