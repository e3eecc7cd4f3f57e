"""Seeding every random number generator a training run draws from."""

from __future__ import annotations

import random

import numpy as np
import torch

from lrtune._checks import is_seed


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU)."""
    if not is_seed(seed):
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], but got {seed=}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # manual_seed covers CUDA already; this keeps the intent visible and costs nothing
    # when CUDA is absent (the call is queued until CUDA is initialised).
    torch.cuda.manual_seed_all(seed)
