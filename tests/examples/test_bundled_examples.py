from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from lrtune import TaskError
from lrtune.examples import EXAMPLES, _data, load_example
from lrtune.tasks import Task, load_task
from lrtune.training import train_constant_lr

REPO = Path(__file__).resolve().parents[2]
REQUIRED = [
    "breast-cancer-logreg",
    "diabetes-mlp",
    "digits-autoencoder",
    "digits-cnn",
    "digits-gru",
    "digits-mlp",
]


def first_batch_loss(task: Task) -> torch.Tensor:
    inputs, targets = task.batch_fn(next(iter(task.make_train_loader())))
    return task.criterion(task.output_fn(task.build_model()(inputs)), targets)


def test_the_promised_examples_are_listed() -> None:
    assert set(REQUIRED) <= set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_is_named_after_its_module(name: str) -> None:
    task = load_example(name)
    assert task.name == name
    assert EXAMPLES[name] == f"lrtune.examples.{name.replace('-', '_')}"
    assert 1 <= task.epochs <= 10


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_one_batch_gives_a_finite_scalar_loss(name: str) -> None:
    loss = first_batch_loss(load_example(name))
    assert loss.dim() == 0
    assert math.isfinite(loss.item())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_model_factory_returns_fresh_modules(name: str) -> None:
    task = load_example(name)
    first, second = task.build_model(), task.build_model()
    assert first is not second
    assert next(first.parameters()) is not next(second.parameters())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_validation_loader_is_not_shuffled(name: str) -> None:
    task = load_example(name)
    val = task.make_val_loader()
    assert val is not None
    assert torch.cat([y for _, y in val]).equal(torch.cat([y for _, y in val]))
    assert isinstance(val.sampler, torch.utils.data.SequentialSampler)
    assert isinstance(task.make_train_loader().sampler, torch.utils.data.RandomSampler)


def test_digits_cnn_uses_batch_norm() -> None:
    model = load_example("digits-cnn").build_model()
    assert any(isinstance(module, nn.BatchNorm2d) for module in model.modules())


def test_digits_gru_reads_rows_with_a_gru() -> None:
    task = load_example("digits-gru")
    assert any(isinstance(module, nn.GRU) for module in task.build_model().modules())
    inputs, _ = next(iter(task.make_train_loader()))
    assert inputs.shape[1:] == (8, 8)


def test_digits_autoencoder_batches_are_their_own_targets() -> None:
    inputs, targets = next(iter(load_example("digits-autoencoder").make_train_loader()))
    assert inputs.equal(targets)


def test_example_data_is_the_same_on_every_load() -> None:
    first = _data.digits()
    _data.digits.cache_clear()
    second = _data.digits()
    assert first is not second
    assert first.x_train.equal(second.x_train) and first.y_val.equal(second.y_val)


def test_features_are_standardized_with_training_statistics() -> None:
    data = _data.breast_cancer()
    assert data.x_train.mean(dim=0).abs().max() < 1e-5
    assert data.x_train.std(dim=0).sub(1).abs().max() < 1e-5
    assert data.x_val.mean(dim=0).abs().max() > 1e-3


def test_diabetes_target_is_standardized() -> None:
    data = _data.diabetes()
    assert data.y_train.shape[1:] == (1,)
    assert abs(data.y_train.mean().item()) < 1e-5


def test_load_task_finds_an_example_by_name() -> None:
    assert load_task("digits-cnn") is load_example("digits-cnn")


def test_unknown_example_is_a_task_error() -> None:
    with pytest.raises(TaskError, match="Unknown example task 'nope'; choose one of: "):
        load_example("nope")


def test_user_example_file_loads_and_trains() -> None:
    task = load_task(str(REPO / "examples" / "my_task.py"))
    run = train_constant_lr(task, "adam", 1e-2, epochs=3)
    assert task.name == "iris-mlp"
    assert run.final_val_loss < run.initial_val_loss
