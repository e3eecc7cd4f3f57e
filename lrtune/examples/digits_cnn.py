"""Digits as 1x8x8 images with a small CNN using batch normalization."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from lrtune.examples._data import digits, loader
from lrtune.tasks import Metric, Task
from lrtune.training import accuracy


def model() -> nn.Module:
    return nn.Sequential(
        _block(1, 8),  # 8x8 -> 4x4
        _block(8, 16),  # 4x4 -> 2x2
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 10),
    )


def _block(channels_in: int, channels_out: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


def train_loader() -> DataLoader[Any]:
    data = digits()
    return loader(data.x_train.view(-1, 1, 8, 8), data.y_train, batch_size=64, shuffle=True)


def val_loader() -> DataLoader[Any]:
    data = digits()
    return loader(data.x_val.view(-1, 1, 8, 8), data.y_val, batch_size=128, shuffle=False)


task = Task(
    name="digits-cnn",
    model=model,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.CrossEntropyLoss(),
    epochs=6,
    metric=Metric("accuracy", accuracy, "maximize"),
    description="Digits 1x8x8 images, two conv-BatchNorm-pool blocks, cross-entropy.",
)
