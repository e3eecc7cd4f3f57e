"""Training a task with a ``TrainingConfig``: the loop benchmarks and study trials repeat.

A study runs this hundreds of times per task, so the loop reads the device only every
``FINITE_CHECK_STEPS`` steps (to stop at once on NaN/inf) and once per validation pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader

from lrtune._batch import forward, to_device
from lrtune._checks import is_int
from lrtune._first_batch import check_loss, check_targets
from lrtune.optimizers import OPTIMIZERS
from lrtune.schedules import Length, build_plan
from lrtune.tasks import Task
from lrtune.training._config import TrainingConfig
from lrtune.training._evaluate import Evaluation, evaluate
from lrtune.training._seed import seed_everything
from lrtune.training._stopping import stop_if_asked

DIVERGENCE_FACTOR = 10.0
"""A validation loss above this multiple of the untrained model's loss counts as diverged."""

FINITE_CHECK_STEPS = 16
"""How often (in steps) the loop reads the loss to stop on NaN/inf before the epoch ends."""


@dataclass(frozen=True)
class EpochLR:
    """The learning rate of the first parameter group over one epoch's steps."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class EpochEnd:
    """What ``on_epoch`` callbacks receive after each epoch's validation pass."""

    epoch: int
    train_loss: float
    evaluation: Evaluation
    lr: EpochLR


@dataclass(frozen=True)
class TrainingRun:
    """The outcome of ``train``; epochs are numbered from 1.

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
        lrs: The learning rate used in each epoch that ran.
        diverged_reason: Why the run was judged diverged, or ``None``.
    """

    initial_val_loss: float
    train_losses: list[float]
    val_losses: list[float]
    val_metrics: list[float | None]
    final_val_loss: float
    best_val_loss: float
    diverged: bool
    diverged_at_epoch: int | None
    lrs: list[EpochLR] = field(default_factory=list)
    diverged_reason: str | None = None


def train(
    task: Task,
    config: TrainingConfig,
    *,
    seed: int = 0,
    epochs: int | None = None,
    device: torch.device | str = "cpu",
    on_epoch: Callable[[EpochEnd], None] | None = None,
) -> TrainingRun:
    """Train a fresh model of ``task`` with ``config`` for ``epochs`` (default ``task.epochs``).

    The model is built after ``seed_everything(seed)``, so equal seeds give equal runs.
    It is evaluated on the validation loader (the training loader if the task has none)
    before training and after every epoch; an optimizer with ``needs_train_eval``
    (Schedule-Free) is switched by ``optimizer.train()`` before each epoch's steps and by
    ``optimizer.eval()`` before each evaluation. The run stops at once, marked diverged,
    when a training loss is not finite (checked every ``FINITE_CHECK_STEPS`` steps) or a
    validation loss is not finite or above ``DIVERGENCE_FACTOR`` times the initial one.

    Args:
        task: The task to train.
        config: The optimizer, learning rate and schedule.
        seed: Seeds Python, NumPy and torch before the model and loaders are built.
        epochs: How many epochs to train; ``None`` uses ``task.epochs``.
        device: Where to train.
        on_epoch: Called after each epoch that did not diverge; an exception it raises
            (``optuna.TrialPruned``, say) stops the run and propagates.
    """
    epochs = task.epochs if epochs is None else epochs
    _check_epochs(epochs)
    _check_schedule(config)
    seed_everything(seed)
    trainer = _Trainer.build(task, config, torch.device(device))
    train_loader = task.make_train_loader()
    val_loader = task.make_val_loader()
    trainer.start_plan(task, config, epochs, train_loader)
    val_loader = train_loader if val_loader is None else val_loader
    return trainer.run(train_loader, val_loader, epochs, on_epoch)


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
    """``train`` at a constant ``lr`` with the optimizer named ``optimizer``.

    Args:
        task: The task to train.
        optimizer: A name registered in ``lrtune.optimizers.OPTIMIZERS`` ("adamw").
        lr: The constant learning rate.
        seed: Seeds Python, NumPy and torch before the model and loaders are built.
        epochs: How many epochs to train; ``None`` uses ``task.epochs``.
        device: Where to train.
        optimizer_options: Keyword options for the optimizer (``{"momentum": 0.8}``).
    """
    config = TrainingConfig(optimizer, lr, optimizer_options or {})
    return train(task, config, seed=seed, epochs=epochs, device=device)


