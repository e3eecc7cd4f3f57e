"""The sweep loop: cycling the loader, reading losses, and when it stops."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from lrtune._batch import default_batch_fn, default_output_fn
from lrtune.finder import StopReason, find_lr
from lrtune.finder._step import StepRunner
from lrtune.finder._sweep import Sweep, _Recorder, cycle

from .conftest import CountingLoader, ModelFactory, SetupFactory, Snapshot, make_model


def _sgd(model: nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.1)


def scripted_loss(values: Sequence[float]) -> Callable[[torch.Tensor, Any], torch.Tensor]:
    """A criterion returning ``values[call]``, still differentiable through the model."""
    calls = iter(values)

    def criterion(predictions: torch.Tensor, targets: Any) -> torch.Tensor:
        return predictions.sum() * 0.0 + next(calls)

    return criterion


# --- cycling the loader --------------------------------------------------------------


def test_a_loader_shorter_than_the_sweep_is_cycled(loader: DataLoader[Any]) -> None:
    short = CountingLoader(list(islice(loader, 3)))
    seen: list[int] = []

    def batch_fn(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        seen.append(next(i for i, b in enumerate(short.batches) if b is batch))
        return default_batch_fn(batch)

    model = make_model()
    result = find_lr(
        model,
        _sgd(model),
        short,
        nn.CrossEntropyLoss(),
        start_lr=1e-4,
        end_lr=0.1,
        num_iter=30,
        batch_fn=batch_fn,
    )

    assert len(result.history) == 30
    assert short.read == 30
    assert seen == [0, 1, 2] * 10


def test_cycle_restarts_the_loader_and_rejects_an_empty_one() -> None:
    assert list(islice(cycle([1, 2, 3]), 7)) == [1, 2, 3, 1, 2, 3, 1]
    with pytest.raises(ValueError, match="train_loader is empty"):
        next(cycle([]))


@pytest.mark.parametrize("sized", [True, False], ids=["with-len", "without-len"])
def test_an_empty_train_loader_raises_value_error(
    sized: bool, used_setup: SetupFactory, snapshot: Callable[..., Snapshot]
) -> None:
    model, optimizer = used_setup("adam")
    before = snapshot(model, optimizer)

    with pytest.raises(ValueError, match="train_loader is empty"):
        find_lr(model, optimizer, CountingLoader([], sized=sized), nn.CrossEntropyLoss())

    before.assert_unchanged(model, optimizer)


@pytest.mark.parametrize("sized", [True, False], ids=["with-len", "without-len"])
def test_an_empty_val_loader_raises_value_error(
    sized: bool,
    loader: DataLoader[Any],
    used_setup: SetupFactory,
    snapshot: Callable[..., Snapshot],
) -> None:
    model, optimizer = used_setup("sgd-momentum")
    before = snapshot(model, optimizer)

    with pytest.raises(ValueError, match="val_loader is empty"):
        find_lr(
            model,
            optimizer,
            loader,
            nn.CrossEntropyLoss(),
            val_loader=CountingLoader([], sized=sized),
        )

    before.assert_unchanged(model, optimizer)


def test_a_one_shot_iterator_that_runs_out_says_so(loader: DataLoader[Any]) -> None:
    model = make_model()

    with pytest.raises(ValueError, match="yielded 8 batches, then none when read again"):
        find_lr(model, _sgd(model), iter(loader), nn.CrossEntropyLoss(), num_iter=20)


# --- when the sweep stops ------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("step", [0, 7])
def test_a_non_finite_loss_stops_the_sweep_before_it_is_recorded(
    bad: float, step: int, loader: DataLoader[Any]
) -> None:
    calls = 0

    def criterion(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        loss = nn.functional.cross_entropy(predictions, targets)
        calls += 1
        return loss * bad if calls == step + 1 else loss

    model = make_model()
    # The CPU path reads every loss at once; CUDA reads 16 at a time and may run a few
    # steps past the bad one (test_cuda.py pins that the curve still ends there).
    result = find_lr(model, _sgd(model), loader, criterion, num_iter=40, device="cpu")

    assert result.stop_reason is StopReason.NON_FINITE
    assert len(result.history) == step
    assert np.isfinite(result.history.to_numpy()).all()
    assert f"step {step} " in result.stop_detail and "lr=" in result.stop_detail
    assert calls == step + 1  # nothing ran after the bad step
    if step < 8:  # too few points for any rule
        assert (result.suggested_lr, result.min_lr, result.max_lr) == (None, None, None)


def test_a_growing_loss_stops_as_diverged_naming_the_lr(loader: DataLoader[Any]) -> None:
    values = [1.0] * 10 + [1.5**k for k in range(1, 100)]
    model = make_model()

    result = find_lr(model, _sgd(model), loader, scripted_loss(values), num_iter=80)

    history = result.history
    assert result.stop_reason is StopReason.DIVERGED
    assert 10 < len(history) < 80
    last_lr = history["lr"].iloc[-1]
    assert f"lr={last_lr:.3g}" in result.stop_detail
    assert f"step {len(history) - 1} " in result.stop_detail
    smoothed = history["smoothed_loss"].to_numpy()
    assert smoothed[-1] > 4.0 * smoothed.min()
    assert (smoothed[:-1] <= 4.0 * np.minimum.accumulate(smoothed[:-1])).all()


def test_a_lower_divergence_threshold_stops_earlier(loader: DataLoader[Any]) -> None:
    values = [1.0] * 10 + [1.2**k for k in range(1, 100)]

    def stop_step(threshold: float) -> int:
        model = make_model()
        result = find_lr(
            model,
            _sgd(model),
            loader,
            scripted_loss(values),
            num_iter=100,
            diverge_threshold=threshold,
        )
        assert result.stop_reason is StopReason.DIVERGED
        return len(result.history)

    assert stop_step(2.0) < stop_step(4.0)


def test_a_falling_loss_completes_every_step(loader: DataLoader[Any]) -> None:
    model = make_model()

    result = find_lr(
        model, _sgd(model), loader, scripted_loss([2.0 - 0.005 * i for i in range(50)]), num_iter=50
    )

    assert result.stop_reason is StopReason.COMPLETED
    assert len(result.history) == 50
    assert result.stop_detail == "Completed all 50 steps."


def test_negative_losses_are_not_read_as_a_ratio(loader: DataLoader[Any]) -> None:
    model = make_model()
    falling = [-1.0 - 0.01 * i for i in range(40)]

    result = find_lr(model, _sgd(model), loader, scripted_loss(falling), num_iter=40)

    assert result.stop_reason is StopReason.COMPLETED
    np.testing.assert_allclose(result.history["loss"], falling)


def test_a_negative_loss_that_explodes_still_diverges(loader: DataLoader[Any]) -> None:
    values = [-1.0 - 0.05 * i for i in range(20)] + [float(2**k) for k in range(60)]
    model = make_model()

    result = find_lr(model, _sgd(model), loader, scripted_loss(values), num_iter=80)

    assert result.stop_reason is StopReason.DIVERGED
    assert len(result.history) < 80


# --- reading losses ------------------------------------------------------------------


def test_recorder_reads_losses_sync_every_steps() -> None:
    recorder = _Recorder(smoothing=0.0, diverge_threshold=4.0, sync_every=4)

    for step in range(3):
        assert recorder.push(0.1 * (step + 1), torch.tensor(1.0)) is False
    assert recorder.record.lrs == []
    recorder.push(0.4, torch.tensor(0.5))

    assert recorder.record.lrs == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert recorder.record.losses == [1.0, 1.0, 1.0, 0.5]


def test_recorder_drops_the_points_after_a_non_finite_one() -> None:
    recorder = _Recorder(smoothing=0.0, diverge_threshold=4.0, sync_every=4)
    losses = [1.0, 0.9, math.nan, 0.8]

    stops = [recorder.push(float(i), torch.tensor(loss)) for i, loss in enumerate(losses)]

    assert stops == [False, False, False, True]
    assert recorder.record.losses == pytest.approx([1.0, 0.9])
    assert recorder.record.stop_reason is StopReason.NON_FINITE
    assert "step 2 " in recorder.record.stop_detail


def test_sweep_flushes_the_points_still_waiting_at_the_end(
    loader: DataLoader[Any], model_factory: ModelFactory
) -> None:
    model = model_factory()
    runner = StepRunner(
        model=model,
        optimizer=_sgd(model),
        criterion=nn.CrossEntropyLoss(),
        device=torch.device("cpu"),
        batch_fn=default_batch_fn,
        output_fn=default_output_fn,
    )
    sweep = Sweep(
        runner=runner,
        lrs=np.geomspace(1e-4, 1e-2, 20),
        smoothing=0.98,
        diverge_threshold=4.0,
        sync_every=16,
    )

    record = sweep.run(loader)

    assert len(record.losses) == 20
    assert record.stop_reason is StopReason.COMPLETED
