"""Figures of any Optuna study, lrtune's or not: the Pareto front of two objectives and
each trial's intermediate values. As in ``_study_plots``, data in, figures out."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from matplotlib.figure import Figure

from lrtune.report._range_test_plot import _root_figure
from lrtune.report._study_data import EpochCurves
from lrtune.report._study_plots import NO_TRIALS, _axes, _empty, plot_epoch_curves

if TYPE_CHECKING:
    from matplotlib.axes import Axes


class ParetoPoints(NamedTuple):
    """The completed trials of a two-objective study: numbers, values (two each) and
    whether each is on the Pareto front; each objective's name and direction."""

    numbers: list[int]
    values: list[list[float]]
    front: list[bool]
    names: list[str]
    directions: list[str]


def plot_pareto_front(info: ParetoPoints, ax: Axes | None = None) -> Figure:
    """Every completed trial by its two values; the Pareto front's in colour, joined."""
    ax = _axes(ax)
    ax.set_title("Pareto front")
    labels = [
        f"{name} ({direction})" for name, direction in zip(info.names, info.directions, strict=True)
    ]
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if not info.numbers:
        return _empty(ax, NO_TRIALS)
    others = [v for v, on in zip(info.values, info.front, strict=True) if not on]
    if others:
        ax.scatter(*zip(*others, strict=True), color="C0", alpha=0.4, label="trial")
    front = sorted(
        (v, n) for v, n, on in zip(info.values, info.numbers, info.front, strict=True) if on
    )
    xs, ys = [v[0] for v, _ in front], [v[1] for v, _ in front]
    ax.plot(xs, ys, "o-", color="C1", linewidth=1.5, label="Pareto front")
    for (x, y), number in front:
        ax.annotate(f"#{number}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return _root_figure(ax)


def plot_intermediate_values(info: EpochCurves, ax: Axes | None = None) -> Figure:
    """``plot_epoch_curves`` of a study lrtune did not create: by step, not epoch."""
    figure = plot_epoch_curves(info, ax)
    (drawn,) = figure.axes
    drawn.set_title(f"Intermediate values ({info.objective.name}), every trial")
    if info.numbers:
        drawn.set_xlabel("step")
    return figure
