"""Tiny models and seeded data: every range test here takes milliseconds."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

matplotlib.use("Agg")

N_FEATURES = 8
N_CLASSES = 3
N_SAMPLES = 256
BATCH_SIZE = 32

ModelFactory = Callable[..., nn.Sequential]
SetupFactory = Callable[[str], tuple[nn.Sequential, torch.optim.Optimizer]]


def make_dataset(n: int = N_SAMPLES, seed: int = 0) -> TensorDataset:
    """A learnable 3-class problem: labels from a random linear teacher plus noise.

    The teacher is the same for every ``seed``, so another seed gives a validation set.
    """
    teacher = torch.randn(N_FEATURES, N_CLASSES, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(n, N_FEATURES, generator=generator)
    noise = 0.5 * torch.randn(n, N_CLASSES, generator=generator)
    return TensorDataset(x, (x @ teacher + noise).argmax(dim=1))


def make_model(
    seed: int = 0, *, batchnorm: bool = False, dropout: float = 0.0, hidden: int = 16
) -> nn.Sequential:
    """Linear [-> BatchNorm] -> ReLU [-> Dropout] -> Linear, initialised from ``seed``.

    The global RNG is left untouched, so building a model never shifts a test's draws.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = [nn.Linear(N_FEATURES, hidden)]
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden, N_CLASSES))
        return nn.Sequential(*layers)


def make_used_setup(kind: str) -> tuple[nn.Sequential, torch.optim.Optimizer]:
    """A model and optimizer in the middle of training, with every kind of state set.

    BatchNorm and Dropout; two param groups with different LRs; optimizer state from three
    real steps; ``.grad`` set on all parameters but one; the BatchNorm module in eval mode.
    """
    model = make_model(seed=1, batchnorm=True, dropout=0.2)
    groups: list[dict[str, Any]] = [
        {"params": [*model[0].parameters(), *model[1].parameters()], "lr": 1e-2},
        {"params": list(model[-1].parameters()), "lr": 3e-3},
    ]
    optimizer: torch.optim.Optimizer
    if kind == "adam":
        optimizer = torch.optim.Adam(groups, betas=(0.8, 0.99))
    elif kind == "sgd-momentum":
        optimizer = torch.optim.SGD(groups, momentum=0.9, weight_decay=1e-4)
    else:
        raise ValueError(kind)
    x, y = make_dataset(n=64, seed=9).tensors
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        for step in range(4):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            if step < 3:
                optimizer.step()
    model[-1].bias.grad = None
    model[1].eval()
    return model, optimizer


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def draw_from_every_rng() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1).item())


class CountingLoader:
    """Re-iterable batches that count how many were read; ``sized=False`` hides ``len``."""

    def __init__(self, batches: list[Any], *, sized: bool = True) -> None:
        self.batches = batches
        self.sized = sized
        self.read = 0

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches:
            self.read += 1
            yield batch

    def __len__(self) -> int:
        if not self.sized:
            raise TypeError("this loader has no length")
        return len(self.batches)


def assert_same_tree(actual: Any, expected: Any, path: str = "") -> None:
    """Nested dicts, lists and tensors equal; tensors bit for bit, dtype included."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), path
        assert actual.dtype == expected.dtype, path
        assert actual.device == expected.device, path
        assert torch.equal(actual, expected), path
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert actual.keys() == expected.keys(), path
        for key in expected:
            assert_same_tree(actual[key], expected[key], f"{path}/{key}")
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected), path
        assert len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_tree(a, e, f"{path}/{index}")
    else:
        assert actual == expected, path


@dataclass
class Snapshot:
    """Everything ``find_lr`` promises to leave as it was, copied."""

    param_ids: list[int]
    params: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]
    grads: dict[str, torch.Tensor | None]
    modes: dict[str, bool]
    optimizer: dict[str, Any]
    lrs: list[float]
    scaler: dict[str, Any] | None

    @classmethod
    def capture(
        cls,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler | None = None,
    ) -> Snapshot:
        named = dict(model.named_parameters())
        return cls(
            param_ids=[id(p) for p in model.parameters()],
            params={name: p.detach().clone() for name, p in named.items()},
            buffers={name: b.clone() for name, b in model.named_buffers()},
            grads={name: None if p.grad is None else p.grad.clone() for name, p in named.items()},
            modes={name: module.training for name, module in model.named_modules()},
            optimizer=copy.deepcopy(optimizer.state_dict()),
            lrs=[group["lr"] for group in optimizer.param_groups],
            scaler=None if scaler is None else _scaler_state(scaler),
        )

    def assert_unchanged(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        now = Snapshot.capture(model, optimizer, scaler)
        assert now.param_ids == self.param_ids, "parameters were replaced, not restored"
        assert now.modes == self.modes
        assert now.lrs == self.lrs
        assert_same_tree(now.params, self.params, "params")
        assert_same_tree(now.buffers, self.buffers, "buffers")
        assert now.grads.keys() == self.grads.keys()
        for name, grad in self.grads.items():
            if grad is None:
                assert now.grads[name] is None, name
            else:
                assert_same_tree(now.grads[name], grad, f"grad/{name}")
        assert_same_tree(now.optimizer, self.optimizer, "optimizer")
        assert_same_tree(now.scaler, self.scaler, "scaler")


def _scaler_state(scaler: torch.amp.GradScaler) -> dict[str, Any]:
    return {
        "state_dict": scaler.state_dict(),
        "scale": None if scaler._scale is None else scaler._scale.clone(),
        "growth_tracker": (
            None if scaler._growth_tracker is None else scaler._growth_tracker.clone()
        ),
    }


@pytest.fixture
def dataset() -> TensorDataset:
    return make_dataset()


@pytest.fixture
def loader(dataset: TensorDataset) -> DataLoader[Any]:
    """Eight batches of 32, in a fixed order."""
    return DataLoader(dataset, batch_size=BATCH_SIZE)


@pytest.fixture
def model_factory() -> ModelFactory:
    return make_model


@pytest.fixture
def used_setup() -> SetupFactory:
    return make_used_setup


@pytest.fixture
def snapshot() -> Callable[..., Snapshot]:
    return Snapshot.capture


@pytest.fixture
def criterion() -> nn.Module:
    return nn.CrossEntropyLoss()


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """Tensors this small gain nothing from threads, and on a busy machine wait on them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
