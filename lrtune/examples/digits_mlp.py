"""Digits (8x8 images, 10 classes) with a one-hidden-layer MLP."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from lrtune.examples._data import digits, loader
from lrtune.tasks import Metric, Task
from lrtune.training import accuracy


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def train_loader() -> DataLoader[Any]:
    return loader(digits().x_train, digits().y_train, batch_size=64, shuffle=True)


def val_loader() -> DataLoader[Any]:
    return loader(digits().x_val, digits().y_val, batch_size=128, shuffle=False)


task = Task(
    name="digits-mlp",
    model=model,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.CrossEntropyLoss(),
    epochs=8,
    metric=Metric("accuracy", accuracy, "maximize"),
    description="Digits 8x8 images, MLP 64-64-10, cross-entropy.",
)
