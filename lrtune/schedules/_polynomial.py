"""``polynomial``: ``PolynomialLR`` from the LR down to zero at the end of the run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lrtune._params import Param
from lrtune.schedules._base import Length, ScheduleFamily


class Polynomial(ScheduleFamily):
    """``lr * (1 - t / T) ** power``: linear decay at ``power=1``, steeper early above it."""

    name = "polynomial"
    scheduler_class = torch.optim.lr_scheduler.PolynomialLR
    params = (Param("power", 1.0, 0.5, 3.0, limits=(0.01, 100.0), help="exponent of the decay"),)
    description = "polynomial decay to zero at the end"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        return {"total_iters": length.total_steps, "power": v["power"]}
