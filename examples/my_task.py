"""An example task file: an iris classifier that lrtune can load.

Give lrtune its path, ``examples/my_task.py``: it picks up the module-level ``task``
(name another one with ``examples/my_task.py:NAME``). In Python::

    task = lrtune.tasks.load_task("examples/my_task.py")
"""

from __future__ import annotations

import functools

import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrtune
from lrtune.training import accuracy


# Cached so that the many runs of a study load and split the data only once.
@functools.cache
def splits() -> tuple[TensorDataset, TensorDataset]:
    x, y = load_iris(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=y
    )
    # Standardize with training statistics only, so validation data does not leak in.
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)

    def dataset(features, labels) -> TensorDataset:
        inputs = torch.tensor((features - mean) / std, dtype=torch.float32)
        return TensorDataset(inputs, torch.tensor(labels, dtype=torch.int64))

    return dataset(x_train, y_train), dataset(x_val, y_val)


# Factories, not objects: every training run gets a fresh model and fresh loaders.
def model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def train_loader() -> DataLoader:
    return DataLoader(splits()[0], batch_size=16, shuffle=True)


def val_loader() -> DataLoader:
    return DataLoader(splits()[1], batch_size=64)


task = lrtune.Task(
    name="iris-mlp",
    model=model,
    train_loader=train_loader,
    val_loader=val_loader,
    criterion=nn.CrossEntropyLoss(),
    epochs=10,
    metric=lrtune.Metric("accuracy", accuracy, direction="maximize"),
    description="Iris, MLP 4-16-3, cross-entropy.",
)
