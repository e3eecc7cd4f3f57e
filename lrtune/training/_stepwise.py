"""A training run that can be paused after any step and resumed, beside other runs.

Multi-fidelity searches train several candidates a little at a time in one process. Each
``StepwiseRun`` keeps its own model, optimizer, position in the data and random number
generators, and swaps its generators in while it trains, so a candidate trained in pieces
between others takes exactly the steps ``train`` would take with the same seed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from lrtune.finder import RngState, has_train_mode, loader_generators
from lrtune.tasks import Task
from lrtune.training._seed import seed_everything
from lrtune.training._train import FINITE_CHECK_STEPS, _Trainer, steps_per_epoch

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter], float], torch.optim.Optimizer]


class StepwiseRun:
    """Training at a constant LR one step at a time, paused between calls.

    With a registered optimizer's factory, the steps are exactly those of
    ``train_constant_lr(task, name, lr, seed=seed)``: same initialisation, same batches.

    Args:
        task: The task to train.
        make_optimizer: ``make_optimizer(params, lr)`` builds the optimizer.
        lr: The constant learning rate.
        seed: Seeds the model, the data order and every other draw, as ``train`` does.
        device: Where to train.

    Raises:
        ValueError: The task's training loader has no length.
    """

    def __init__(
        self,
        task: Task,
        make_optimizer: OptimizerFactory,
        lr: float,
        *,
        seed: int,
        device: torch.device | str,
    ) -> None:
        outside = RngState.capture()
        try:
            seed_everything(seed)
            self.trainer = _build(task, make_optimizer, lr, torch.device(device))
            self.train_loader: DataLoader[Any] = task.make_train_loader()
            val_loader = task.make_val_loader()
            self.val_loader = self.train_loader if val_loader is None else val_loader
            self.steps_per_epoch = steps_per_epoch(task, self.train_loader)
            self._batches: Iterator[Any] | None = None
            self.steps = 0
            self.diverged = False
            self.initial_val_loss = self._evaluate()
            self._rng = RngState.capture(loader_generators(self.train_loader))
        finally:
            outside.restore()

    def advance(self, steps: int) -> None:
        """Train until ``steps`` optimizer steps are done in all (never past a divergence)."""
        with self._own_rng():
            self.trainer.model.train()
            self.trainer._switch_optimizer("train")
            window = torch.zeros((), device=self.trainer.device)
            while self.steps < steps and not self.diverged:
                window += self.trainer.step(self._next_batch())
                self.steps += 1
                if self.steps % FINITE_CHECK_STEPS == 0 or self.steps == steps:
                    self.diverged = not math.isfinite(window.item())
                    window.zero_()

    def validate(self) -> float:
        """The validation loss now (``inf`` once diverged or if it is not finite)."""
        if self.diverged:
            return math.inf
        # A loader draws a seed from the global RNG even unshuffled: draw it from this run's.
        with self._own_rng():
            loss = self._evaluate()
        return loss if math.isfinite(loss) else math.inf

    @contextlib.contextmanager
    def _own_rng(self) -> Iterator[None]:
        outside = RngState.capture()
        self._rng.restore()
        try:
            yield
        finally:
            self._rng = RngState.capture(loader_generators(self.train_loader))
            outside.restore()

    def _evaluate(self) -> float:
        return self.trainer.evaluate(self.val_loader).loss

    def _next_batch(self) -> Any:
        if self._batches is None:
            self._batches = iter(self.train_loader)
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(self.train_loader)
            return next(self._batches)


def _build(
    task: Task, make_optimizer: OptimizerFactory, lr: float, device: torch.device
) -> _Trainer:
    model = task.build_model().to(device)
    optimizer = make_optimizer(model.parameters(), lr)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"make_optimizer must return a torch.optim.Optimizer, not {type(optimizer).__name__}."
        )
    return _Trainer(task, model, optimizer, device, train_eval=has_train_mode(optimizer))
