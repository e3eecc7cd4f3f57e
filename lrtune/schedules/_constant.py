"""``constant``: the learning rate the optimizer was built with, for the whole run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrtune.schedules._base import Length, ScheduleFamily


class Constant(ScheduleFamily):
    """No scheduler at all (a warmup may still precede the constant rate)."""

    name = "constant"
    scheduler_class = None
    description = "the optimizer's learning rate throughout"

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        self.resolve(values)
        return {}
