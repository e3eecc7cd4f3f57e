"""``TrainingConfig``: everything a training run is trained with, as plain values.

A study's trial is one ``TrainingConfig``; it is stored as JSON on the trial, turned into
PyTorch code by ``lrtune best``, and rebuilt by ``from_dict`` to rerun the trial.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from lrtune._checks import is_number


@dataclass(frozen=True)
class TrainingConfig:
    """An optimizer, its learning rate and options, and a learning-rate schedule.

    Args:
        optimizer: A name from ``lrtune.optimizers.OPTIMIZERS``.
        lr: The learning rate the optimizer is built with: the peak of 1cycle and cyclical
            schedules, the starting rate of the others.
        optimizer_params: The optimizer's options, by the names its family searches
            (``beta1``, ``weight_decay``) or torch's own (``betas``).
        schedule: A name from ``lrtune.schedules.SCHEDULES``.
        schedule_params: The schedule's parameters (relative to the training length).
        warmup_ratio: The fraction of training spent in linear warmup; ``None`` for none.
    """

    optimizer: str
    lr: float
    optimizer_params: Mapping[str, Any] = field(default_factory=dict)
    schedule: str = "constant"
    schedule_params: Mapping[str, Any] = field(default_factory=dict)
    warmup_ratio: float | None = None

    def __post_init__(self) -> None:
        lr = self.lr
        if not is_number(lr) or not math.isfinite(lr):
            raise ValueError(f"lr must be a positive finite number, but got {lr=}.")
        if lr <= 0:
            raise ValueError(f"lr must be a positive finite number, but got {lr=}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        values = asdict(self)
        values["optimizer_params"] = dict(self.optimizer_params)
        values["schedule_params"] = dict(self.schedule_params)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingConfig:
        """The inverse of ``to_dict``."""
        return cls(**values)
