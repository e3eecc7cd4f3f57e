"""Diabetes progression (regression) with a small MLP on the standardized target."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from lrtune.examples._data import diabetes, loader
from lrtune.tasks import Task


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))


def train_loader() -> DataLoader[Any]:
    return loader(diabetes().x_train, diabetes().y_train, batch_size=32, shuffle=True)


def val_loader() -> DataLoader[Any]:
    return loader(diabetes().x_val, diabetes().y_val, batch_size=128, shuffle=False)


task = Task(
    name="diabetes-mlp",
    model=model,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.MSELoss(),
    epochs=10,
    description="Diabetes regression, MLP 10-32-1, MSE on the standardized target.",
)
