"""The learning-rate range test."""

from lrtune.finder._find import find_lr, model_summary
from lrtune.finder._on_task import find_lr_for_task
from lrtune.finder._options import FinderOptions
from lrtune.finder._result import FinderResult, StopReason
from lrtune.finder._suggest import DEFAULT_RULE, RULES, Suggestion, suggest

__all__ = [
    "DEFAULT_RULE",
    "RULES",
    "FinderOptions",
    "FinderResult",
    "StopReason",
    "Suggestion",
    "find_lr",
    "find_lr_for_task",
    "model_summary",
    "suggest",
]
