"""The optional linear warmup that may precede any family with ``supports_warmup``."""

from __future__ import annotations

from lrtune._params import Param
from lrtune.schedules._base import Length, ScheduleFamily

WARMUP_RATIO = Param(
    "warmup_ratio",
    0.05,
    0.01,
    0.2,
    limits=(1e-6, 0.9),
    help="fraction of training spent warming up",
)
"""The warmup's length as a fraction of the run's steps (at least one step)."""

WARMUP_START_FACTOR = 0.01
"""The warmup starts at ``lr * WARMUP_START_FACTOR`` and climbs linearly to ``lr``."""


def warmup_steps(family: ScheduleFamily, length: Length, warmup_ratio: float) -> int:
    """The warmup's length in steps, once the family and the ratio are known to allow it."""
    if not family.supports_warmup:
        raise ValueError(
            f"Schedule {family.name!r} takes no warmup (it starts low by design); "
            f"leave warmup_ratio unset, but got {warmup_ratio=}."
        )
    if not WARMUP_RATIO.allows(warmup_ratio):
        assert WARMUP_RATIO.limits is not None
        low, high = WARMUP_RATIO.limits
        raise ValueError(f"warmup_ratio must be in [{low:g}, {high:g}], but got {warmup_ratio=}.")
    steps = length.steps(warmup_ratio)
    if steps >= length.total_steps:
        raise ValueError(
            f"A warmup of {steps} steps leaves none of the run's {length.total_steps} steps "
            f"to the schedule; train longer or without a warmup ({warmup_ratio=})."
        )
    return steps


def warmup_kwargs(steps: int) -> dict[str, float | int]:
    """``LinearLR``'s arguments for a warmup of ``steps`` steps."""
    return {"start_factor": WARMUP_START_FACTOR, "end_factor": 1.0, "total_iters": steps}
