"""Breast cancer diagnosis (binary) with logistic regression on 30 features."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from lrtune.examples._data import breast_cancer, loader
from lrtune.tasks import Metric, Task
from lrtune.training import accuracy


def model() -> nn.Module:
    return nn.Linear(30, 1)


def train_loader() -> DataLoader[Any]:
    return loader(breast_cancer().x_train, breast_cancer().y_train, batch_size=32, shuffle=True)


def val_loader() -> DataLoader[Any]:
    return loader(breast_cancer().x_val, breast_cancer().y_val, batch_size=128, shuffle=False)


task = Task(
    name="breast-cancer-logreg",
    model=model,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.BCEWithLogitsLoss(),
    epochs=8,
    metric=Metric("accuracy", accuracy, "maximize"),
    description="Breast cancer binary diagnosis, logistic regression, BCE with logits.",
)
