"""Between the last rung's survivors: where the validation loss is lowest, by a parabola.

Candidates start a fixed spacing apart (four over the range test's interval are about 0.4
decades apart), and the best constant LR is rarely one of them. The first rung sees every
candidate; a parabola through their log validation losses against log10(LR) gives the
curvature of the valley. The last rung sees two survivors, trained further, and the
parabola of that curvature through both puts its vertex where the lowest loss lies::

    vertex = (x1 + x2) / 2 - (y1 - y2) / (2 * curvature * (x1 - x2))

kept within half a spacing outside the pair. Without a usable first rung (fewer than three
finite losses, or a curve that is not convex) or two finite survivors, there is no vertex
and the winner stands. Chosen over the winner itself and over a parabola through the first
rung alone by leave-one-family-out cross-validation (``benchmarks/refine_correction.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrtune.refine._result import Candidate


def interpolated_lr(candidates: Sequence[Candidate], rungs: Sequence[int]) -> float | None:
    """The LR at the vertex between the last rung's two survivors; ``None`` if none."""
    if len(rungs) < 2:
        return None
    curvature = _first_rung_curvature(candidates, rungs[0])
    last = _points(candidates, rungs[-1])
    if curvature is None or len(last) != 2:
        return None
    (x1, y1), (x2, y2) = last
    vertex = (x1 + x2) / 2 - (y1 - y2) / (2 * curvature * (x1 - x2))
    low, high = min(x1, x2), max(x1, x2)
    margin = (high - low) / 2
    return float(10 ** min(max(vertex, low - margin), high + margin))


def _first_rung_curvature(candidates: Sequence[Candidate], rung: int) -> float | None:
    points = _points(candidates, rung)
    if len(points) < 3:
        return None
    xs, ys = zip(*points, strict=True)
    curvature = float(np.polyfit(xs, ys, 2)[0])
    return curvature if curvature > 0 else None


def _points(candidates: Sequence[Candidate], rung: int) -> list[tuple[float, float]]:
    """``(log10 lr, log validation loss)`` of the candidates with a finite loss at ``rung``."""
    points = []
    for candidate in candidates:
        if rung in candidate.steps:
            loss = candidate.val_losses[candidate.steps.index(rung)]
            if math.isfinite(loss) and loss > 0:
                points.append((math.log10(candidate.lr), math.log(loss)))
    return points
