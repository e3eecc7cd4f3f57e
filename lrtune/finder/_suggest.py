"""Suggestion rules: pure functions from a recorded curve to a learning rate.

A rule reads a ``Curve``: the raw losses, and what is known of the training the LR is for
(how many optimizer steps it will take, and the optimizer's kind). Every rule does its own
smoothing, so the published rules can be reproduced exactly as their libraries compute
them; they read the points only:

- ``steepest``: torch-lr-finder's ``suggest_lr``: its EMA (``smooth_f=0.05``, no bias
  correction), 10 points skipped at the start and 5 at the end, steepest ``np.gradient``.
- ``valley``: fastai's ``valley``: bias-corrected EMA (beta 0.98), ``num_it // 10`` points
  skipped at the start and 5 at the end, longest decreasing run, 1/2 of its middle third.
- ``minimum``: fastai's ``minimum``: the same curve, the LR of its lowest point / 10.

lrtune's rules read a zero-phase smoothed curve (no EMA lag) with losses above the
starting level clipped, so the explosion at the end cannot drag the smoothed minimum
around. ``lrtune`` (the default) moves down from that minimum by an amount that depends on
the optimizer's kind and grows with the planned training length (``lrtune.finder._horizon``);
``lrtune-min6`` is the minimum / 6, the default before training length was taken into
account. The suggestion-quality benchmark (``benchmarks/suggestion_quality.py``) fitted
and scored them; its held-out results are in ``benchmarks/README.md``.

Bounds for cyclical and 1cycle schedules follow Leslie Smith's range test (arXiv
1506.01186): ``max_lr`` is where the loss stops falling (the minimum of the zero-phase
curve) and ``min_lr = max_lr / 4``, his "one third or one fourth of the maximum". The
interval (``lr_interval``) is where the best constant LR likely lies, by lrtune's model,
whatever rule picked the suggestion.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lrtune._registry import Registry
from lrtune.finder._horizon import MODEL
from lrtune.finder._smoothing import FloatArray, ema, zero_phase

MIN_POINTS = 8
"""Fewer recorded points than this and no rule is trusted."""

SMOOTHING_DECADES = 0.25
"""Width (standard deviation, in decades of LR) of the zero-phase smoother."""

BOUNDS_RATIO = 4.0
"""``max_lr / min_lr``: Smith's base LR is a third to a fourth of the maximum."""


@dataclass(frozen=True)
class Curve:
    """What a rule reads: a sweep's finite points and what is known of the training run.

    Args:
        lrs: The swept LRs, increasing.
        losses: The raw loss at each LR.
        planned_steps: The optimizer steps the user will train for, if known.
        optimizer_kind: ``"sgd"``, ``"adam"`` or ``"rmsprop"`` (see
            ``lrtune.finder.optimizer_kind``); ``None`` if unknown.
    """

    lrs: FloatArray
    losses: FloatArray
    planned_steps: int | None = None
    optimizer_kind: str | None = None


Rule = Callable[[Curve], "float | None"]

RULES: Registry[Rule] = Registry("suggestion rule")


@dataclass(frozen=True)
class Suggestion:
    """An LR to train with at a constant rate, bounds for cyclical schedules, an interval.

    ``lr_interval`` is where the best constant LR likely lies (lrtune's model, whatever
    ``rule`` chose ``lr``); ``None`` when the curve never fell.
    """

    lr: float | None
    min_lr: float | None
    max_lr: float | None
    rule: str
    lr_interval: tuple[float, float] | None = None


def suggest(
    history: pd.DataFrame,
    rule: str,
    *,
    planned_steps: int | None = None,
    optimizer_kind: str | None = None,
) -> Suggestion:
    """Apply ``rule`` and the bounds rule to a finder history (columns ``lr``, ``loss``)."""
    lrs = history["lr"].to_numpy(dtype=np.float64)
    losses = history["loss"].to_numpy(dtype=np.float64)
    return suggest_from_curve(Curve(lrs, losses, planned_steps, optimizer_kind), rule)


def suggest_from_curve(curve: Curve, rule: str) -> Suggestion:
    """``suggest`` on a ``Curve``, as the sweep holds it; non-finite points are dropped."""
    function = RULES.get(rule)
    finite = np.isfinite(curve.losses)
    curve = Curve(curve.lrs[finite], curve.losses[finite], *_context(curve))
    if len(curve.lrs) < MIN_POINTS:
        return Suggestion(None, None, None, rule)
    max_lr = smooth_minimum_lr(curve.lrs, curve.losses)
    if max_lr is None:
        return Suggestion(_as_float(function(curve)), None, None, rule)
    line = MODEL.line(curve.optimizer_kind, curve.planned_steps)
    interval = line.interval(line.lr(max_lr, curve.planned_steps))
    return Suggestion(_as_float(function(curve)), max_lr / BOUNDS_RATIO, max_lr, rule, interval)


def _context(curve: Curve) -> tuple[int | None, str | None]:
    return curve.planned_steps, curve.optimizer_kind


def _as_float(value: float | None) -> float | None:
    return None if value is None else float(value)


# --- lrtune's zero-phase curve -------------------------------------------------------


def smoothed_curve(lrs: FloatArray, losses: FloatArray) -> FloatArray:
    """The zero-phase smoothed loss, with losses above the starting level clipped.

    A loss above everything seen in the first tenth of the sweep already says "diverging";
    clipping it keeps one exploding point from outweighing its neighbours in the kernel.
    The result is read-only and cached: a suggestion and its bounds read the same curve.
    """
    return _smoothed_curve(
        np.ascontiguousarray(lrs, dtype=np.float64).tobytes(),
        np.ascontiguousarray(losses, dtype=np.float64).tobytes(),
    )


