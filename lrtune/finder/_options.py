"""The range test's options, checked up front."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch

# Re-exported here until every caller imports it from lrtune.devices.
from lrtune._checks import is_int, is_number
from lrtune.finder._schedule import StepMode
from lrtune.finder._suggest import DEFAULT_RULE, RULES

MIN_NUM_ITER = 20
"""Fewer steps than this leave too few points for any rule to read a curve."""
MAX_NUM_ITER = 1_000_000
"""More steps than this would not fit the sweep's arrays and stored curve in memory."""

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class FinderOptions:
    """Every option of a range test, validated; stored with its result."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_iter: int = 100
    step_mode: str = "exp"
    smoothing: float = 0.98
    diverge_threshold: float = 4.0
    accumulation_steps: int = 1
    amp: str | None = None
    rule: str = DEFAULT_RULE
    validation: bool = False
    planned_steps: int | None = None

    def __post_init__(self) -> None:
        _check_lrs(self.start_lr, self.end_lr)
        _check_planned_steps(self.planned_steps)
        if not isinstance(self.num_iter, int) or self.num_iter < MIN_NUM_ITER:
            raise ValueError(
                f"num_iter must be an integer >= {MIN_NUM_ITER}, but got {self.num_iter!r}."
            )
        if self.num_iter > MAX_NUM_ITER:
            raise ValueError(
                f"num_iter must be at most {MAX_NUM_ITER:,}, but got {self.num_iter!r}: "
                "the sweep's curve would not fit in memory."
            )
        if self.step_mode not in {mode.value for mode in StepMode}:
            raise ValueError(f"step_mode must be 'exp' or 'linear', but got {self.step_mode!r}.")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must lie in [0, 1), but got {self.smoothing!r}.")
        if not self.diverge_threshold > 1.0:
            raise ValueError(f"diverge_threshold must be > 1, but got {self.diverge_threshold!r}.")
        if not isinstance(self.accumulation_steps, int) or self.accumulation_steps < 1:
            raise ValueError(
                f"accumulation_steps must be an integer >= 1, but got {self.accumulation_steps!r}."
            )
        if self.amp is not None and self.amp not in AMP_DTYPES:
            raise ValueError(f"amp must be None, 'bf16' or 'fp16', but got {self.amp!r}.")
        RULES.get(self.rule)

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return None if self.amp is None else AMP_DTYPES[self.amp]

    def to_dict(self) -> dict[str, Any]:
        # Every field is a plain value: asdict's recursive deep copy would only cost time.
        return {field.name: getattr(self, field.name) for field in fields(self)}


MAX_PLANNED_STEPS = 2**53
"""Far beyond any training run, and still exact as the JSON number it is stored as."""


def _check_planned_steps(planned_steps: int | None) -> None:
    if planned_steps is None:
        return
    integer = is_int(planned_steps)
    if not integer or not 1 <= planned_steps <= MAX_PLANNED_STEPS:
        raise ValueError(
            f"planned_steps must be None or an integer from 1 to 2**53, but got {planned_steps=}."
        )


def _check_lrs(start_lr: float, end_lr: float) -> None:
    for name, lr in (("start_lr", start_lr), ("end_lr", end_lr)):
        if not is_number(lr) or not math.isfinite(lr):
            raise ValueError(f"{name} must be a finite number, but got {lr!r}.")
    if not start_lr > 0:
        raise ValueError(f"start_lr must be > 0, but got {start_lr=}.")
    if not start_lr < end_lr:
        raise ValueError(f"start_lr must be below end_lr, but got {start_lr=} and {end_lr=}.")
