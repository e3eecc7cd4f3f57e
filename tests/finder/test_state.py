"""``TrainingState`` and ``RngState``: a snapshot that puts everything back exactly."""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from lrtune.finder import find_lr
from lrtune.finder._state import RngState, TrainingState, has_train_mode

from .conftest import SetupFactory, Snapshot, draw_from_every_rng, make_dataset, make_model


def _train_in_place(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 3) -> None:
    """What a sweep does to the state: in-place updates, new LRs, grads and modes."""
    x, y = make_dataset(n=64, seed=3).tensors
    model.train()
    for group in optimizer.param_groups:
        group["lr"] = 0.5
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize("kind", ["adam", "sgd-momentum"])
def test_restore_undoes_in_place_training(
    kind: str, used_setup: SetupFactory, snapshot: Callable[..., Snapshot]
) -> None:
    model, optimizer = used_setup(kind)
    before = snapshot(model, optimizer)
    state = TrainingState.capture(model, optimizer)

    _train_in_place(model, optimizer)
    with torch.no_grad():
        model[0].weight.mul_(2.0)  # in place: the capture must hold a copy, not a view
    assert not torch.equal(model[0].weight, before.params["0.weight"])
    assert not torch.equal(model[1].running_mean, before.buffers["1.running_mean"])
    assert model[1].training and model[-1].bias.grad is not None

    state.restore(model, optimizer)

    before.assert_unchanged(model, optimizer)


def test_restored_optimizer_still_steps_the_model_parameters(used_setup: SetupFactory) -> None:
    model, optimizer = used_setup("adam")
    state = TrainingState.capture(model, optimizer)
    _train_in_place(model, optimizer)
    state.restore(model, optimizer)

    weight = model[0].weight.detach().clone()
    _train_in_place(model, optimizer, steps=1)

    assert optimizer.param_groups[0]["params"][0] is model[0].weight
    assert not torch.equal(model[0].weight, weight)


def test_restore_brings_back_a_replaced_buffer(used_setup: SetupFactory) -> None:
    model, optimizer = used_setup("sgd-momentum")
    mean = model[1].running_mean.clone()
    state = TrainingState.capture(model, optimizer)
    model[1].running_mean = torch.full_like(mean, 7.0)  # as moving a module does

    state.restore(model, optimizer)

    assert torch.equal(model[1].running_mean, mean)


def test_restore_resets_the_grad_scaler() -> None:
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", growth_interval=1)
    state = TrainingState.capture(model, optimizer, scaler)
    for _ in range(3):
        optimizer.zero_grad()
        scaler.scale(model(torch.ones(2, 4)).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
    assert scaler._scale is not None and scaler.get_scale() == 2.0**19

    state.restore(model, optimizer, scaler)

    assert scaler._scale is None  # not yet initialised, as it was
    assert scaler.get_scale() == 2.0**16


def test_rng_state_restore_repeats_the_same_draws() -> None:
    state = RngState.capture()
    expected = draw_from_every_rng()
    for _ in range(5):
        random.random(), np.random.rand(3), torch.randn(4)

    state.restore()

    assert draw_from_every_rng() == expected


# --- Schedule-Free: a train/eval mode of the optimizer's own ------------------------------


@pytest.fixture
def schedulefree() -> ModuleType:
    return pytest.importorskip("schedulefree")


def _used_schedule_free(
    schedulefree: ModuleType, *, train_mode: bool
) -> tuple[nn.Sequential, torch.optim.Optimizer]:
    """AdamWScheduleFree after three steps (so its weights differ between the modes)."""
    model = make_model(seed=4)
    optimizer = schedulefree.AdamWScheduleFree(model.parameters(), lr=0.01, warmup_steps=2)
    optimizer.train()
    _train_in_place(model, optimizer)
    if not train_mode:
        optimizer.eval()
    return model, optimizer


@pytest.mark.parametrize("train_mode", [False, True])
def test_find_lr_sweeps_schedule_free_in_train_mode_and_restores_its_mode(
    train_mode: bool,
    schedulefree: ModuleType,
    loader: DataLoader[Any],
    snapshot: Callable[..., Snapshot],
) -> None:
    model, optimizer = _used_schedule_free(schedulefree, train_mode=train_mode)
    before = snapshot(model, optimizer)
    seen: list[bool] = []

    def watch(step: int, lr: float) -> None:
        seen.append(optimizer.param_groups[0]["train_mode"])

    result = find_lr(model, optimizer, loader, nn.CrossEntropyLoss(), num_iter=20, on_step=watch)

    assert len(result.history) > 0 and all(seen)  # step() refuses eval mode
    assert optimizer.param_groups[0]["train_mode"] is train_mode
    before.assert_unchanged(model, optimizer)  # weights, state, mode key, lrs: bit for bit


def test_a_schedule_free_optimizer_after_find_lr_trains_as_one_never_swept(
    schedulefree: ModuleType, loader: DataLoader[Any]
) -> None:
    swept, untouched = (_used_schedule_free(schedulefree, train_mode=False) for _ in range(2))
    find_lr(*swept, loader, nn.CrossEntropyLoss(), num_iter=20)
    for model, optimizer in (swept, untouched):
        optimizer.train()
        _train_in_place(model, optimizer, steps=2)
        optimizer.eval()
    assert torch.equal(swept[0][0].weight, untouched[0][0].weight)


def test_restore_sets_a_wrappers_own_train_mode_back(schedulefree: ModuleType) -> None:
    model = make_model(seed=5)
    optimizer = schedulefree.ScheduleFreeWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    weight = model[0].weight.detach().clone()
    state = TrainingState.capture(model, optimizer)  # type: ignore[arg-type]
    optimizer.train()
    _train_in_place(model, optimizer)  # type: ignore[arg-type]

    state.restore(model, optimizer)  # type: ignore[arg-type]

    assert optimizer.train_mode is False
    assert torch.equal(model[0].weight, weight)


def test_only_optimizers_with_a_mode_of_their_own_have_a_train_mode(
    schedulefree: ModuleType,
) -> None:
    params = list(make_model().parameters())
    assert has_train_mode(schedulefree.AdamWScheduleFree(params))
    assert has_train_mode(schedulefree.SGDScheduleFree(params))
    assert has_train_mode(schedulefree.ScheduleFreeWrapper(torch.optim.SGD(params, lr=0.1)))
    assert not has_train_mode(torch.optim.AdamW(params))
