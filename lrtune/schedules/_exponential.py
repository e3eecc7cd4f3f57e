"""``exponential``: ``ExponentialLR`` stepped per batch, decaying to a set fraction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lrtune._params import Param
from lrtune.schedules._base import Length, ScheduleFamily


class Exponential(ScheduleFamily):
    """A geometric decay; ``final_ratio`` fixes where it ends, whatever the run's length."""

    name = "exponential"
    scheduler_class = torch.optim.lr_scheduler.ExponentialLR
    params = (
        Param(
            "final_ratio",
            0.01,
            1e-3,
            0.5,
            log=True,
            limits=(1e-12, 1.0),
            help="LR at the end / LR at the start",
        ),
    )
    description = "geometric decay to final_ratio of the starting LR"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        final_ratio = self.resolve(values)["final_ratio"]
        return {"gamma": final_ratio ** (1 / length.total_steps)}
