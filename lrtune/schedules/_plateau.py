"""``plateau``: ``ReduceLROnPlateau`` on the validation loss, stepped once per epoch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lrtune._params import Param
from lrtune.schedules._base import Interval, Length, ScheduleFamily


class Plateau(ScheduleFamily):
    """Cut the LR by ``factor`` when the validation loss stops improving.

    ``patience_ratio`` is a fraction of the run's epochs, so a 4-epoch and a 40-epoch run
    wait the same share of their training before a cut.
    """

    name = "plateau"
    scheduler_class = torch.optim.lr_scheduler.ReduceLROnPlateau
    interval = Interval.EPOCH
    params = (
        Param("factor", 0.5, 0.1, 0.7, limits=(0.01, 0.99), help="factor applied at each cut"),
        Param(
            "patience_ratio",
            0.1,
            0.0,
            0.3,
            limits=(0.0, 1.0),
            help="epochs without improvement / epochs",
        ),
    )
    description = "cuts by factor when the validation loss stalls"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        patience = round(v["patience_ratio"] * length.epochs)
        return {"mode": "min", "factor": v["factor"], "patience": patience}
