"""``onecycle``: Smith's 1cycle policy (``OneCycleLR``) peaking at the chosen LR."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lrtune._params import Param
from lrtune.schedules._base import Length, ScheduleFamily


class OneCycle(ScheduleFamily):
    """Up from ``lr / div_factor`` to ``lr``, then down to ``lr / div_factor / final_div_factor``.

    ``cycle_momentum`` stays off: cycling would overwrite the momentum (or Adam's beta1)
    the study is searching, and torch refuses it for an optimizer without momentum, such
    as RMSprop at its default ``momentum=0``.
    """

    name = "onecycle"
    scheduler_class = torch.optim.lr_scheduler.OneCycleLR
    params = (
        Param(
            "pct_start",
            0.3,
            0.1,
            0.5,
            limits=(0.01, 0.99),
            help="fraction of training spent rising",
        ),
        Param(
            "div_factor",
            25.0,
            4.0,
            100.0,
            log=True,
            limits=(1.0, 1e9),
            help="peak LR / starting LR",
        ),
        Param(
            "final_div_factor",
            1e4,
            10.0,
            1e4,
            log=True,
            limits=(1.0, 1e12),
            help="starting LR / final LR",
        ),
        Param("anneal_strategy", "cos", choices=("cos", "linear"), help="shape of each phase"),
    )
    supports_warmup = False
    description = "1cycle: rises to the LR, then anneals far below the start"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        v = self.resolve(values)
        return {
            "max_lr": lr,
            "total_steps": length.total_steps,
            "pct_start": v["pct_start"],
            "anneal_strategy": v["anneal_strategy"],
            "div_factor": v["div_factor"],
            "final_div_factor": v["final_div_factor"],
            "cycle_momentum": False,
        }
