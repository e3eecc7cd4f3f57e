"""The learning-rate range test.

The result and its stored form load with the package; the sweep (torch), the suggestion
rules and smoothing (numpy, pandas) load on first use, so that reading stored range tests
(``lrtune runs``) imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrtune._lazy import homes_by_module as _homes_by_module
from lrtune._lazy import lazy_attributes as _lazy_attributes
from lrtune.finder._horizon import DEFAULT_KIND
from lrtune.finder._result import HISTORY_COLUMNS, FinderResult, StopReason

if TYPE_CHECKING:
    from lrtune.finder._find import find_lr, model_summary
    from lrtune.finder._on_task import find_lr_for_task
    from lrtune.finder._options import FinderOptions
    from lrtune.finder._smoothing import FloatArray
    from lrtune.finder._state import RngState, has_train_mode, loader_generators
    from lrtune.finder._suggest import (
        BOUNDS_RATIO,
        DEFAULT_RULE,
        RULES,
        Suggestion,
        smoothed_curve,
        suggest,
    )

_LAZY = {
    "_find": ("find_lr", "model_summary"),
    "_on_task": ("find_lr_for_task",),
    "_options": ("FinderOptions",),
    "_smoothing": ("FloatArray",),
    "_state": ("RngState", "has_train_mode", "loader_generators"),
    "_suggest": (
        "BOUNDS_RATIO",
        "DEFAULT_RULE",
        "RULES",
        "Suggestion",
        "smoothed_curve",
        "suggest",
    ),
}
__getattr__ = _lazy_attributes(__name__, _homes_by_module(__name__, _LAZY))

__all__ = [
    "BOUNDS_RATIO",
    "DEFAULT_KIND",
    "DEFAULT_RULE",
    "HISTORY_COLUMNS",
    "RULES",
    "FinderOptions",
    "FinderResult",
    "FloatArray",
    "RngState",
    "StopReason",
    "Suggestion",
    "find_lr",
    "find_lr_for_task",
    "has_train_mode",
    "loader_generators",
    "model_summary",
    "smoothed_curve",
    "suggest",
]
