"""The sweep loop: raise the LR step by step, record the loss, stop when it diverges."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from lrtune.finder._result import StopReason
from lrtune.finder._smoothing import EmaSmoother, FloatArray
from lrtune.finder._step import StepRunner
from lrtune.finder._stopping import DivergenceCheck

StepCallback = Callable[[int, float], None]


@dataclass
class SweepRecord:
    """The points a sweep recorded and why it ended."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    stop_reason: StopReason = StopReason.COMPLETED
    stop_detail: str = ""


class _Recorder:
    """Reads losses, smooths them and applies the stop rules.

    Reading a CUDA loss waits for the GPU, so losses are read ``sync_every`` steps at a
    time; a sweep may then run a few steps past the one that diverged, which costs
    nothing because the state is restored afterwards and those points are dropped.
    """

    def __init__(self, smoothing: float, diverge_threshold: float, sync_every: int) -> None:
        self.record = SweepRecord()
        self._smoother = EmaSmoother(smoothing)
        self._check = DivergenceCheck(diverge_threshold)
        self._sync_every = sync_every
        self._pending: list[tuple[float, torch.Tensor]] = []
        self.stopped = False

    def push(self, lr: float, loss: torch.Tensor) -> bool:
        """Queue one point; return True once the sweep should stop."""
        if self._sync_every == 1:
            # Nothing to batch (CPU): read the loss now and skip the queue's bookkeeping.
            if self._add(lr, float(loss.item())):
                self.stopped = True
            return self.stopped
        self._pending.append((lr, loss.detach()))
        if len(self._pending) >= self._sync_every:
            self.flush()
        return self.stopped

    def flush(self) -> None:
        if not self._pending:
            return
        lrs, tensors = zip(*self._pending, strict=True)
        values = [tensors[0].item()] if len(tensors) == 1 else torch.stack(tensors).tolist()
        self._pending.clear()
        for lr, value in zip(lrs, values, strict=True):
            if self._add(lr, float(value)):
                self.stopped = True
                return

    def _add(self, lr: float, loss: float) -> bool:
        step = len(self.record.lrs)
        if not math.isfinite(loss):
            self._stop(StopReason.NON_FINITE, f"Stopped at step {step} (lr={lr:.3g}): loss={loss}.")
            return True
        smoothed = self._smoother.update(loss)
        self.record.lrs.append(lr)
        self.record.losses.append(loss)
        self.record.smoothed.append(smoothed)
        if self._check(smoothed):
            self._stop(
                StopReason.DIVERGED,
                f"Stopped at step {step} (lr={lr:.3g}): the smoothed loss {smoothed:.4g} "
                f"rose past {self._check.threshold:g}x its best {self._check.best:.4g}.",
            )
            return True
        return False

    def _stop(self, reason: StopReason, detail: str) -> None:
        self.record.stop_reason = reason
        self.record.stop_detail = detail


def cycle(loader: Iterable[Any]) -> Iterator[Any]:
    """Yield batches forever, starting the loader again when it runs out."""
    read = 0
    while True:
        empty = True
        for batch in loader:
            empty = False
            read += 1
            yield batch
        if empty and read:
            raise ValueError(
                f"train_loader yielded {read} batches, then none when read again: it is "
                "shorter than the sweep and cannot be restarted (an iterator, not a loader)."
            )
        if empty:
            raise ValueError("train_loader is empty: it yielded no batch.")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


@dataclass
class Sweep:
    """A configured sweep over ``lrs``."""

    runner: StepRunner
    lrs: FloatArray
    smoothing: float
    diverge_threshold: float
    val_loader: Iterable[Any] | None = None
    sync_every: int = 1
    on_step: StepCallback | None = None

    def run(self, train_loader: Iterable[Any]) -> SweepRecord:
        recorder = _Recorder(self.smoothing, self.diverge_threshold, self.sync_every)
        batches = cycle(train_loader)
        self.runner.model.train()
        for step, lr in enumerate(self.lrs.tolist()):
            if self._step(recorder, batches, step, lr):
                break
        recorder.flush()
        if not recorder.stopped:
            recorder.record.stop_detail = f"Completed all {len(self.lrs)} steps."
        return recorder.record

    def _step(self, recorder: _Recorder, batches: Iterator[Any], step: int, lr: float) -> bool:
        set_lr(self.runner.optimizer, lr)
        loss = self.runner.step(batches)
        if self.val_loader is not None:
            loss = self.runner.validation_loss(self.val_loader)
        if self.on_step is not None:
            self.on_step(step, lr)
        return recorder.push(lr, loss)
