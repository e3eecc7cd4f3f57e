"""``find_lr``: the range test as a user calls it, and what it leaves behind."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrtune.finder import RULES, FinderResult, StopReason, find_lr
from lrtune.finder._smoothing import ema

from .conftest import (
    BATCH_SIZE,
    N_FEATURES,
    CountingLoader,
    ModelFactory,
    SetupFactory,
    Snapshot,
    draw_from_every_rng,
    make_dataset,
    make_model,
    seed_everything,
)

QUIET = {"start_lr": 1e-4, "end_lr": 0.1, "num_iter": 20, "diverge_threshold": 1e9}
"""A short sweep that neither diverges nor blows up on the tiny models here."""


def _sgd(model: nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.1)


def _constant_loss(predictions: torch.Tensor, targets: Any) -> torch.Tensor:
    """1.0 whatever the model does, but still differentiable through it."""
    return predictions.sum() * 0.0 + 1.0


# --- restoring everything the sweep touched ----------------------------------------


@pytest.mark.parametrize("kind", ["adam", "sgd-momentum"])
def test_find_lr_restores_weights_buffers_grads_modes_and_optimizer(
    kind: str,
    used_setup: SetupFactory,
    snapshot: Callable[..., Snapshot],
    loader: DataLoader[Any],
    criterion: nn.Module,
) -> None:
    model, optimizer = used_setup(kind)
    before = snapshot(model, optimizer)
    assert optimizer.state and before.lrs == [1e-2, 3e-3]
    changed = []

    def watch(step: int, lr: float) -> None:
        changed.append(not torch.equal(model[0].weight, before.params["0.weight"]))
        changed.append(not torch.equal(model[1].running_var, before.buffers["1.running_var"]))

    # On the CPU path: ``watch`` compares against CPU copies while the sweep runs.
    result = find_lr(model, optimizer, loader, criterion, num_iter=30, on_step=watch, device="cpu")

    assert len(result.history) > 0 and all(changed)  # the sweep did train in place
    before.assert_unchanged(model, optimizer)
    assert not model[1].training and model[0].training


def test_find_lr_leaves_every_rng_where_it_was(
    dataset: TensorDataset, model_factory: ModelFactory, criterion: nn.Module
) -> None:
    def noisy_batch(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        scale = 1.0 + 0.01 * random.random() + 0.01 * float(np.random.rand())
        return x * scale, y

    model = model_factory(dropout=0.5)
    shuffled = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)
    seed_everything(11)
    expected = draw_from_every_rng()
    seed_everything(11)

    find_lr(model, _sgd(model), shuffled, criterion, batch_fn=noisy_batch, **QUIET)

    assert draw_from_every_rng() == expected


def _train(
    model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader[Any], steps: int
) -> None:
    done = 0
    while done < steps:
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            done += 1
            if done == steps:
                return


@pytest.mark.parametrize("kind", ["adam", "sgd-momentum"])
@pytest.mark.parametrize("own_generator", [False, True], ids=["global-rng", "loader-generator"])
def test_training_after_find_lr_is_bit_identical_to_training_without_it(
    kind: str, own_generator: bool, used_setup: SetupFactory, dataset: TensorDataset
) -> None:
    def train_from_seed(with_finder: bool) -> dict[str, torch.Tensor]:
        model, optimizer = used_setup(kind)
        model.train()
        seed_everything(123)
        generator = torch.Generator().manual_seed(5) if own_generator else None
        loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, generator=generator)
        if with_finder:
            find_lr(model, optimizer, loader, nn.CrossEntropyLoss(), num_iter=30)
        _train(model, optimizer, loader, steps=20)  # 2.5 epochs: reshuffled twice
        return model.state_dict()

    without, with_finder = train_from_seed(False), train_from_seed(True)

    assert without.keys() == with_finder.keys()
    for name, tensor in without.items():
        assert torch.equal(with_finder[name], tensor), name


class _Boom(Exception):
    pass


def test_find_lr_restores_state_when_the_criterion_raises(
    used_setup: SetupFactory, snapshot: Callable[..., Snapshot], loader: DataLoader[Any]
) -> None:
    model, optimizer = used_setup("adam")
    before = snapshot(model, optimizer)
    seed_everything(4)
    expected_draws = draw_from_every_rng()
    seed_everything(4)
    calls = 0

    def fails_on_fifth_call(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise _Boom("criterion failed")
        return nn.functional.cross_entropy(predictions, targets)

    with pytest.raises(_Boom, match="criterion failed"):
        find_lr(model, optimizer, loader, fails_on_fifth_call, start_lr=0.1, num_iter=30)

    assert calls == 5  # four optimizer steps ran before the failure
    before.assert_unchanged(model, optimizer)
    assert draw_from_every_rng() == expected_draws


def test_find_lr_restores_state_when_the_loader_raises(
    used_setup: SetupFactory, snapshot: Callable[..., Snapshot], dataset: TensorDataset
) -> None:
    model, optimizer = used_setup("sgd-momentum")
    before = snapshot(model, optimizer)
    batches = list(DataLoader(dataset, batch_size=BATCH_SIZE))

    class FailingLoader:
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from batches[:3]
            raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        find_lr(model, optimizer, FailingLoader(), nn.CrossEntropyLoss(), start_lr=0.1)

    before.assert_unchanged(model, optimizer)


def test_find_lr_restores_the_grad_scaler_it_was_given(
    model_factory: ModelFactory, loader: DataLoader[Any], criterion: nn.Module
) -> None:
    model = model_factory()
    optimizer = _sgd(model)
    scaler = torch.amp.GradScaler("cpu", growth_interval=1)
    x, y = next(iter(loader))
    with torch.autocast("cpu", dtype=torch.float16):
        loss = criterion(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    before = Snapshot.capture(model, optimizer, scaler)
    scales: list[float] = []

    result = find_lr(
        model,
        optimizer,
        loader,
        criterion,
        amp="fp16",
        scaler=scaler,
        on_step=lambda step, lr: scales.append(scaler.get_scale()),
        **QUIET,
    )

    assert scales[-1] > scales[0] > before.scaler["state_dict"]["scale"]  # the sweep used it
    assert np.isfinite(result.history["loss"]).all()
    before.assert_unchanged(model, optimizer, scaler)


# --- inputs, outputs and modes -----------------------------------------------------


def test_accumulation_sums_gradients_like_a_batch_twice_the_size(dataset: TensorDataset) -> None:
    half = CountingLoader(list(DataLoader(dataset, batch_size=BATCH_SIZE // 2)))
    full = DataLoader(dataset, batch_size=BATCH_SIZE)
    model_a, model_b = make_model(), make_model()
    options = {**QUIET, "start_lr": 1e-3, "end_lr": 1.0}

    accumulated = find_lr(
        model_a, _sgd(model_a), half, nn.CrossEntropyLoss(), accumulation_steps=2, **options
    )
    single = find_lr(model_b, _sgd(model_b), full, nn.CrossEntropyLoss(), **options)

    assert half.read == 2 * options["num_iter"]
    first_a, first_b = accumulated.history["loss"][0], single.history["loss"][0]
    assert first_a == pytest.approx(first_b, rel=1e-6)
    np.testing.assert_allclose(accumulated.history["loss"], single.history["loss"], rtol=1e-4)
    # The loss falls over the sweep, so matching curves mean matching updates too.
    assert accumulated.history["loss"].iloc[-1] < first_a


class _KeywordModel(nn.Module):
    def __init__(self, output: str) -> None:
        super().__init__()
        self.net = make_model()
        self.output = output

    def forward(self, *, x: torch.Tensor) -> Any:
        logits = self.net(x)
        if self.output == "logits-attribute":
            return SimpleNamespace(logits=logits, hidden=x)
        if self.output == "logits-key":
            return {"hidden": x, "logits": logits}
        return logits


@pytest.mark.parametrize("output", ["tensor", "logits-attribute", "logits-key"])
def test_dict_batches_and_wrapped_outputs_give_the_plain_curve(
    output: str, loader: DataLoader[Any]
) -> None:
    plain_model = make_model()
    plain = find_lr(plain_model, _sgd(plain_model), loader, nn.CrossEntropyLoss(), **QUIET)
    dict_batches = [{"x": x, "labels": y} for x, y in loader]
    model = _KeywordModel(output)

    result = find_lr(model, _sgd(model), dict_batches, nn.CrossEntropyLoss(), **QUIET)

    pd.testing.assert_frame_equal(result.history, plain.history)


def test_custom_batch_fn_and_output_fn_are_used(loader: DataLoader[Any]) -> None:
    plain_model = make_model()
    plain = find_lr(plain_model, _sgd(plain_model), loader, nn.CrossEntropyLoss(), **QUIET)
    packed = [torch.cat([x, y[:, None].float()], dim=1) for x, y in loader]  # label last

    class PairModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_model()

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, self.net(x)  # the prediction is second: the default would take x

    model = PairModel()
    result = find_lr(
        model,
        _sgd(model),
        packed,
        nn.CrossEntropyLoss(),
        batch_fn=lambda batch: (batch[:, :N_FEATURES], batch[:, N_FEATURES].long()),
        output_fn=lambda output: output[1],
        **QUIET,
    )

    pd.testing.assert_frame_equal(result.history, plain.history)


@pytest.mark.parametrize("train_mode", [True, False])
def test_validation_mode_records_the_mean_validation_loss(
    train_mode: bool, loader: DataLoader[Any]
) -> None:
    model = make_model(dropout=0.5)
    model.train(train_mode)
    x_val, y_val = make_dataset(n=100, seed=7).tensors  # batches of 32, 32, 32 and 4
    val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=BATCH_SIZE)
    independent: list[float] = []

    def evaluate(step: int, lr: float) -> None:
        model.eval()
        with torch.no_grad():
            independent.append(nn.functional.cross_entropy(model(x_val), y_val).item())
        model.train()

    result = find_lr(
        model,
        _sgd(model),
        loader,
        nn.CrossEntropyLoss(),
        val_loader=val_loader,
        on_step=evaluate,
        device="cpu",  # ``evaluate`` recomputes the loss on the CPU
        **QUIET,
    )

    assert result.options["validation"] is True
    np.testing.assert_allclose(result.history["loss"], independent, rtol=1e-6)
    assert all(module.training is train_mode for module in model.modules())


def test_validation_loss_after_a_tiny_step_is_the_initial_validation_loss(
    loader: DataLoader[Any],
) -> None:
    model = make_model()
    x_val, y_val = make_dataset(n=100, seed=7).tensors
    with torch.no_grad():
        initial = nn.functional.cross_entropy(model(x_val), y_val).item()

    result = find_lr(
        model,
        _sgd(model),
        loader,
        nn.CrossEntropyLoss(),
        val_loader=DataLoader(TensorDataset(x_val, y_val), batch_size=BATCH_SIZE),
        **{**QUIET, "start_lr": 1e-9},
    )

    assert result.history["loss"][0] == pytest.approx(initial, rel=1e-5)
    assert result.history["loss"].iloc[-1] < initial - 1e-3  # later points do move


def test_bf16_autocast_runs_on_cpu_with_finite_losses(loader: DataLoader[Any]) -> None:
    model = make_model()
    dtypes: set[torch.dtype] = set()

    def record_dtype(output: torch.Tensor) -> torch.Tensor:
        dtypes.add(output.dtype)
        return output

    result = find_lr(
        model, _sgd(model), loader, nn.CrossEntropyLoss(), amp="bf16", output_fn=record_dtype
    )

    assert dtypes == {torch.bfloat16}
    assert len(result.history) >= 20
    assert np.isfinite(result.history.to_numpy()).all()
    assert model[0].weight.dtype == torch.float32


def test_on_step_is_called_once_per_step_with_increasing_lrs(loader: DataLoader[Any]) -> None:
    model = make_model()
    calls: list[tuple[int, float]] = []

    result = find_lr(
        model,
        _sgd(model),
        loader,
        _constant_loss,
        num_iter=25,
        on_step=lambda step, lr: calls.append((step, lr)),
    )

    assert [step for step, _ in calls] == list(range(25))
    lrs = [lr for _, lr in calls]
    assert lrs == result.history["lr"].tolist()
    assert all(later > earlier for earlier, later in itertools.pairwise(lrs))


@pytest.mark.parametrize(
    ("step_mode", "expected"),
    [("exp", np.geomspace(1e-5, 1.0, 30)), ("linear", np.linspace(1e-5, 1.0, 30))],
)
def test_step_mode_spaces_the_lrs(
    step_mode: str, expected: np.ndarray, loader: DataLoader[Any]
) -> None:
    model = make_model()

    result = find_lr(
        model,
        _sgd(model),
        loader,
        _constant_loss,
        start_lr=1e-5,
        end_lr=1.0,
        num_iter=30,
        step_mode=step_mode,
    )

    lrs = result.history["lr"].to_numpy()
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert lrs[0] == pytest.approx(1e-5) and lrs[-1] == pytest.approx(1.0)


def test_exp_steps_are_geometric_and_linear_steps_are_even(loader: DataLoader[Any]) -> None:
    model = make_model()
    run = {"start_lr": 1e-3, "end_lr": 1.0, "num_iter": 20}
    exp = find_lr(model, _sgd(model), loader, _constant_loss, step_mode="exp", **run)
    linear = find_lr(model, _sgd(model), loader, _constant_loss, step_mode="linear", **run)

    ratios = np.diff(np.log(exp.history["lr"]))
    steps = np.diff(linear.history["lr"])
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)


# --- the result --------------------------------------------------------------------


def test_history_is_float64_lr_loss_and_the_ema_of_the_loss(loader: DataLoader[Any]) -> None:
    model = make_model()

    result = find_lr(model, _sgd(model), loader, nn.CrossEntropyLoss(), **QUIET)

    assert list(result.history.columns) == ["lr", "loss", "smoothed_loss"]
    assert list(result.history.dtypes) == [np.dtype("float64")] * 3
    np.testing.assert_array_equal(
        result.history["smoothed_loss"], ema(result.history["loss"], 0.98)
    )


def test_smoothing_option_sets_the_ema_beta(loader: DataLoader[Any]) -> None:
    model = make_model()

    result = find_lr(
        model, _sgd(model), loader, nn.CrossEntropyLoss(), **{**QUIET, "smoothing": 0.5}
    )

    np.testing.assert_array_equal(result.history["smoothed_loss"], ema(result.history["loss"], 0.5))
    assert not np.array_equal(result.history["smoothed_loss"], ema(result.history["loss"], 0.98))


def test_result_stores_options_optimizer_and_task(loader: DataLoader[Any]) -> None:
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.85, 0.99))

    result = find_lr(
        model,
        optimizer,
        loader,
        nn.CrossEntropyLoss(),
        accumulation_steps=2,
        device="cpu",
        rule="valley",
        task="toy",
        **QUIET,
    )

    assert result.options == {
        "start_lr": 1e-4,
        "end_lr": 0.1,
        "num_iter": 20,
        "step_mode": "exp",
        "smoothing": 0.98,
        "diverge_threshold": 1e9,
        "accumulation_steps": 2,
        "amp": None,
        "rule": "valley",
        "validation": False,
        "planned_steps": None,
        "device": "cpu",
        "optimizer_kind": "adam",
    }
    assert result.optimizer == "AdamW" and result.label == "toy/AdamW"
    assert result.optimizer_options["betas"] == [0.85, 0.99]
    assert "lr" not in result.optimizer_options
    assert result.rule == "valley" and result.task == "toy"
    assert result.started_at is not None and result.finished_at is not None
    assert result.started_at <= result.finished_at


def test_result_suggestion_is_the_rule_applied_to_the_history(loader: DataLoader[Any]) -> None:
    model = make_model()

    result = find_lr(model, _sgd(model), loader, nn.CrossEntropyLoss(), start_lr=1e-4)

    suggestion = result.suggest()
    assert result.rule in RULES
    assert (result.suggested_lr, result.min_lr, result.max_lr) == (
        suggestion.lr,
        suggestion.min_lr,
        suggestion.max_lr,
    )
    assert result.suggested_lr is not None
    assert result.history["lr"].min() <= result.suggested_lr <= result.history["lr"].max()


def test_model_summary_counts_parameters() -> None:
    model = make_model(batchnorm=True, hidden=16)  # 8*16+16, 16+16, 16*3+3
    model[1].weight.requires_grad_(False)

    result = find_lr(model, _sgd(model), _toy_batches(), _constant_loss, num_iter=20)

    assert result.model_summary == {
        "class": "Sequential",
        "parameters": 144 + 32 + 51,
        "trainable": 144 + 16 + 51,
        "modules": 5,
    }


def _toy_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = make_dataset(n=64).tensors
    return [(x[:32], y[:32]), (x[32:], y[32:])]


# --- negative losses -----------------------------------------------------------------


def test_a_shifted_loss_gives_the_same_suggestions(loader: DataLoader[Any]) -> None:
    def sweep(shift: float) -> FinderResult:
        model = make_model()
        optimizer = _sgd(model)
        return find_lr(
            model,
            optimizer,
            loader,
            lambda p, t: nn.functional.cross_entropy(p, t) + shift,
            start_lr=1e-4,
            end_lr=3.0,
            num_iter=60,
        )

    plain, shifted = sweep(0.0), sweep(-10.0)

    assert plain.stop_reason is shifted.stop_reason is StopReason.COMPLETED
    assert (shifted.history["loss"] < 0).all()
    np.testing.assert_allclose(shifted.history["loss"] + 10.0, plain.history["loss"], atol=1e-5)
    for rule in RULES:
        assert shifted.suggest(rule) == plain.suggest(rule), rule
    assert plain.suggested_lr is not None and math.isfinite(plain.suggested_lr)