def _check_epochs(epochs: int) -> None:
    if not is_int(epochs) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, but got {epochs=}.")


def _check_schedule(config: TrainingConfig) -> None:
    family = OPTIMIZERS.get(config.optimizer)
    if not family.allows_schedule(config.schedule):
        raise ValueError(
            f"Optimizer {family.name!r} takes only the schedules {family.schedules}, "
            f"but got schedule={config.schedule!r}."
        )


def steps_per_epoch(task: Task, loader: DataLoader[Any]) -> int:
    """Batches per epoch of ``loader``: what schedule lengths are counted in."""
    try:
        steps = len(loader)
    except TypeError:
        raise ValueError(
            f"Task {task.name!r}: schedules need a training loader with a length "
            "(an iterable dataset has none)."
        ) from None
    if steps == 0:
        raise ValueError(f"Task {task.name!r}: the training loader yielded no batch.")
    return steps


class _Diverged(Exception):
    """Raised inside an epoch when a training loss is not finite."""


@dataclass
class _Trainer:
    task: Task
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    plan: Any = None
    train_eval: bool = False
    """Switch the optimizer too: ``train()`` before training steps, ``eval()`` before
    evaluating (Schedule-Free, which is evaluated at its averaged weights)."""
    checked: bool = False
    """Whether the first training step checked its targets and loss (``_first_batch``)."""

    @classmethod
    def build(cls, task: Task, config: TrainingConfig, device: torch.device) -> _Trainer:
        family = OPTIMIZERS.get(config.optimizer)
        model = task.build_model().to(device)
        options = family.kwargs(config.optimizer_params)
        optimizer = family(model.parameters(), config.lr, **options)
        return cls(task, model, optimizer, device, train_eval=family.needs_train_eval)

    def start_plan(
        self, task: Task, config: TrainingConfig, epochs: int, loader: DataLoader[Any]
    ) -> None:
        # A constant rate needs no plan, nor a loader with a length.
        if config.schedule == "constant" and config.warmup_ratio is None:
            return
        self.plan = build_plan(
            self.optimizer,
            config.schedule,
            config.lr,
            config.schedule_params,
            Length(epochs, steps_per_epoch(task, loader)),
            warmup_ratio=config.warmup_ratio,
        )

    def run(
        self,
        train_loader: DataLoader[Any],
        val_loader: DataLoader[Any],
        epochs: int,
        on_epoch: Callable[[EpochEnd], None] | None,
    ) -> TrainingRun:
        history = _History(self.evaluate(val_loader).loss)
        for epoch in range(1, epochs + 1):
            lrs: list[float] = []
            try:
                train_loss = self.train_epoch(train_loader, lrs)
            except _Diverged as error:
                return history.diverge(epoch, math.nan, _stats(lrs), str(error))
            evaluation = self.evaluate(val_loader)
            reason = history.divergence(train_loss, evaluation.loss)
            if reason is not None:
                return history.diverge(epoch, train_loss, _stats(lrs), f"{reason} at epoch {epoch}")
            history.add(train_loss, evaluation, _stats(lrs))
            if self.plan is not None:
                self.plan.after_epoch(evaluation.loss)
            if on_epoch is not None:
                on_epoch(EpochEnd(epoch, train_loss, evaluation, history.lrs[-1]))
        return history.finish()

    def train_epoch(self, loader: DataLoader[Any], lrs: list[float]) -> float:
        """One pass over ``loader``; returns the mean loss over its steps."""
        self.model.train()
        self._switch_optimizer("train")
        total, window, steps = 0.0, torch.zeros((), device=self.device), 0
        group = self.optimizer.param_groups[0]
        for batch in loader:
            lrs.append(float(group["lr"]))
            window += self.step(batch)
            steps += 1
            stop_if_asked()
            if steps % FINITE_CHECK_STEPS == 0:
                total += self._read(window, steps)
                window.zero_()
        if steps == 0:
            raise ValueError(f"Task {self.task.name!r}: the training loader yielded no batch.")
        return (total + self._read(window, steps)) / steps

    def _read(self, window: torch.Tensor, steps: int) -> float:
        value = window.item()
        if not math.isfinite(value):
            raise _Diverged(f"training loss {value} within the first {steps} steps")
        return value

    def step(self, batch: Any) -> torch.Tensor:
        inputs, targets = self.task.batch_fn(batch)
        inputs, targets = to_device(inputs, self.device), to_device(targets, self.device)
        predictions = self.task.output_fn(forward(self.model, inputs))
        loss = self._checked_loss(predictions, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.plan is not None:
            self.plan.after_step()
        return loss.detach()

    def _checked_loss(self, predictions: Any, targets: Any) -> torch.Tensor:
        """The criterion's loss; on the first step, after checking the task's parts fit."""
        if self.checked:
            return self.task.criterion(predictions, targets)
        check_targets(predictions, targets, self.task.criterion, "train_loader")
        loss = self.task.criterion(predictions, targets)
        check_loss(loss, self.model)
        self.checked = True
        return loss

    def _switch_optimizer(self, mode: Literal["train", "eval"]) -> None:
        if self.train_eval:
            getattr(self.optimizer, mode)()

    def evaluate(self, loader: DataLoader[Any]) -> Evaluation:
        task = self.task
        self._switch_optimizer("eval")
        return evaluate(
            self.model,
            loader,
            task.criterion,
            device=self.device,
            batch_fn=task.batch_fn,
            output_fn=task.output_fn,
            metric=task.metric,
        )


def _stats(lrs: list[float]) -> EpochLR:
    if not lrs:
        return EpochLR(math.nan, math.nan, math.nan)
    return EpochLR(sum(lrs) / len(lrs), min(lrs), max(lrs))


class _History:
    """The per-epoch record of a run, turned into a ``TrainingRun`` when it ends."""

    def __init__(self, initial_val_loss: float) -> None:
        self.initial_val_loss = initial_val_loss
        self.train_losses: list[float] = []
        self.val_losses: list[float] = []
        self.val_metrics: list[float | None] = []
        self.lrs: list[EpochLR] = []

    def divergence(self, train_loss: float, val_loss: float) -> str | None:
        """Why the epoch counts as diverged, or ``None``."""
        if not math.isfinite(train_loss):
            return f"training loss {train_loss}"
        if not math.isfinite(val_loss):
            return f"validation loss {val_loss}"
        # Without a finite positive reference there is no scale to exceed.
        initial = self.initial_val_loss
        if math.isfinite(initial) and initial > 0 and val_loss > DIVERGENCE_FACTOR * initial:
            return (
                f"validation loss {val_loss:.4g} above {DIVERGENCE_FACTOR:g}x "
                f"the initial {initial:.4g}"
            )
        return None

    def add(self, train_loss: float, evaluation: Evaluation, lr: EpochLR) -> None:
        self.train_losses.append(train_loss)
        self.val_losses.append(evaluation.loss)
        self.val_metrics.append(evaluation.metric)
        self.lrs.append(lr)

    def diverge(self, epoch: int, train_loss: float, lr: EpochLR, reason: str) -> TrainingRun:
        self.add(train_loss, Evaluation(math.inf), lr)
        return self.finish(diverged_at_epoch=epoch, reason=reason)

    def finish(
        self, diverged_at_epoch: int | None = None, reason: str | None = None
    ) -> TrainingRun:
        return TrainingRun(
            initial_val_loss=self.initial_val_loss,
            train_losses=self.train_losses,
            val_losses=self.val_losses,
            val_metrics=self.val_metrics,
            final_val_loss=self.val_losses[-1],
            best_val_loss=min(self.val_losses),
            diverged=diverged_at_epoch is not None,
            diverged_at_epoch=diverged_at_epoch,
            lrs=self.lrs,
            diverged_reason=reason,
        )
