"""Training a task at a constant learning rate: the loop benchmarks and studies repeat.

A grid search runs this hundreds of times per task, so the loop reads the device only
once per epoch (the divergence check) and once per validation pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from lrtune._batch import forward, to_device
from lrtune.optimizers import build_optimizer
from lrtune.tasks import Task
from lrtune.training._evaluate import Evaluation, evaluate
from lrtune.training._seed import seed_everything

DIVERGENCE_FACTOR = 10.0
"""A validation loss above this multiple of the untrained model's loss counts as diverged."""


@dataclass(frozen=True)
class TrainingRun:
    """The outcome of ``train_constant_lr``; epochs are numbered from 1.

    Args:
        initial_val_loss: The validation loss of the untrained model.
        train_losses: The mean training loss (over steps) of each epoch that ran.
        val_losses: The validation loss after each epoch that ran; the epoch that
            diverged is recorded as ``inf``.
        val_metrics: The metric after each epoch (``None`` without a metric or when diverged).
        final_val_loss: The last entry of ``val_losses`` (``inf`` if the run diverged).
        best_val_loss: The lowest entry of ``val_losses``.
        diverged: Whether the run stopped early on divergence.
        diverged_at_epoch: The epoch it diverged in, or ``None``.
    """

    initial_val_loss: float
    train_losses: list[float]
    val_losses: list[float]
    val_metrics: list[float | None]
    final_val_loss: float
    best_val_loss: float
    diverged: bool
    diverged_at_epoch: int | None


def train_constant_lr(
    task: Task,
    optimizer: str,
    lr: float,
    *,
    seed: int = 0,
    epochs: int | None = None,
    device: torch.device | str = "cpu",
    optimizer_options: dict[str, Any] | None = None,
) -> TrainingRun:
    """Train a fresh model of ``task`` for ``epochs`` (default ``task.epochs``) at ``lr``.

    The model is built after ``seed_everything(seed)``, so equal seeds give equal runs.
    The model is evaluated on the validation loader (the training loader if the task has
    none) before training and after every epoch. The run stops at once, marked diverged,
    when an epoch's training loss is not finite or its validation loss is not finite or
    above ``DIVERGENCE_FACTOR`` times the initial validation loss.

    Args:
        task: The task to train.
        optimizer: A name registered in ``lrtune.optimizers.OPTIMIZERS`` ("adamw").
        lr: The constant learning rate.
        seed: Seeds Python, NumPy and torch before the model and loaders are built.
        epochs: How many epochs to train; ``None`` uses ``task.epochs``.
        device: Where to train.
        optimizer_options: Keyword options for the optimizer (``{"momentum": 0.8}``).
    """
    epochs = task.epochs if epochs is None else epochs
    _check_arguments(lr, epochs)
    seed_everything(seed)
    trainer = _Trainer.build(task, optimizer, lr, torch.device(device), optimizer_options or {})
    train_loader = task.make_train_loader()
    val_loader = task.make_val_loader()
    return trainer.run(train_loader, train_loader if val_loader is None else val_loader, epochs)


def _check_arguments(lr: float, epochs: int) -> None:
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, but got {lr=}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, but got {epochs=}.")


@dataclass
class _Trainer:
    task: Task
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device

    @classmethod
    def build(
        cls, task: Task, name: str, lr: float, device: torch.device, options: dict[str, Any]
    ) -> _Trainer:
        model = task.build_model().to(device)
        return cls(task, model, build_optimizer(name, model.parameters(), lr, **options), device)

    def run(
        self, train_loader: DataLoader[Any], val_loader: DataLoader[Any], epochs: int
    ) -> TrainingRun:
        history = _History(self.evaluate(val_loader).loss)
        for epoch in range(1, epochs + 1):
            train_loss = self.train_epoch(train_loader)
            if not math.isfinite(train_loss):
                return history.diverge(epoch, train_loss)
            evaluation = self.evaluate(val_loader)
            if history.is_divergent(evaluation.loss):
                return history.diverge(epoch, train_loss)
            history.add(train_loss, evaluation)
        return history.finish()

    def train_epoch(self, loader: DataLoader[Any]) -> float:
        """One pass over ``loader``; returns the mean loss over its steps."""
        self.model.train()
        total, steps = torch.zeros((), device=self.device), 0
        for batch in loader:
            total += self.step(batch)
            steps += 1
        if steps == 0:
            raise ValueError(f"Task {self.task.name!r}: the training loader yielded no batch.")
        return total.item() / steps

    def step(self, batch: Any) -> torch.Tensor:
        inputs, targets = self.task.batch_fn(batch)
        inputs, targets = to_device(inputs, self.device), to_device(targets, self.device)
        loss = self.task.criterion(self.task.output_fn(forward(self.model, inputs)), targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def evaluate(self, loader: DataLoader[Any]) -> Evaluation:
        task = self.task
        return evaluate(
            self.model,
            loader,
            task.criterion,
            device=self.device,
            batch_fn=task.batch_fn,
            output_fn=task.output_fn,
            metric=task.metric,
        )


class _History:
    """The per-epoch record of a run, turned into a ``TrainingRun`` when it ends."""

    def __init__(self, initial_val_loss: float) -> None:
        self.initial_val_loss = initial_val_loss
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self.val_metrics: list[float | None] = []

    def is_divergent(self, val_loss: float) -> bool:
        if not math.isfinite(val_loss):
            return True
        # Without a finite positive reference there is no scale to exceed.
        initial = self.initial_val_loss
        return math.isfinite(initial) and initial > 0 and val_loss > DIVERGENCE_FACTOR * initial

    def add(self, train_loss: float, evaluation: Evaluation) -> None:
        self.train_losses.append(train_loss)
        self.val_losses.append(evaluation.loss)
        self.val_metrics.append(evaluation.metric)

    def diverge(self, epoch: int, train_loss: float) -> TrainingRun:
        self.add(train_loss, Evaluation(math.inf))
        return self.finish(diverged_at_epoch=epoch)

    def finish(self, diverged_at_epoch: int | None = None) -> TrainingRun:
        return TrainingRun(
            initial_val_loss=self.initial_val_loss,
            train_losses=self.train_losses,
            val_losses=self.val_losses,
            val_metrics=self.val_metrics,
            final_val_loss=self.val_losses[-1],
            best_val_loss=min(self.val_losses),
            diverged=diverged_at_epoch is not None,
            diverged_at_epoch=diverged_at_epoch,
        )
