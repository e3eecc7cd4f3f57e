"""The learning-rate range test."""

from lrtune.finder._find import find_lr, model_summary
from lrtune.finder._horizon import DEFAULT_KIND
from lrtune.finder._on_task import find_lr_for_task
from lrtune.finder._options import FinderOptions
from lrtune.finder._result import HISTORY_COLUMNS, FinderResult, StopReason
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
