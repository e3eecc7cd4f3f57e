"""``SCHEDULES``: every schedule family by name, for the CLI, study files and Optuna."""

from __future__ import annotations

from lrtune._registry import Registry
from lrtune.schedules._base import ScheduleFamily
from lrtune.schedules._constant import Constant
from lrtune.schedules._cosine import Cosine, CosineRestarts
from lrtune.schedules._cyclic import Cyclic
from lrtune.schedules._exponential import Exponential
from lrtune.schedules._one_cycle import OneCycle
from lrtune.schedules._plateau import Plateau
from lrtune.schedules._polynomial import Polynomial
from lrtune.schedules._step import MultiStep, Step

SCHEDULES: Registry[ScheduleFamily] = Registry("schedule")

for _family in (
    Constant(),
    Exponential(),
    Step(),
    MultiStep(),
    Plateau(),
    OneCycle(),
    Cosine(),
    CosineRestarts(),
    Cyclic(),
    Polynomial(),
):
    SCHEDULES.add(_family.name, _family)
