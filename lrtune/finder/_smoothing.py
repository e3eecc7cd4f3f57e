"""Smoothing of a noisy loss curve.

Two smoothers with two jobs. The online, bias-corrected EMA (fastai's) runs during the
sweep, where only past points exist, and drives the divergence stop. It lags the raw
curve by up to ``1 / (1 - beta)`` points, so the suggestion rules read a zero-phase
smoother instead, which sees both sides of each point and shifts nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class EmaSmoother:
    """Exponential moving average, bias-corrected by the number of recorded points.

    Args:
        beta: Weight of the past; 0 disables smoothing. Must lie in [0, 1).
    """

    def __init__(self, beta: float) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"smoothing must lie in [0, 1), but got {beta=}.")
        self.beta = beta
        self._average = 0.0
        self._count = 0

    def update(self, value: float) -> float:
        """Add ``value`` and return the smoothed value so far."""
        self._count += 1
        self._average = self.beta * self._average + (1.0 - self.beta) * value
        return self._average / (1.0 - self.beta**self._count)


def ema(values: npt.ArrayLike, beta: float) -> FloatArray:
    """The ``EmaSmoother`` applied to a whole series."""
    smoother = EmaSmoother(beta)
    return np.array([smoother.update(float(v)) for v in np.asarray(values)], dtype=np.float64)


def zero_phase(log_lrs: FloatArray, losses: FloatArray, sigma: float) -> FloatArray:
    """Gaussian kernel smoothing of ``losses`` over ``log_lrs`` with width ``sigma``.

    Weights are renormalised at the ends so the curve is not pulled towards zero there.
    Works for any spacing of ``log_lrs`` (exponential or linear sweeps alike).
    """
    if sigma <= 0 or len(losses) < 2:
        return losses.astype(np.float64, copy=True)
    distance = (log_lrs[:, None] - log_lrs[None, :]) / sigma
    weights = np.exp(-0.5 * distance**2)
    return (weights @ losses) / weights.sum(axis=1)
