"""``cyclic``: Smith's cyclical learning rates (``CyclicLR``) between ``lr / div`` and ``lr``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lrtune._params import Param
from lrtune.finder import BOUNDS_RATIO
from lrtune.schedules._base import Length, ScheduleFamily


class Cyclic(ScheduleFamily):
    """Triangular cycles with ``max_lr = lr``; ``cycles`` full cycles fit in the run.

    The default ``div`` is the range test's ``max_lr / min_lr``, so with the range test's
    ``max_lr`` as the LR the default cycle spans exactly its bounds. ``cycle_momentum``
    stays off for the reasons given on ``OneCycle``.
    """

    name = "cyclic"
    scheduler_class = torch.optim.lr_scheduler.CyclicLR
    params = (
        Param(
            "mode",
            "triangular",
            choices=("triangular", "triangular2", "exp_range"),
            help="constant, halving or exponentially shrinking amplitude",
        ),
        Param("cycles", 4, 1, 8, integer=True, limits=(1, 10_000), help="full cycles over the run"),
        Param("div", BOUNDS_RATIO, 2.0, 25.0, log=True, limits=(1.0, 1e6), help="max_lr / base_lr"),
        Param(
            "gamma_final",
            0.1,
            0.01,
            1.0,
            log=True,
            limits=(1e-12, 1.0),
            help="exp_range's amplitude factor at the end",
        ),
    )
    supports_warmup = False
    description = "triangular cycles between lr / div and lr"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        total = length.total_steps
        return {
            "base_lr": lr / v["div"],
            "max_lr": lr,
            "step_size_up": max(1, total // (2 * v["cycles"])),
            "mode": v["mode"],
            # torch reads gamma only in exp_range; passing it always keeps one code path.
            "gamma": v["gamma_final"] ** (1 / total),
            "cycle_momentum": False,
        }
