"""What every schedule family provides: parameters, constructor arguments, a stepping interval.

A family turns a learning rate, its parameter values and the training ``Length`` into the
keyword arguments of a ``torch.optim.lr_scheduler`` class. ``build`` and the generated
PyTorch code (``lrtune.schedules.plan_code``) both start from those same arguments, so
the code a user pastes runs the schedule the study measured.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch

from lrtune._checks import is_int
from lrtune._params import Param, by_name


class Interval(str, enum.Enum):
    """When the training loop steps a scheduler."""

    STEP = "step"
    """After every optimizer step (every batch)."""
    EPOCH = "epoch"
    """After every epoch's validation pass (``ReduceLROnPlateau`` reads the loss)."""


@dataclass(frozen=True)
class Length:
    """How long the training run is; schedule parameters are fractions of it.

    ``start`` is for a schedule that begins part-way through the run, after a warmup: its
    ``total_steps`` and ``steps`` then count only the steps left to it, so a cosine still
    reaches its floor at the end of training.
    """

    epochs: int
    steps_per_epoch: int
    start: int = 0
    """Steps of the run spent before this schedule begins (a warmup's)."""

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, but got {name}={value!r}.")
        start = self.start
        if not is_int(start) or start < 0:
            raise ValueError(f"start must be a non-negative integer, but got {start=}.")
        if start >= self.run_steps:
            raise ValueError(
                f"start must leave at least one of the run's {self.run_steps} steps, "
                f"but got {start=}."
            )

    @property
    def run_steps(self) -> int:
        """Optimizer steps in the whole run."""
        return self.epochs * self.steps_per_epoch

    @property
    def total_steps(self) -> int:
        """Optimizer steps this schedule runs for: the run less ``start``."""
        return self.run_steps - self.start

    def steps(self, fraction: float) -> int:
        """``fraction`` of ``total_steps``, at least one."""
        return max(1, round(fraction * self.total_steps))

    def epoch_steps(self, fraction: float) -> int:
        """``fraction`` of the run rounded to whole epochs (at least one), in steps."""
        return max(1, round(fraction * self.epochs)) * self.steps_per_epoch

    def epoch_mark(self, fraction: float) -> int:
        """The epoch boundary nearest ``fraction`` of the run, in steps after ``start``."""
        return round(fraction * self.epochs) * self.steps_per_epoch - self.start

    def after(self, steps: int) -> Length:
        """The length left to a schedule that begins ``steps`` later (after a warmup)."""
        return replace(self, start=self.start + steps)


class ScheduleFamily:
    """A schedule lrtune can search; subclasses set the class attributes and ``kwargs``.

    ``kwargs`` reads its values through ``resolve``, so a family used on its own checks
    them as ``build_plan`` does.

    Attributes:
        name: The registry name (``"cosine"``).
        scheduler_class: The ``torch.optim.lr_scheduler`` class it builds, or ``None`` for
            a constant learning rate.
        interval: When to step it.
        params: Its searchable parameters, expressed relative to the training length.
        supports_warmup: Whether a linear warmup may precede it (1cycle and cyclical
            schedules start low by design, so they do not take one).
        description: One line for listings.
    """

    name: ClassVar[str]
    scheduler_class: ClassVar[type | None]
    interval: ClassVar[Interval] = Interval.STEP
    params: ClassVar[tuple[Param, ...]] = ()
    supports_warmup: ClassVar[bool] = True
    description: ClassVar[str] = ""

    def kwargs(self, lr: float, values: Mapping[str, Any], length: Length) -> dict[str, Any]:
        """The scheduler's keyword arguments (all but the optimizer) for these values.

        ``lr`` is the learning rate the optimizer was built with: the peak for 1cycle and
        cyclical schedules, the starting rate for the others.
        """
        raise NotImplementedError

    def build(
        self, optimizer: torch.optim.Optimizer, lr: float, values: Mapping[str, Any], length: Length
    ) -> Any:
        """The scheduler for ``optimizer``, or ``None`` for a constant learning rate."""
        if self.scheduler_class is None:
            return None
        return self.scheduler_class(optimizer, **self.kwargs(lr, values, length))

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default."""
        return {param.name: param.default for param in self.params}

    def resolve(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` checked and completed with the defaults of the missing parameters.

        Raises:
            ValueError: A name this family does not have, or a value outside its range.
        """
        known = by_name(self.params)
        for name in values:
            if name not in known:
                have = f"its parameters: {', '.join(known)}" if known else "it takes none"
                raise ValueError(f"Schedule {self.name!r} has no parameter {name!r}; {have}.")
        return {param.name: self._checked(param, values) for param in self.params}

    def _checked(self, param: Param, values: Mapping[str, Any]) -> Any:
        value = values.get(param.name, param.default)
        if not param.allows(value):
            where = "" if param.is_categorical else "in "
            allowed = param.describe() if param.limits is None else _limits(param)
            raise ValueError(
                f"{self.name}.{param.name} must be {where}{allowed}, but got {value!r}."
            )
        if param.is_categorical:
            return value
        # Plain Python numbers, so the generated code shows them as written (no np.float64).
        return int(value) if param.integer else float(value)


def _limits(param: Param) -> str:
    assert param.limits is not None
    return f"[{param.limits[0]:g}, {param.limits[1]:g}]"
