"""One optimisation step of a sweep, and the validation pass of Smith's mode."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from lrtune._batch import BatchFn, OutputFn, batch_size, forward, to_device
from lrtune._first_batch import check_loss, check_targets
from lrtune.finder._state import has_train_mode

Criterion = Callable[[Any, Any], torch.Tensor]


@dataclass
class StepRunner:
    """Runs forward, backward and the optimizer step on the next batches.

    The loss comes back as a tensor: reading it (a device sync) is left to the caller,
    which batches those reads on CUDA and must detach a loss it keeps.

    A Schedule-Free optimizer is put in train mode before the first step (its ``step``
    refuses eval mode) and kept there, also for Smith's validation losses: the sweep
    measures the weights it trains, and switching to the averaged weights and back at
    every step would move them by rounding. ``TrainingState`` restores the mode.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    criterion: Criterion
    device: torch.device
    batch_fn: BatchFn
    output_fn: OutputFn
    accumulation_steps: int = 1
    amp_dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None
    _unchecked: bool = field(default=True, init=False, repr=False)
    """Whether the first batch is still to come: its targets and loss are checked."""

    def __post_init__(self) -> None:
        self._enter_train_mode = has_train_mode(self.optimizer)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def loss(self, batch: Any) -> torch.Tensor:
        return self._loss(*self.batch_fn(batch))

    def _loss(self, inputs: Any, targets: Any) -> torch.Tensor:
        inputs = to_device(inputs, self.device, non_blocking=True)
        targets = to_device(targets, self.device, non_blocking=True)
        if self._unchecked:
            return self._first_loss(inputs, targets)
        if self.amp_dtype is None:  # cheaper per step than entering a nullcontext
            return self.criterion(self.output_fn(forward(self.model, inputs)), targets)
        with self.autocast():
            return self.criterion(self.output_fn(forward(self.model, inputs)), targets)

    def _first_loss(self, inputs: Any, targets: Any) -> torch.Tensor:
        """The loss of the first batch, after checking the task's parts fit together."""
        with self.autocast():
            predictions = self.output_fn(forward(self.model, inputs))
            check_targets(predictions, targets, self.criterion, "train_loader")
            loss = self.criterion(predictions, targets)
        check_loss(loss, self.model if torch.is_grad_enabled() else None)
        self._unchecked = False
        return loss

    def step(self, batches: Iterator[Any]) -> torch.Tensor:
        """One optimizer step over ``accumulation_steps`` batches; returns the mean loss."""
        if self._enter_train_mode:
            # Before the forward pass: Schedule-Free takes its gradients at train weights.
            self.optimizer.train()  # type: ignore[attr-defined]
            self._enter_train_mode = False
        self.optimizer.zero_grad(set_to_none=True)
        if self.accumulation_steps == 1:
            loss = self._backward(next(batches))
        else:
            parts = [self._backward(next(batches)).detach() for _ in range(self.accumulation_steps)]
            loss = torch.stack(parts).sum()
        self._optimizer_step()
        return loss

    def _backward(self, batch: Any) -> torch.Tensor:
        loss = self.loss(batch)
        if self.accumulation_steps != 1:
            # Dividing by 1 changes no bit, but costs an op and an autograd node per step.
            loss = loss / self.accumulation_steps
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
        return loss

    def _optimizer_step(self) -> None:
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()

    @torch.no_grad()
    def validation_loss(self, loader: Any) -> torch.Tensor:
        """Sample-weighted mean loss over ``loader`` in eval mode (Smith's validation mode)."""
        self.model.eval()
        try:
            total, count = torch.zeros((), device=self.device), 0
            for batch in loader:
                inputs, targets = self.batch_fn(batch)
                size = batch_size(targets)
                loss = self._loss(inputs, targets).detach().float()
                total, count = total + loss * size, count + size
        finally:
            self.model.train()
        if count == 0:
            raise ValueError("val_loader is empty: it yielded no batch.")
        return total / count
