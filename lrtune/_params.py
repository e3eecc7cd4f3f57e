"""Searchable parameters: one definition serves the sampler, the spec checker and the docs.

Optimizer families (``lrtune.optimizers``) and schedule families (``lrtune.schedules``)
describe what a study may tune with ``Param``; the study prefixes each name with its
family (``"adamw.weight_decay"``, ``"cosine.eta_min_ratio"``) so conditional parameters
never share a name across families.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lrtune._checks import is_number

if TYPE_CHECKING:
    from optuna.distributions import CategoricalChoiceType


@dataclass(frozen=True)
class Param:
    """One searchable parameter: a numeric range or a set of choices, and a default.

    Args:
        name: The name within its family (``"momentum"``).
        default: The value used when the parameter is not searched (warm starts, fixed).
        low: The lowest value of a numeric range.
        high: The highest value of a numeric range.
        log: Sample the range log-uniformly (``low`` must then be positive).
        integer: The range holds integers.
        choices: The allowed values of a categorical parameter (no range then).
        help: One line for the docs and for error messages.
        limits: The values that make sense at all (inclusive), when wider than the
            searched ``[low, high]``: a study may widen its range up to them. ``None``
            means the searched range is also the limit.
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[CategoricalChoiceType, ...] | None = None
    help: str = ""
    limits: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.choices is None:
            check_range(self.name, self.low, self.high, log=self.log)
        if not self.contains(self.default):
            raise ValueError(f"Param {self.name!r}: default {self.default!r} is out of range.")

    @property
    def is_categorical(self) -> bool:
        return self.choices is not None

    def with_range(self, low: float, high: float) -> Param:
        """A copy searching ``[low, high]`` instead (widening or narrowing the space)."""
        if self.choices is not None:
            raise ValueError(f"{self.name!r} is categorical; give its choices, not a range.")
        check_range(self.name, low, high, log=self.log)
        if self.limits is not None and not self.limits[0] <= low <= high <= self.limits[1]:
            lo, hi = self.limits
            raise ValueError(f"{self.name}: the range must lie within [{lo:g}, {hi:g}].")
        default = min(max(self.default, low), high)
        if self.integer:
            low, high, default = int(low), int(high), round(default)
        return replace(self, default=default, low=low, high=high)

    def allows(self, value: Any) -> bool:
        """Whether ``value`` makes sense at all (inside ``limits``, not only the range)."""
        if self.choices is not None or self.limits is None:
            return self.contains(value)
        if not is_number(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        return self.limits[0] <= value <= self.limits[1]

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a valid value of this parameter."""
        if self.choices is not None:
            return any(value == c and type(value) is type(c) for c in self.choices)
        if not is_number(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        assert self.low is not None and self.high is not None
        return self.low <= value <= self.high

    def describe(self) -> str:
        """``[low, high]`` (with ``log``) or the choices, for messages."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        scale = ", log" if self.log else ""
        return f"[{self.low:g}, {self.high:g}{scale}]"


def check_range(name: str, low: Any, high: Any, *, log: bool = False) -> None:
    """Refuse a range that is not two finite numbers with ``low <= high`` (``low > 0`` if log)."""
    for value in (low, high):
        if not is_number(value):
            raise ValueError(f"{name}: the range must be two numbers, but got {[low, high]!r}.")
        if not math.isfinite(value):
            raise ValueError(f"{name}: the range must be finite, but got {[low, high]!r}.")
    if low > high:
        raise ValueError(f"{name}: low must not exceed high, but got {[low, high]!r}.")
    if log and low <= 0:
        raise ValueError(f"{name}: a log-scaled range must be positive, but got {[low, high]!r}.")


def by_name(params: Sequence[Param]) -> dict[str, Param]:
    """``params`` keyed by name."""
    return {param.name: param for param in params}
