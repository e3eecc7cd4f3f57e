"""Digits reconstruction: an MLP autoencoder through an 8-unit bottleneck."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from lrtune.examples._data import digits, loader
from lrtune.tasks import Task


def model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 32),
        nn.ReLU(),
        nn.Linear(32, 8),
        nn.ReLU(),
        nn.Linear(8, 32),
        nn.ReLU(),
        nn.Linear(32, 64),
    )


# The images are their own targets, so each batch is (x, x).
def train_loader() -> DataLoader[Any]:
    return loader(digits().x_train, digits().x_train, batch_size=64, shuffle=True)


def val_loader() -> DataLoader[Any]:
    return loader(digits().x_val, digits().x_val, batch_size=128, shuffle=False)


task = Task(
    name="digits-autoencoder",
    model=model,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.MSELoss(),
    epochs=8,
    description="Digits reconstruction, MLP 64-32-8-32-64, mean squared error.",
)
