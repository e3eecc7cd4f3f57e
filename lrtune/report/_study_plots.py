"""Study figures: each function draws data from ``_study_data`` and computes nothing.

A figure with nothing to show says so in its middle ("no completed trials yet") rather
than failing, so a report can be written while a study is still starting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lrtune.report._range_test_plot import _root_figure
from lrtune.report._study_data import (
    EpochCurves,
    History,
    Importances,
    StudyObjective,
    StudyReport,
    TopTrial,
)
from lrtune.report._text import fmt

if TYPE_CHECKING:
    import optuna
    from matplotlib.axes import Axes

NO_TRIALS = "no completed trials yet"


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
        ax.add_collection(LineCollection(lines, **style))
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


STUDY_FIGURES: dict[str, Callable[[StudyReport], Figure]] = {
    "history": lambda report: plot_history(report.history),
    "epoch_curves": lambda report: plot_epoch_curves(report.curves),
    "by_optimizer": lambda report: plot_best_by(report.by_optimizer, report.objective),
    "by_schedule": lambda report: plot_best_by(report.by_schedule, report.objective),
    "top_trials": lambda report: plot_top_trials(report.tops, report.objective),
    "importances": lambda report: plot_importances(report.importances),
}
"""A study's figures by name: what ``lrtune report`` writes and the dashboard shows."""

REPORT_FILES = tuple(f"{name}.png" for name in STUDY_FIGURES)
"""The files ``write_report`` writes, in order."""


def write_report(study: optuna.Study, out_dir: str | Path, *, top: int = 5) -> list[Path]:
    """Write ``REPORT_FILES`` of ``study`` into ``out_dir`` (created if missing)."""
    report = StudyReport(study, top=top)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in STUDY_FIGURES.items():
        paths.append(directory / f"{name}.png")
        draw(report).savefig(paths[-1], dpi=100)
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


def _decorate_top(lr_ax: Axes, value_ax: Axes, name: str) -> None:
    lr_ax.set_yscale("log")
    lr_ax.set_ylabel("learning rate")
    value_ax.set_ylabel(name)
    for ax in (lr_ax, value_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
