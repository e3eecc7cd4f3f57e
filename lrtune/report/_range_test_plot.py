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
    rule: str | None = None


class CurveStyle(NamedTuple):
    """How one curve is drawn: its colour, line style and marker (on every
    ``markevery``-th point from ``markstart``), so that curves lying on each other
    (the same test shown twice, two optimizers alike) stay apart."""

    color: str
    linestyle: str | tuple[int, tuple[int, ...]]
    marker: str
    markstart: int


LINE_STYLES: tuple[str | tuple[int, tuple[int, ...]], ...] = (
    "-",
    "--",
    "-.",
    (0, (6, 2, 1, 2, 1, 2)),
)
MARKERS = ("", "s", "^", "v", "D", "P", "X", "*")
MARKS_PER_CURVE = 8


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
    return CurveInfo(result.label, lrs, losses, curve, suggested, bounds, result.rule)


def curve_styles(count: int) -> list[CurveStyle]:
    """A style per curve, no two alike: colours cycle through ten, line styles through
    four and markers through eight, each mark placed at its own offset."""
    step = max(1, 10 // MARKS_PER_CURVE)
    return [
        CurveStyle(
            f"C{index % 10}",
            LINE_STYLES[index % len(LINE_STYLES)],
            MARKERS[index % len(MARKERS)],
            (index * step) % MARKS_PER_CURVE,
        )
        for index in range(count)
    ]


def shared_rule(infos: Sequence[CurveInfo]) -> str | None:
    """The rule behind every suggestion shown, if they share one."""
    rules = {info.rule for info in infos if info.suggested is not None}
    return rules.pop() if len(rules) == 1 else None


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
    """``"digits-cnn/AdamW: lr 0.087 (valley), bounds 0.035-0.14"``."""
    parts = [] if info.suggested is None else [f"lr {info.suggested[0]:.2g}{_by(info.rule)}"]
    if info.bounds is not None:
        parts.append(f"bounds {info.bounds[0]:.2g}-{info.bounds[1]:.2g}")
    return f"{info.label}: {', '.join(parts)}" if parts else info.label


def plot_range_tests(results: Sequence[FinderResult], ax: Axes | None = None) -> Figure:
    """Overlay the curves of ``results`` with each suggestion and (min, max) band marked."""
    if ax is None:
        ax = Figure(figsize=(8, 5), layout="constrained").add_subplot()
    infos = [curve_info(result) for result in results]
    for info, style in zip(infos, curve_styles(len(infos)), strict=True):
        _draw_curve(ax, info, style, shade=len(infos) == 1)
    _decorate(ax, infos)
    return _root_figure(ax)


def _by(rule: str | None) -> str:
    return "" if rule is None else f" ({rule})"


def _root_figure(ax: Axes) -> Figure:
    figure = ax.get_figure(root=True)
    if not isinstance(figure, Figure):
        raise ValueError("ax must belong to a matplotlib Figure.")
    return figure


def _draw_curve(ax: Axes, info: CurveInfo, style: CurveStyle, *, shade: bool) -> None:
    color = style.color
    ax.plot(info.lrs, info.losses, color=color, alpha=0.25, linewidth=0.8)
    every = (style.markstart, max(1, len(info.lrs) // MARKS_PER_CURVE))
    ax.plot(
        info.lrs,
        info.curve,
        color=color,
        linewidth=2,
        linestyle=style.linestyle,
        marker=style.marker or None,
        markevery=every,
        label=legend_label(info),
    )
    if info.bounds is not None:
        _draw_bounds(ax, info.label, info.bounds, color, shade=shade)
    if info.suggested is not None:
        lr, loss = info.suggested
        ax.plot([lr], [loss], "o", color=color, markersize=9, markeredgecolor="black")


def _draw_bounds(
    ax: Axes, label: str, bounds: tuple[float, float], color: str, *, shade: bool
) -> None:
    """One band for a lone test; for several, each test's two bounds as dotted lines
    under one legend entry of its own."""
    if shade:
        ax.axvspan(*bounds, color=color, alpha=0.12, label="min_lr .. max_lr")
        return
    low, high = bounds
    ax.axvline(low, color=color, linestyle=":", linewidth=1, label=f"{label}: min_lr .. max_lr")
    ax.axvline(high, color=color, linestyle=":", linewidth=1)


def _decorate(ax: Axes, infos: Sequence[CurveInfo]) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    rule = shared_rule(infos)
    dot = "suggested LR" if rule is None else f"LR suggested by the {rule} rule"
    ax.set_title(f"Learning-rate range test (dot: {dot})")
    limits = y_limits(infos)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best")
