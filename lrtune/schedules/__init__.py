"""Learning-rate schedules: searchable families of ``torch.optim.lr_scheduler`` schedules.

``SCHEDULES`` maps names to families:

- ``constant``: the optimizer's LR throughout (no scheduler).
- ``exponential``: ``ExponentialLR`` decaying to ``final_ratio`` of the LR at the end.
- ``step``: ``StepLR`` cutting by ``gamma`` every ``step_ratio`` of the run.
- ``multistep``: ``MultiStepLR`` cutting by ``gamma`` at fixed fractions of the run.
- ``plateau``: ``ReduceLROnPlateau`` on the validation loss, stepped once per epoch.
- ``onecycle``: ``OneCycleLR`` (Smith's 1cycle) peaking at the LR.
- ``cosine``: ``CosineAnnealingLR`` down to ``eta_min`` at the end of the run.
- ``cosine_restarts``: ``CosineAnnealingWarmRestarts`` (SGDR).
- ``cyclic``: ``CyclicLR`` between ``lr / div`` and the LR.
- ``polynomial``: ``PolynomialLR`` down to zero at the end of the run.

Every parameter is relative to the training length, so one spec works for any number of
epochs: fractions of the run (``step_ratio``, ``pct_start``), ratios of learning rates
(``final_ratio``, ``eta_min_ratio``) or counts per run (``cycles``). Drops of ``step``
and ``multistep`` are rounded to whole epochs. Every family except ``plateau`` is stepped
after every batch.

A linear warmup (``warmup_ratio``, a fraction of the run) may precede any family but
``onecycle`` and ``cyclic``, which start low by design. It climbs from
``lr * WARMUP_START_FACTOR`` to ``lr``; the family then runs over the steps left, so a
cosine still ends at ``eta_min`` when training ends.

``build_plan`` attaches a schedule to an optimizer built with that LR; ``plan_code``
prints the PyTorch lines that build the same schedulers::

    plan = build_plan(optimizer, "cosine", 0.1, {"eta_min_ratio": 0.01}, Length(10, 230))
    ...  # plan.after_step() after each optimizer.step(); plan.after_epoch(val_loss)
"""

from lrtune.schedules._base import Interval, Length, ScheduleFamily
from lrtune.schedules._code import plan_code, plan_steps
from lrtune.schedules._plan import LRPlan, build_plan
from lrtune.schedules._registry import SCHEDULES
from lrtune.schedules._warmup import WARMUP_RATIO, WARMUP_START_FACTOR

__all__ = [
    "SCHEDULES",
    "WARMUP_RATIO",
    "WARMUP_START_FACTOR",
    "Interval",
    "LRPlan",
    "Length",
    "ScheduleFamily",
    "build_plan",
    "plan_code",
    "plan_steps",
]
