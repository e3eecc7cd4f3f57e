"""``cosine`` and ``cosine_restarts``: cosine annealing, once or with warm restarts (SGDR)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lrtune._params import Param
from lrtune.schedules._base import Length, ScheduleFamily

ETA_MIN_RATIO = Param(
    "eta_min_ratio", 0.0, 0.0, 0.1, limits=(0.0, 1.0), help="lowest LR / starting LR"
)


class Cosine(ScheduleFamily):
    """``CosineAnnealingLR`` over the whole run: from the LR down to ``eta_min`` at its end."""

    name = "cosine"
    scheduler_class = torch.optim.lr_scheduler.CosineAnnealingLR
    params = (ETA_MIN_RATIO,)
    description = "half a cosine from the LR down to eta_min at the end"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        return {"T_max": length.total_steps, "eta_min": lr * v["eta_min_ratio"]}


class CosineRestarts(ScheduleFamily):
    """``CosineAnnealingWarmRestarts``: cycles of ``first_cycle_ratio`` of the run, then longer.

    With ``t_mult=2`` and the default 0.25 the cycles cover 1/4 and 1/2 of the run, and a
    third one begins for the last quarter.
    """

    name = "cosine_restarts"
    scheduler_class = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts
    params = (
        Param(
            "first_cycle_ratio",
            0.25,
            0.05,
            0.5,
            limits=(1e-6, 1.0),
            help="first cycle / training length",
        ),
        Param("t_mult", 2, choices=(1, 2), help="each cycle's length / the previous one's"),
        ETA_MIN_RATIO,
    )
    description = "cosine cycles restarting at the LR (SGDR)"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        return {
            "T_0": length.steps(v["first_cycle_ratio"]),
            "T_mult": v["t_mult"],
            "eta_min": lr * v["eta_min_ratio"],
        }
