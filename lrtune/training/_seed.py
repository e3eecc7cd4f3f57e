"""Seeding every random number generator a training run draws from."""

from __future__ import annotations

import random

import numpy as np
import torch

_MAX_SEED = 2**32 - 1  # numpy's legacy seeding rejects anything larger


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], but got {seed=}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # manual_seed covers CUDA already; this keeps the intent visible and costs nothing
    # when CUDA is absent (the call is queued until CUDA is initialised).
    torch.cuda.manual_seed_all(seed)
