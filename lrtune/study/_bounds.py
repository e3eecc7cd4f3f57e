"""Learning-rate bounds from range tests: one per candidate optimizer, before any trial.

The study searches each optimizer's LR log-uniformly in the range test's
``(min_lr, max_lr)`` widened by ``LR_MARGIN``: ``[min_lr / 10, max_lr * 2]``. The range
test's ``max_lr`` is where the loss stops falling (Smith), so twice it still reaches the
peaks 1cycle and cyclical schedules like. The bottom reaches further: measured over 70
studies (benchmarks/README.md, "Study quality"), the best trial's LR sat a median 0.4 to
1 decade below ``max_lr``, often under ``min_lr``, and a margin of 3 on each side put it
in the bottom tenth of the range on over half the seeds of some tasks. The range always
holds the range test's ``lr_interval`` too (where the best constant LR likely lies for the
task's training length): a long SGD run can want an LR below ``min_lr / 10``.

A learning-rate-free optimizer (Prodigy, D-Adaptation, DoG) gets no range test: its LR
only scales the step size it estimates itself, so the study searches a decade either side
of its documented default, ``[default_lr / 10, default_lr * 10]`` (``LR_FREE_FACTOR``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lrtune._checks import is_number
from lrtune._exceptions import StudyError
from lrtune.finder import FinderResult, find_lr_for_task
from lrtune.optimizers import OPTIMIZERS
from lrtune.tasks import Task

if TYPE_CHECKING:
    from lrtune.storage import Storage

logger = logging.getLogger(__name__)

LR_MARGIN = (10.0, 2.0)
"""How far the searched LR range reaches below ``min_lr`` and above ``max_lr``, as factors."""

LR_FREE_FACTOR = 10.0
"""How far a learning-rate-free optimizer's searched LR reaches either side of its default."""

Margin = tuple[float, float]


@dataclass(frozen=True)
class LRBounds:
    """One optimizer's range-test outcome and the LR range the study searches.

    Args:
        optimizer: The optimizer's registry name.
        min_lr: The range test's low bound.
        max_lr: The range test's high bound.
        suggested_lr: The range test's suggestion for a constant rate (a learning-rate-free
            optimizer's documented default LR).
        low: The lowest LR searched (``min_lr / margin``, or the user's).
        high: The highest LR searched (``max_lr * margin``, or the user's).
        range_test_id: The stored range test, if it was stored.
    """

    optimizer: str
    min_lr: float | None
    max_lr: float | None
    suggested_lr: float | None
    low: float
    high: float
    range_test_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LRBounds:
        return cls(**values)


def bounds_from_result(result: FinderResult, optimizer: str, margin: Margin) -> LRBounds:
    """The searched range for ``optimizer`` from its range test ``result``."""
    if result.min_lr is None or result.max_lr is None or result.suggested_lr is None:
        raise StudyError(
            f"The range test of {optimizer!r} found no falling loss ({result.stop_detail}); "
            f"give its LR range in the spec's [ranges] as '{optimizer}.lr'."
        )
    low, high = result.min_lr / margin[0], result.max_lr * margin[1]
    if result.lr_interval is not None:  # never cut off where the best constant LR likely is
        low, high = min(low, result.lr_interval[0]), max(high, result.lr_interval[1])
    return LRBounds(
        optimizer,
        result.min_lr,
        result.max_lr,
        result.suggested_lr,
        low=low,
        high=high,
        range_test_id=result.id,
    )


def run_range_tests(
    task: Task,
    optimizers: Sequence[str],
    *,
    margin: float | Sequence[float] = LR_MARGIN,
    seed: int = 0,
    store: Storage | None = None,
    group: str | None = None,
    **finder_options: Any,
) -> dict[str, LRBounds]:
    """Run one range test per optimizer (stored in ``store`` if given); their bounds."""
    pair = margin_pair(margin)
    bounds = {}
    for name in optimizers:
        result = find_lr_for_task(task, name, seed=seed, **finder_options)
        result.group = group
        if store is not None:
            store.save_range_test(result)
        bounds[name] = bounds_from_result(result, name, pair)
        logger.info("range test %s: searching lr in [%.3g, %.3g]", name, *_pair(bounds[name]))
        if reached_the_end(result):
            logger.warning(
                "range test %s: the loss was still falling at end_lr=%g, so max_lr is only "
                "where the sweep stopped; raise end_lr in [finder], or give '%s.lr' in [ranges]",
                name,
                result.options["end_lr"],
                name,
            )
    return bounds


def reached_the_end(result: FinderResult) -> bool:
    """Whether ``max_lr`` lies in the sweep's last tenth (in log space): no turn was seen."""
    start, end = result.options.get("start_lr"), result.options.get("end_lr")
    if result.max_lr is None or not start or not end or result.stop_reason != "completed":
        return False
    return math.log(result.max_lr / start) >= 0.9 * math.log(end / start)


def fixed_bounds(optimizer: str, low: float, high: float) -> LRBounds:
    """Bounds given by the user instead of a range test."""
    return LRBounds(optimizer, None, None, None, low=low, high=high)


def lr_free_bounds(optimizer: str) -> LRBounds:
    """The range searched for a learning-rate-free optimizer, around its default LR.

    Raises:
        ValueError: ``optimizer`` is not learning-rate-free.
    """
    family = OPTIMIZERS.get(optimizer)
    default = family.default_lr
    if not family.lr_free or default is None:
        raise ValueError(f"optimizer must be learning-rate-free, but got {optimizer=}.")
    low, high = default / LR_FREE_FACTOR, default * LR_FREE_FACTOR
    return LRBounds(optimizer, None, None, suggested_lr=default, low=low, high=high)


def margin_pair(margin: Any) -> Margin:
    """``(below, above)`` from one factor for both sides or a pair; ``ValueError`` if bad."""
    pair = margin if isinstance(margin, (list, tuple)) else (margin, margin)
    if len(pair) != 2 or not all(_factor(value) for value in pair):
        raise ValueError(
            "lr_margin must be a number >= 1 or a pair [below, above] of numbers >= 1, "
            f"but got {margin!r}."
        )
    return float(pair[0]), float(pair[1])


def _factor(value: Any) -> bool:
    numeric = is_number(value)
    return numeric and 1 <= value < float("inf")


def _pair(bounds: LRBounds) -> tuple[float, float]:
    return bounds.low, bounds.high