@functools.lru_cache(maxsize=8)
def _smoothed_curve(lrs_bytes: bytes, losses_bytes: bytes) -> FloatArray:
    lrs, losses = np.frombuffer(lrs_bytes), np.frombuffer(losses_bytes)
    ceiling = np.max(losses[: max(1, len(losses) // 10)])
    log_lrs = np.log10(lrs)
    spacing = (log_lrs[-1] - log_lrs[0]) / max(1, len(lrs) - 1)
    sigma = max(SMOOTHING_DECADES, 2.0 * spacing)
    curve = zero_phase(log_lrs, np.minimum(losses, ceiling), sigma)
    curve.flags.writeable = False
    return curve


def _lowest_index(curve: FloatArray) -> int:
    """Where the curve bottoms out after its first tenth; 0 when it never falls below it.

    The first tenth is the starting level the descent is measured from. Its first point is
    not a safe reference: the kernel is one-sided there, so one lucky batch can make the
    start the lowest point of a noisy plateau. A minimum only rounding noise below the
    start (a constant loss) is no descent either.
    """
    head = max(1, len(curve) // 10)
    lowest = head + int(np.argmin(curve[head:]))
    start = float(np.mean(curve[:head]))
    rounding = 1e-9 * float(np.max(np.abs(curve)))
    return lowest if curve[lowest] < start - rounding else 0


def smooth_minimum_lr(lrs: FloatArray, losses: FloatArray) -> float | None:
    """The LR where the zero-phase curve bottoms out: where the loss stops falling."""
    lowest = _lowest_index(smoothed_curve(lrs, losses))
    return None if lowest == 0 else float(lrs[lowest])


@RULES.register("lrtune")
def lrtune_rule(curve: Curve) -> float | None:
    """lrtune's default: the zero-phase minimum moved down by the horizon model."""
    lowest = smooth_minimum_lr(curve.lrs, curve.losses)
    if lowest is None:
        return None
    return MODEL.line(curve.optimizer_kind, curve.planned_steps).lr(lowest, curve.planned_steps)


MINIMUM_DIVISOR = 6.0
"""``lrtune-min6``: the default before the horizon model, fitted on the 7 bundled tasks."""


@RULES.register("lrtune-min6")
def lrtune_min6(curve: Curve) -> float | None:
    """The zero-phase minimum / ``MINIMUM_DIVISOR``, whatever the training length."""
    lowest = smooth_minimum_lr(curve.lrs, curve.losses)
    return None if lowest is None else lowest / MINIMUM_DIVISOR


# --- the published rules, reproduced -------------------------------------------------


@RULES.register("steepest")
def steepest(curve: Curve) -> float | None:
    """torch-lr-finder 0.2's ``suggest_lr`` (skip_start=10, skip_end=5)."""
    lrs = curve.lrs
    smoothed = _torch_lr_finder_ema(curve.losses)[10:-5]
    if len(smoothed) < 2:
        return None
    return float(lrs[10:-5][int(np.argmin(np.gradient(smoothed)))])


def _torch_lr_finder_ema(losses: FloatArray, smooth_f: float = 0.05) -> FloatArray:
    smoothed = np.empty_like(losses)
    smoothed[0] = losses[0]
    for i in range(1, len(losses)):
        smoothed[i] = smooth_f * losses[i] + (1 - smooth_f) * smoothed[i - 1]
    return smoothed


def _fastai_curve(lrs: FloatArray, losses: FloatArray) -> tuple[FloatArray, FloatArray]:
    skip = len(losses) // 10
    return lrs[skip:-5], ema(losses, 0.98)[skip:-5]


@RULES.register("valley")
def valley(curve: Curve) -> float | None:
    """fastai 2's ``valley`` suggestion."""
    return _valley(*_fastai_curve(curve.lrs, curve.losses))


@RULES.register("minimum")
def minimum(curve: Curve) -> float | None:
    """fastai 2's ``minimum`` suggestion: the lowest point's LR / 10."""
    lrs, smoothed = _fastai_curve(curve.lrs, curve.losses)
    if len(smoothed) == 0:
        return None
    return float(lrs[int(np.argmin(smoothed))]) / 10.0


def _valley(lrs: FloatArray, losses: FloatArray) -> float | None:
    """The LR 1/2 into the middle third of the longest decreasing run (fastai)."""
    if len(losses) < 2:
        return None
    run = _longest_decrease(losses)
    end = int(np.argmax(run))
    # fastai's start stays at 0 until some point has a longer run than 1.
    start = end - int(run[end]) if run[end] > 1 else 0
    sections = (end - start) / 3
    return float(lrs[start + int(sections) + int(sections / 2)])


def _longest_decrease(losses: FloatArray) -> FloatArray:
    """``run[i]``: length of the longest strictly decreasing subsequence ending at i."""
    run = np.ones(len(losses))
    for i in range(1, len(losses)):
        earlier = losses[:i] > losses[i]
        if earlier.any():
            run[i] = max(run[i], run[:i][earlier].max() + 1)
    return run


DEFAULT_RULE = "lrtune"
"""Chosen by the suggestion-quality benchmark; see benchmarks/README.md."""
