"""Learning-rate bounds from range tests: one per candidate optimizer, before any trial.

The study searches each optimizer's LR log-uniformly in the range test's
``(min_lr, max_lr)`` widened by ``LR_MARGIN`` on each side. The range test's ``max_lr``
is where the loss stops falling (Smith), so the widened top still reaches the peak rates
that 1cycle and cyclical schedules use, and the bottom reaches the slow rates that suit
long constant runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lrtune._exceptions import StudyError
from lrtune.finder import FinderResult, find_lr_for_task
from lrtune.tasks import Task

if TYPE_CHECKING:
    from lrtune.storage import Storage

logger = logging.getLogger(__name__)

LR_MARGIN = 3.0
"""How far the searched LR range reaches beyond the range test's bounds, as a factor."""


@dataclass(frozen=True)
class LRBounds:
    """One optimizer's range-test outcome and the LR range the study searches.

    Args:
        optimizer: The optimizer's registry name.
        min_lr: The range test's low bound.
        max_lr: The range test's high bound.
        suggested_lr: The range test's suggestion for a constant rate.
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


def bounds_from_result(result: FinderResult, optimizer: str, margin: float) -> LRBounds:
    """The searched range for ``optimizer`` from its range test ``result``."""
    if result.min_lr is None or result.max_lr is None or result.suggested_lr is None:
        raise StudyError(
            f"The range test of {optimizer!r} found no falling loss ({result.stop_detail}); "
            f"give its LR range in the spec's [ranges] as '{optimizer}.lr'."
        )
    return LRBounds(
        optimizer,
        result.min_lr,
        result.max_lr,
        result.suggested_lr,
        low=result.min_lr / margin,
        high=result.max_lr * margin,
        range_test_id=result.id,
    )


def run_range_tests(
    task: Task,
    optimizers: Sequence[str],
    *,
    margin: float = LR_MARGIN,
    seed: int = 0,
    store: Storage | None = None,
    group: str | None = None,
    **finder_options: Any,
) -> dict[str, LRBounds]:
    """Run one range test per optimizer (stored in ``store`` if given); their bounds."""
    check_margin(margin)
    bounds = {}
    for name in optimizers:
        result = find_lr_for_task(task, name, seed=seed, **finder_options)
        result.group = group
        if store is not None:
            store.save_range_test(result)
        bounds[name] = bounds_from_result(result, name, margin)
        logger.info("range test %s: searching lr in [%.3g, %.3g]", name, *_pair(bounds[name]))
    return bounds


def fixed_bounds(optimizer: str, low: float, high: float) -> LRBounds:
    """Bounds given by the user instead of a range test."""
    return LRBounds(optimizer, None, None, None, low=low, high=high)


def check_margin(margin: float) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 1:
        raise ValueError(f"lr_margin must be a number >= 1, but got {margin=}.")


def _pair(bounds: LRBounds) -> tuple[float, float]:
    return bounds.low, bounds.high
