"""Range-test figures: the numbers first, then a function that only draws them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from matplotlib.figure import Figure

from lrtune.finder import FloatArray, smoothed_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lrtune.finder import FinderResult


class CurveInfo(NamedTuple):
    """What one range test's line on the plot shows."""

    label: str
    lrs: FloatArray
    losses: FloatArray
    curve: FloatArray
    suggested: tuple[float, float] | None
    bounds: tuple[float, float] | None


def curve_info(result: FinderResult) -> CurveInfo:
    """The raw and zero-phase smoothed curve and the marks for one result."""
    lrs = result.history["lr"].to_numpy(dtype=np.float64)
    losses = result.history["loss"].to_numpy(dtype=np.float64)
    curve = smoothed_curve(lrs, losses) if len(lrs) else losses
    suggested = None
    if result.suggested_lr is not None and len(lrs):
        at = float(np.interp(np.log10(result.suggested_lr), np.log10(lrs), curve))
        suggested = (result.suggested_lr, at)
    bounds = None
    if result.min_lr is not None and result.max_lr is not None:
        bounds = (result.min_lr, result.max_lr)
    return CurveInfo(result.label, lrs, losses, curve, suggested, bounds)


def y_limits(infos: Sequence[CurveInfo]) -> tuple[float, float] | None:
    """Limits that show every descent but cut off the explosion at the end."""
    curves = [info.curve for info in infos if len(info.curve)]
    if not curves:
        return None
    low = min(float(np.min(c)) for c in curves)
    high = max(float(np.max(c[: max(1, len(c) // 10)])) for c in curves)
    margin = 0.08 * max(high - low, 1e-12)
    return low - margin, high + margin


def legend_label(info: CurveInfo) -> str:
    """``"digits-cnn/AdamW: lr 0.087, bounds 0.035-0.14"``."""
    parts = [] if info.suggested is None else [f"lr {info.suggested[0]:.2g}"]
    if info.bounds is not None:
        parts.append(f"bounds {info.bounds[0]:.2g}-{info.bounds[1]:.2g}")
    return f"{info.label}: {', '.join(parts)}" if parts else info.label


def plot_range_tests(results: Sequence[FinderResult], ax: Axes | None = None) -> Figure:
    """Overlay the curves of ``results`` with each suggestion and (min, max) band marked."""
    if ax is None:
        ax = Figure(figsize=(8, 5), layout="constrained").add_subplot()
    infos = [curve_info(result) for result in results]
    for index, info in enumerate(infos):
        _draw_curve(ax, info, f"C{index % 10}", shade=len(infos) == 1)
    _decorate(ax, infos)
    return _root_figure(ax)


def _root_figure(ax: Axes) -> Figure:
    figure = ax.get_figure(root=True)
    if not isinstance(figure, Figure):
        raise ValueError("ax must belong to a matplotlib Figure.")
    return figure


def _draw_curve(ax: Axes, info: CurveInfo, color: str, *, shade: bool) -> None:
    ax.plot(info.lrs, info.losses, color=color, alpha=0.25, linewidth=0.8)
    ax.plot(info.lrs, info.curve, color=color, linewidth=2, label=legend_label(info))
    if info.bounds is not None:
        if shade:
            ax.axvspan(*info.bounds, color=color, alpha=0.12, label="min_lr .. max_lr")
        else:
            for bound in info.bounds:
                ax.axvline(bound, color=color, linestyle=":", linewidth=1)
    if info.suggested is not None:
        lr, loss = info.suggested
        ax.plot([lr], [loss], "o", color=color, markersize=9, markeredgecolor="black")


def _decorate(ax: Axes, infos: Sequence[CurveInfo]) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title("Learning-rate range test (dot: suggested LR)")
    limits = y_limits(infos)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best")
