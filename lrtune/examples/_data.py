"""The bundled datasets, split and standardized once per process.

Every split is seeded and standardized with training-split statistics only, so the
validation data never leaks into the inputs the model sees.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = 0
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    """Training and validation tensors of one dataset."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def loader(*tensors: torch.Tensor, batch_size: int, shuffle: bool) -> DataLoader[Any]:
    """A single-process loader over ``tensors``, indexed together."""
    return DataLoader(
        TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, num_workers=0
    )


@functools.cache
def digits() -> Split:
    """8x8 digit images as 64 standardized pixels; int64 class labels."""
    x, y = load_digits(return_X_y=True)
    return _split(x, y.astype(np.int64), stratify=True)


@functools.cache
def diabetes() -> Split:
    """10 standardized features; the standardized target with shape ``(N, 1)``."""
    x, y = load_diabetes(return_X_y=True)
    split = _split(x, y.reshape(-1, 1).astype(np.float32))
    mean, std = _moments(split.y_train)
    return Split(
        split.x_train, (split.y_train - mean) / std, split.x_val, (split.y_val - mean) / std
    )


@functools.cache
def breast_cancer() -> Split:
    """30 standardized features; float 0/1 labels with shape ``(N, 1)`` for BCE."""
    x, y = load_breast_cancer(return_X_y=True)
    return _split(x, y.reshape(-1, 1).astype(np.float32), stratify=True)


@functools.cache
def wine() -> Split:
    """13 standardized features; int64 class labels."""
    x, y = load_wine(return_X_y=True)
    return _split(x, y.astype(np.int64), stratify=True)


def _split(x: np.ndarray, y: np.ndarray, *, stratify: bool = False) -> Split:
    x_train, x_val, y_train, y_val = train_test_split(
        x.astype(np.float32),
        y,
        test_size=VAL_FRACTION,
        random_state=SEED,
        stratify=y if stratify else None,
    )
    x_train, x_val = map(torch.from_numpy, (x_train, x_val))
    mean, std = _moments(x_train)
    return Split(
        (x_train - mean) / std,
        torch.from_numpy(y_train),
        (x_val - mean) / std,
        torch.from_numpy(y_val),
    )


def _moments(train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean, std = train.mean(dim=0), train.std(dim=0)
    # Some digit pixels are blank in every training image; leave them at zero.
    return mean, torch.where(std > 0, std, torch.ones_like(std))
