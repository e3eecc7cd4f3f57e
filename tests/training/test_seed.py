from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lrtune.training import seed_everything


def draw() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_same_seed_gives_the_same_draws_everywhere() -> None:
    seed_everything(7)
    first = draw()
    seed_everything(7)
    assert draw() == first


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_bad_seed_is_a_value_error(seed: object) -> None:
    with pytest.raises(ValueError, match="seed="):
        seed_everything(seed)  # type: ignore[arg-type]
