"""The trial objective: sample a configuration, train it, report every epoch, prune.

Each trial records, as user attributes, its configuration, seed, host, device (and
physical GPU), torch's CPU threads, per-epoch validation values and learning rates, and
why it was pruned. A diverged run (NaN/inf or an exploding validation loss) is pruned at
once with the reason recorded.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import optuna
import torch

from lrtune.storage import write_held
from lrtune.study._space import SearchSpace
from lrtune.tasks import Task
from lrtune.training import EpochEnd, TrainingRun, train

if TYPE_CHECKING:
    from lrtune.study._settings import StudySettings

Objective = Literal["val_loss", "metric"]
OBJECTIVES: tuple[Objective, ...] = ("val_loss", "metric")


@dataclass
class TrialObjective:
    """The callable ``study.optimize`` runs: one training run per trial.

    Args:
        task: The task every trial trains.
        space: Where configurations come from.
        epochs: The length of every trial's run.
        objective: ``"val_loss"`` (minimized) or ``"metric"`` (the task's, in its direction).
        seed: Trial ``n`` trains with seed ``seed + n``, so any trial can be rerun alone.
        device: Where to train.
    """

    task: Task
    space: SearchSpace
    epochs: int
    objective: Objective = "val_loss"
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def for_study(cls, task: Task, settings: StudySettings, device: torch.device) -> TrialObjective:
        """The objective of the study ``settings`` describe, training ``task`` on ``device``."""
        return cls(task, settings.space, settings.epochs, settings.objective, settings.seed, device)

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.space.sample(trial)
        seed = self.seed + trial.number
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("device", _device_name(self.device))
        trial.set_user_attr("threads", torch.get_num_threads())
        gpu = gpu_label(self.device)
        if gpu is not None:
            trial.set_user_attr("gpu", gpu)
        write_held(trial)  # the configuration, in one transaction, before training
        reporter = _Reporter(trial, self.objective)
        try:
            run = train(
                self.task,
                config,
                seed=seed,
                epochs=self.epochs,
                device=self.device,
                on_epoch=reporter,
            )
        except optuna.TrialPruned as pruned:
            reporter.save(f"pruned by {type(trial.study.pruner).__name__}: {pruned}")
            raise
        return reporter.finish(run)


class _Reporter:
    """Reports each epoch to Optuna, keeps the per-epoch record, and stores it once."""

    def __init__(self, trial: optuna.Trial, objective: Objective) -> None:
        self.trial = trial
        self.objective = objective
        self.val_losses: list[float] = []
        self.val_metrics: list[float | None] = []
        self.lrs: list[list[float]] = []

    def __call__(self, end: EpochEnd) -> None:
        self._add(end.evaluation.loss, end.evaluation.metric, end.lr)
        self.trial.report(
            _value(end.evaluation.loss, end.evaluation.metric, self.objective), end.epoch
        )
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"at epoch {end.epoch}")

    def finish(self, run: TrainingRun) -> float:
        if run.diverged:
            # The epoch that diverged never reached __call__; record it too.
            self._add(run.val_losses[-1], None, run.lrs[-1])
            reason = f"diverged: {run.diverged_reason}"
            self.save(reason)
            raise optuna.TrialPruned(reason)
        self.save(None)
        return _value(run.val_losses[-1], run.val_metrics[-1], self.objective)

    def save(self, pruned_reason: str | None) -> None:
        trial = self.trial
        trial.set_user_attr("val_losses", _finite_or_none(self.val_losses))
        if any(m is not None for m in self.val_metrics):
            trial.set_user_attr("val_metrics", _finite_or_none(self.val_metrics))
        trial.set_user_attr("lrs", self.lrs)
        trial.set_user_attr("epochs_run", len(self.val_losses))
        if pruned_reason is not None:
            trial.set_user_attr("pruned_reason", pruned_reason)

    def _add(self, loss: float, metric: float | None, lr: Any) -> None:
        self.val_losses.append(loss)
        self.val_metrics.append(metric)
        self.lrs.append([lr.mean, lr.low, lr.high])


def _device_name(device: torch.device) -> str:
    """``"cuda:0"`` rather than ``"cuda"``: the device a trial actually ran on."""
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return str(device)


def gpu_label(device: torch.device) -> str | None:
    """The physical GPU a CUDA device is (``"1: NVIDIA H100 80GB HBM3"``), else None.

    A worker started with ``CUDA_VISIBLE_DEVICES=1`` trains on its ``cuda:0``, which is
    the machine's GPU 1.
    """
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    index = device.index if device.index is not None else torch.cuda.current_device()
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    physical = visible[index] if index < len(visible) and visible[index] else str(index)
    return f"{physical}: {torch.cuda.get_device_name(index)}"


def _value(loss: float, metric: float | None, objective: Objective) -> float:
    if objective == "val_loss":
        return loss
    if metric is None:
        raise ValueError("objective='metric', but the task's metric returned nothing.")
    return metric


def _finite_or_none(values: Sequence[float | None]) -> list[float | None]:
    # JSON has no NaN or inf; PostgreSQL's json type refuses them.
    return [v if v is not None and math.isfinite(v) else None for v in values]
