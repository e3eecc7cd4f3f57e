"""``step`` and ``multistep``: drops by ``gamma`` at epoch boundaries.

Both are stepped per batch like every other per-step family; their drops are whole
epochs apart so they land where an epoch-stepped ``StepLR`` would put them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lrtune._params import Param
from lrtune.schedules._base import Length, ScheduleFamily

GAMMA = Param(
    "gamma", 0.1, 0.05, 0.5, log=True, limits=(1e-12, 1.0), help="factor applied at each drop"
)


class Step(ScheduleFamily):
    """``StepLR``: a drop every ``step_ratio`` of the run, rounded to whole epochs.

    After a warmup the drops are counted from its end, so they come that many batches
    after the epoch boundaries.
    """

    name = "step"
    scheduler_class = torch.optim.lr_scheduler.StepLR
    params = (
        Param(
            "step_ratio",
            0.3,
            0.1,
            0.5,
            limits=(0.01, 1.0),
            help="fraction of training between drops",
        ),
        GAMMA,
    )
    description = "drops by gamma every step_ratio of training"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        return {"step_size": length.epoch_steps(v["step_ratio"]), "gamma": v["gamma"]}


class MultiStep(ScheduleFamily):
    """``MultiStepLR``: drops at the epoch boundaries nearest the given fractions of the run.

    Fractions that round to the same epoch drop once; those rounding to the start or the
    end of the run (or into a warmup) are left out, as they would never be seen.
    """

    name = "multistep"
    scheduler_class = torch.optim.lr_scheduler.MultiStepLR
    params = (
        Param(
            "milestones",
            "0.5,0.75",
            choices=("0.5,0.75", "0.3,0.6,0.9", "0.33,0.67"),
            help="fractions of training where the LR drops",
        ),
        GAMMA,
    )
    description = "drops by gamma at fixed fractions of training"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        marks = {length.epoch_mark(float(f)) for f in v["milestones"].split(",")}
        inside = sorted(m for m in marks if 0 < m < length.total_steps)
        return {"milestones": inside, "gamma": v["gamma"]}
