"""Figures of a refine run: validation loss against LR at each rung."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lrtune.refine import RefineResult


@dataclass(frozen=True)
class RungPoints:
    """The candidates judged at one rung: their LRs and validation losses."""

    step: int
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    """``inf`` where a candidate diverged."""


def rung_points(result: RefineResult) -> list[RungPoints]:
    """One entry per rung, candidates in LR order."""
    rungs = []
    for step in result.rungs:
        found = sorted(
            (c.lr, c.val_losses[c.steps.index(step)]) for c in result.candidates if step in c.steps
        )
        rungs.append(RungPoints(step, tuple(p[0] for p in found), tuple(p[1] for p in found)))
    return rungs


def plot_refine(results: RefineResult | Sequence[RefineResult]) -> Figure:
    """Each rung's validation losses against LR; the winner, the interpolated LR and the LR
    to train with.

    Several results (one per optimizer) are drawn side by side.
    """
    runs = [results] if not isinstance(results, Sequence) else list(results)
    figure = Figure(figsize=(8 * len(runs), 5), layout="constrained")
    for ax, result in zip(figure.subplots(1, len(runs), squeeze=False)[0], runs, strict=True):
        _draw_result(ax, result)
    return figure


def _draw_result(ax: Axes, result: RefineResult) -> None:
    for index, rung in enumerate(rung_points(result)):
        _draw_rung(ax, rung, f"C{index % 10}", result.planned_steps)
    ax.axvline(
        result.winner_lr, color="grey", linestyle=":", label=f"winner {result.winner_lr:.3g}"
    )
    if result.interpolated_lr is not None:
        between = result.interpolated_lr
        ax.axvline(between, color="grey", linestyle="-.", label=f"interpolated {between:.3g}")
    ax.axvline(result.lr, color="black", linestyle="--", label=f"lr to train with {result.lr:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (constant)")
    ax.set_ylabel("validation loss")
    ax.set_title(
        f"refine {result.task} / {result.optimizer}: {result.cost_steps} of "
        f"{result.budget_steps} budget steps"
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best")


def _draw_rung(ax: Axes, rung: RungPoints, color: str, planned: int) -> None:
    pairs = list(zip(rung.lrs, rung.losses, strict=True))
    finite = [(lr, loss) for lr, loss in pairs if math.isfinite(loss)]
    label = f"after {rung.step} steps ({rung.step / planned:.0%} of training)"
    if finite:
        lrs, losses = zip(*finite, strict=True)
        ax.plot(lrs, losses, "o-", color=color, label=label)
    for lr, loss in pairs:
        if not math.isfinite(loss):  # diverged: a band where the point would be
            ax.axvline(lr, color=color, alpha=0.3, linewidth=4)
