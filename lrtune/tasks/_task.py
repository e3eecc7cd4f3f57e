"""``Task``: a training problem described by the user."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader

from lrtune._batch import BatchFn, OutputFn, default_batch_fn, default_output_fn
from lrtune._exceptions import TaskError

LoaderSource = DataLoader[Any] | Callable[[], DataLoader[Any]]
Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class Metric:
    """A validation metric: ``fn(predictions, targets)`` gives the mean over a batch."""

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], float]
    direction: Direction = "maximize"

    def __post_init__(self) -> None:
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(
                f"direction must be 'minimize' or 'maximize', but got {self.direction!r}."
            )


@dataclass(frozen=True)
class Task:
    """A training problem: how to build the model, the data, the loss and the budget.

    Args:
        name: A short name, stored with every result.
        model: A factory that returns a fresh ``nn.Module`` each call.
        train_loader: A ``DataLoader``, or a factory returning one.
        val_loader: A ``DataLoader``, or a factory returning one; ``None`` if there is none.
        criterion: The loss, called as ``criterion(predictions, targets)``.
        epochs: How many epochs a full training run takes.
        metric: An optional validation metric with its direction.
        batch_fn: Splits a batch into ``(inputs, targets)``.
        output_fn: Extracts the prediction tensor from the model's output.
        description: One line shown in listings.
    """

    name: str
    model: Callable[[], torch.nn.Module]
    train_loader: LoaderSource
    criterion: Callable[[Any, Any], torch.Tensor]
    val_loader: LoaderSource | None = None
    epochs: int = 10
    metric: Metric | None = None
    batch_fn: BatchFn = field(default=default_batch_fn)
    output_fn: OutputFn = field(default=default_output_fn)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"name must be a non-empty string, but got {self.name!r}.")
        if not callable(self.model):
            raise ValueError(
                f"model must be a factory returning a fresh nn.Module, but got {self.model!r}."
            )
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, but got {self.epochs!r}.")

    def build_model(self) -> torch.nn.Module:
        """Return a fresh model from the factory."""
        model = self.model()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(
                f"Task {self.name!r}: model() must return an nn.Module, not {type(model).__name__}."
            )
        return model

    def make_train_loader(self) -> DataLoader[Any]:
        """Return the training loader (calling the factory if one was given)."""
        return self._resolve("train_loader", self.train_loader)

    def make_val_loader(self) -> DataLoader[Any] | None:
        """Return the validation loader, or ``None`` if the task has none."""
        return None if self.val_loader is None else self._resolve("val_loader", self.val_loader)

    def planned_steps(self, train_loader: DataLoader[Any] | None = None) -> int | None:
        """Optimizer steps of a full training run: ``epochs`` times the loader's length.

        ``None`` when the training loader has no length (an iterable dataset).
        """
        loader = self.make_train_loader() if train_loader is None else train_loader
        try:
            steps = len(loader)
        except TypeError:
            return None
        return self.epochs * steps if steps > 0 else None

    def _resolve(self, name: str, source: LoaderSource) -> DataLoader[Any]:
        if isinstance(source, DataLoader) or not callable(source):
            return source
        try:
            return source()
        except Exception as error:
            # The factory is the user's code: say which task and which loader failed.
            raise TaskError(
                f"Task {self.name!r}: {name}() raised {type(error).__name__}: {error}"
            ) from error
