"""The learning rates a sweep visits."""

from __future__ import annotations

import enum

import numpy as np

from lrtune.finder._smoothing import FloatArray


class StepMode(str, enum.Enum):
    """How the LR grows from ``start_lr`` to ``end_lr``."""

    EXP = "exp"
    LINEAR = "linear"


def sweep_lrs(start_lr: float, end_lr: float, num_iter: int, mode: StepMode) -> FloatArray:
    """``num_iter`` learning rates from ``start_lr`` to ``end_lr`` inclusive."""
    if mode is StepMode.EXP:
        return np.geomspace(start_lr, end_lr, num_iter)
    return np.linspace(start_lr, end_lr, num_iter)
