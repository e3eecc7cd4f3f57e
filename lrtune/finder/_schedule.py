"""The learning rates a sweep visits."""

from __future__ import annotations

import enum
import math

import numpy as np

from lrtune.finder._smoothing import FloatArray


class StepMode(str, enum.Enum):
    """How the LR grows from ``start_lr`` to ``end_lr``."""

    EXP = "exp"
    LINEAR = "linear"


def sweep_lrs(start_lr: float, end_lr: float, num_iter: int, mode: StepMode) -> FloatArray:
    """``num_iter`` learning rates from ``start_lr`` to ``end_lr`` inclusive."""
    if mode is StepMode.LINEAR:
        return np.linspace(start_lr, end_lr, num_iter)
    # np.geomspace's own arithmetic (the same values) without its input checks, which
    # cost more than the sweep's bookkeeping on small models.
    lrs = np.power(10.0, np.linspace(math.log10(start_lr), math.log10(end_lr), num_iter))
    lrs[0], lrs[-1] = start_lr, end_lr
    return lrs
