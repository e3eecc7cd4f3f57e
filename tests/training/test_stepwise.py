"""A run trained in pieces, between other runs, takes exactly the steps of ``train``."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from lrtune.examples import load_example
from lrtune.optimizers import OPTIMIZERS
from lrtune.training import train_constant_lr
from lrtune.training._stepwise import StepwiseRun


def factory(name: str):
    family = OPTIMIZERS.get(name)
    return lambda params, lr: family(params, lr)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_interleaved_pieces_match_an_uninterrupted_training(optimizer: str) -> None:
    task = load_example("digits-mlp")
    reference = train_constant_lr(task, optimizer, 0.01, seed=3, epochs=3)
    per_epoch = len(task.make_train_loader())
    mine = StepwiseRun(task, factory(optimizer), 0.01, seed=3, device="cpu")
    other = StepwiseRun(task, factory(optimizer), 0.5, seed=4, device="cpu")

    losses = []
    for epoch in range(1, 4):
        for piece in (7, 13, per_epoch):  # stop mid-epoch, and let the other run move on
            mine.advance(min(piece, per_epoch) + (epoch - 1) * per_epoch)
            other.advance(mine.steps + 5)
        losses.append(mine.validate())

    assert mine.initial_val_loss == reference.initial_val_loss
    assert losses == reference.val_losses
    assert mine.steps == 3 * per_epoch


def test_the_callers_random_state_is_left_alone() -> None:
    task = load_example("digits-mlp")
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)

    run = StepwiseRun(task, factory("sgd"), 0.1, seed=0, device="cpu")
    run.advance(10)
    run.validate()

    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


def test_a_diverging_run_stops_and_validates_as_inf() -> None:
    task = load_example("diabetes-mlp")
    run = StepwiseRun(task, factory("sgd"), 1e4, seed=0, device="cpu")

    run.advance(200)

    assert run.diverged and run.steps < 200
    assert run.validate() == math.inf


def test_a_factory_that_builds_no_optimizer_is_refused() -> None:
    with pytest.raises(TypeError, match=r"must return a torch\.optim\.Optimizer"):
        StepwiseRun(
            load_example("diabetes-mlp"), lambda params, lr: None, 0.1, seed=0, device="cpu"
        )
