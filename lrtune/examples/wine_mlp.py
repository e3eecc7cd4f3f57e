"""Wine cultivars (3 classes) with a small MLP."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from lrtune.examples._data import loader, wine
from lrtune.tasks import Metric, Task
from lrtune.training import accuracy


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.Linear(16, 3))


def train_loader() -> DataLoader[Any]:
    return loader(wine().x_train, wine().y_train, batch_size=32, shuffle=True)


def val_loader() -> DataLoader[Any]:
    return loader(wine().x_val, wine().y_val, batch_size=64, shuffle=False)


task = Task(
    name="wine-mlp",
    model=model,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.CrossEntropyLoss(),
    epochs=10,
    metric=Metric("accuracy", accuracy, "maximize"),
    description="Wine cultivars, MLP 13-16-3, cross-entropy.",
)
