"""Suggestion rules: pure functions from a recorded curve to a learning rate.

Every rule reads the raw losses and does its own smoothing, so the published rules can be
reproduced exactly as their libraries compute them:

- ``steepest``: torch-lr-finder's ``suggest_lr``: its EMA (``smooth_f=0.05``, no bias
  correction), 10 points skipped at the start and 5 at the end, steepest ``np.gradient``.
- ``valley``: fastai's ``valley``: bias-corrected EMA (beta 0.98), ``num_it // 10`` points
  skipped at the start and 5 at the end, longest decreasing run, 1/2 of its middle third.
- ``minimum``: fastai's ``minimum``: the same curve, the LR of its lowest point / 10.
- ``lrtune`` (the default), ``lrtune-min10`` and ``lrtune-steep`` read a zero-phase
  smoothed curve (no EMA lag) with losses above the starting level clipped, so the
  explosion at the end cannot drag the smoothed minimum around. ``lrtune`` is that
  minimum / 6, ``lrtune-min10`` the minimum / 10 and ``lrtune-steep`` the steepest descent
  before it. The suggestion-quality benchmark (``benchmarks/suggestion_quality.py``)
  chose the default; its results are in ``benchmarks/README.md``.

Bounds for cyclical and 1cycle schedules follow Leslie Smith's range test (arXiv
1506.01186): ``max_lr`` is where the loss stops falling (the minimum of the zero-phase
curve) and ``min_lr = max_lr / 4``, his "one third or one fourth of the maximum".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lrtune._registry import Registry
from lrtune.finder._smoothing import FloatArray, ema, zero_phase

Rule = Callable[[FloatArray, FloatArray], "float | None"]

RULES: Registry[Rule] = Registry("suggestion rule")

MIN_POINTS = 8
"""Fewer recorded points than this and no rule is trusted."""

SMOOTHING_DECADES = 0.25
"""Width (standard deviation, in decades of LR) of the zero-phase smoother."""

BOUNDS_RATIO = 4.0
"""``max_lr / min_lr``: Smith's base LR is a third to a fourth of the maximum."""


@dataclass(frozen=True)
class Suggestion:
    """An LR to train with at a constant rate, and bounds for cyclical schedules."""

    lr: float | None
    min_lr: float | None
    max_lr: float | None
    rule: str


def suggest(history: pd.DataFrame, rule: str) -> Suggestion:
    """Apply ``rule`` and the bounds rule to a finder history (columns ``lr``, ``loss``)."""
    lrs = history["lr"].to_numpy(dtype=np.float64)
    return suggest_from_curve(lrs, history["loss"].to_numpy(dtype=np.float64), rule)


def suggest_from_curve(lrs: FloatArray, losses: FloatArray, rule: str) -> Suggestion:
    """``suggest`` on the arrays themselves, as the sweep holds them."""
    function = RULES.get(rule)
    finite = np.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    if len(lrs) < MIN_POINTS:
        return Suggestion(None, None, None, rule)
    max_lr = smooth_minimum_lr(lrs, losses)
    min_lr = None if max_lr is None else max_lr / BOUNDS_RATIO
    return Suggestion(_as_float(function(lrs, losses)), min_lr, max_lr, rule)


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


def _descent(lrs: FloatArray, losses: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The smoothed curve from its start up to its minimum."""
    curve = smoothed_curve(lrs, losses)
    lowest = _lowest_index(curve)
    return lrs[: lowest + 1], curve[: lowest + 1]


def _steepest_index(log_lrs: FloatArray, curve: FloatArray) -> int:
    return int(np.argmin(np.gradient(curve, log_lrs)))


MINIMUM_DIVISOR = 6.0
"""lrtune's suggestion is the zero-phase minimum / 6: where the loss stops falling, less
0.78 decades. The divisor was chosen by leave-one-task-out on the suggestion-quality
benchmark (five of six folds picked 6 among 3..15); see benchmarks/README.md."""


@RULES.register("lrtune")
def lrtune_rule(lrs: FloatArray, losses: FloatArray) -> float | None:
    """lrtune's default: the zero-phase minimum / ``MINIMUM_DIVISOR``."""
    lowest = smooth_minimum_lr(lrs, losses)
    return None if lowest is None else lowest / MINIMUM_DIVISOR


@RULES.register("lrtune-min10")
def lrtune_min10(lrs: FloatArray, losses: FloatArray) -> float | None:
    """The zero-phase minimum / 10."""
    lowest = smooth_minimum_lr(lrs, losses)
    return None if lowest is None else lowest / 10.0


@RULES.register("lrtune-steep")
def lrtune_steep(lrs: FloatArray, losses: FloatArray) -> float | None:
    """The steepest descent of the zero-phase curve, against log(lr), before its minimum."""
    head_lrs, head = _descent(lrs, losses)
    if len(head) < 3:
        return None
    return float(head_lrs[_steepest_index(np.log10(head_lrs), head)])


# --- the published rules, reproduced -------------------------------------------------


@RULES.register("steepest")
def steepest(lrs: FloatArray, losses: FloatArray) -> float | None:
    """torch-lr-finder 0.2's ``suggest_lr`` (skip_start=10, skip_end=5)."""
    smoothed = _torch_lr_finder_ema(losses)[10:-5]
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
def valley(lrs: FloatArray, losses: FloatArray) -> float | None:
    """fastai 2's ``valley`` suggestion."""
    return _valley(*_fastai_curve(lrs, losses))


@RULES.register("minimum")
def minimum(lrs: FloatArray, losses: FloatArray) -> float | None:
    """fastai 2's ``minimum`` suggestion: the lowest point's LR / 10."""
    curve_lrs, curve = _fastai_curve(lrs, losses)
    if len(curve) == 0:
        return None
    return float(curve_lrs[int(np.argmin(curve))]) / 10.0


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
