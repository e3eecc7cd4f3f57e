"""Digits read row by row: a GRU over a sequence of eight 8-pixel rows."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from lrtune.examples._data import digits, loader
from lrtune.tasks import Metric, Task
from lrtune.training import accuracy


class RowGRU(nn.Module):
    """Classifies an image from the GRU's last hidden state after reading its rows."""

    def __init__(self, hidden_size: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size=8, hidden_size=hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 10)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        _, hidden = self.gru(rows)
        return self.head(hidden[-1])


def train_loader() -> DataLoader[Any]:
    data = digits()
    return loader(data.x_train.view(-1, 8, 8), data.y_train, batch_size=64, shuffle=True)


def val_loader() -> DataLoader[Any]:
    data = digits()
    return loader(data.x_val.view(-1, 8, 8), data.y_val, batch_size=128, shuffle=False)


task = Task(
    name="digits-gru",
    model=RowGRU,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.CrossEntropyLoss(),
    epochs=8,
    metric=Metric("accuracy", accuracy, "maximize"),
    description="Digits as 8 rows of 8 pixels, GRU(32) + linear head, cross-entropy.",
)
