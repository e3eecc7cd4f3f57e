from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrtune import RegistryError
from lrtune.examples import load_example
from lrtune.tasks import Task
from lrtune.training import TrainingRun, train_constant_lr


@pytest.fixture(scope="module")
def digits_mlp() -> Task:
    return load_example("digits-mlp")


def line_task(*, val: bool = True) -> Task:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    data = TensorDataset(x, y)
    return Task(
        name="line",
        model=lambda: nn.Linear(3, 1),
        train_loader=lambda: DataLoader(data, batch_size=16, shuffle=True),
        val_loader=(lambda: DataLoader(data, batch_size=32)) if val else None,
        criterion=nn.MSELoss(),
        epochs=4,
    )


def test_same_seed_gives_identical_runs(digits_mlp: Task) -> None:
    first = train_constant_lr(digits_mlp, "adam", 1e-3, seed=3, epochs=2)
    second = train_constant_lr(digits_mlp, "adam", 1e-3, seed=3, epochs=2)
    assert first.val_losses == second.val_losses
    assert first == second


def test_different_seeds_give_different_runs() -> None:
    first = train_constant_lr(line_task(), "sgd", 1e-2, seed=0)
    second = train_constant_lr(line_task(), "sgd", 1e-2, seed=1)
    assert first.val_losses != second.val_losses


def test_huge_lr_diverges_with_infinite_final_loss(digits_mlp: Task) -> None:
    run = train_constant_lr(digits_mlp, "sgd", 1e4)
    assert run.diverged
    assert run.final_val_loss == math.inf
    assert run.diverged_at_epoch == len(run.val_losses)
    assert run.val_metrics[-1] is None


def test_sane_lr_reduces_the_loss_and_reports_the_metric(digits_mlp: Task) -> None:
    run = train_constant_lr(digits_mlp, "adam", 3e-3, epochs=3)
    assert not run.diverged and run.diverged_at_epoch is None
    assert len(run.val_losses) == len(run.val_metrics) == len(run.train_losses) == 3
    assert run.final_val_loss < run.initial_val_loss
    assert run.best_val_loss == min(run.val_losses)
    assert all(metric is not None and 0.5 < metric <= 1 for metric in run.val_metrics)


def test_task_without_val_loader_is_evaluated_on_the_train_loader() -> None:
    run = train_constant_lr(line_task(val=False), "adam", 1e-2)
    assert len(run.val_losses) == 4
    assert run.final_val_loss < run.initial_val_loss


def test_epochs_and_optimizer_options_override_the_defaults() -> None:
    plain = train_constant_lr(line_task(), "sgd", 1e-2, epochs=2)
    no_momentum = train_constant_lr(
        line_task(), "sgd", 1e-2, epochs=2, optimizer_options={"momentum": 0.0}
    )
    assert len(plain.val_losses) == 2
    assert plain.val_losses != no_momentum.val_losses


def test_loss_far_above_the_initial_one_counts_as_diverged() -> None:
    # SGD with momentum at lr=1 overshoots this quadratic: the losses grow but stay finite.
    run = train_constant_lr(line_task(), "sgd", 1.0, epochs=4)
    assert isinstance(run, TrainingRun)
    assert run.diverged and run.diverged_at_epoch == 2
    assert math.isfinite(run.train_losses[-1])
    assert run.val_losses == [pytest.approx(run.val_losses[0]), math.inf]
    assert run.best_val_loss == run.val_losses[0]


@pytest.mark.parametrize("lr", [0.0, -1.0, math.inf, math.nan])
def test_bad_lr_is_a_value_error(lr: float) -> None:
    with pytest.raises(ValueError, match="lr="):
        train_constant_lr(line_task(), "adam", lr)


def test_bad_epochs_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="epochs="):
        train_constant_lr(line_task(), "adam", 1e-3, epochs=0)


def test_unknown_optimizer_is_a_registry_error() -> None:
    with pytest.raises(RegistryError):
        train_constant_lr(line_task(), "nope", 1e-3)


class _Stream(torch.utils.data.IterableDataset):
    def __iter__(self):  # type: ignore[no-untyped-def]
        generator = torch.Generator().manual_seed(0)
        for _ in range(4):
            x = torch.randn(16, 3, generator=generator)
            yield x, x.sum(dim=1, keepdim=True)


def test_a_constant_rate_needs_no_loader_length_but_a_schedule_does() -> None:
    from lrtune.training import TrainingConfig, train

    task = Task(
        name="stream",
        model=lambda: nn.Linear(3, 1),
        train_loader=lambda: DataLoader(_Stream(), batch_size=None),
        criterion=nn.MSELoss(),
        epochs=2,
    )
    assert len(train_constant_lr(task, "sgd", 0.01).val_losses) == 2
    with pytest.raises(ValueError, match="need a training loader with a length"):
        train(task, TrainingConfig("sgd", 0.01, schedule="cosine"))
