"""When a sweep stops early."""

from __future__ import annotations

import math


class DivergenceCheck:
    """Says when the smoothed loss has risen too far above its best.

    For positive losses this is the usual ratio test, ``smoothed > threshold * best``
    (5x in torch-lr-finder, 4x in fastai). A ratio means nothing once the best loss is
    zero or negative (fastai #962), so there the allowed rise is measured against the
    distance the loss has already fallen: ``smoothed - best > (threshold - 1) * scale``,
    with ``scale = max(|best|, first - best)``.

    Args:
        threshold: How many times the best loss counts as divergence; must exceed 1.
    """

    def __init__(self, threshold: float) -> None:
        if not threshold > 1.0:
            raise ValueError(f"diverge_threshold must be > 1, but got {threshold=}.")
        self.threshold = threshold
        self.best = math.inf
        self._first: float | None = None

    def __call__(self, smoothed: float) -> bool:
        """Record ``smoothed`` and return whether the sweep has diverged."""
        if self._first is None:
            self._first = smoothed
        self.best = min(self.best, smoothed)
        if self.best > 0:
            return smoothed > self.threshold * self.best
        scale = max(abs(self.best), self._first - self.best)
        return scale > 0 and smoothed - self.best > (self.threshold - 1.0) * scale
