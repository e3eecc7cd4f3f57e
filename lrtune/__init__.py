"""lrtune: learning-rate range tests and optimizer/schedule studies for PyTorch.

The public face; implementations live in the sub-packages::

    result = lrtune.find_lr(model, optimizer, train_loader, criterion)
    result.suggested_lr, result.min_lr, result.max_lr, result.history, result.plot()

    refined = lrtune.refine_lr(task, optimizer="adamw", budget=1.5)
    refined.lr

    study = lrtune.run_study(task, n_trials=40)  # or lrtune.StudyOptions(n_trials=40, ...)
    study.best_trial.user_attrs["config"]

Every name but the exceptions loads on first use (torch with the range test, Optuna and
SQLAlchemy with studies and refine), so the command line answers ``--help`` at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrtune._exceptions import (
    LRTuneError,
    MissingExtraError,
    NotFoundError,
    RegistryError,
    SpecError,
    StorageError,
    StudyError,
    TaskError,
)
from lrtune._lazy import lazy_attributes as _lazy_attributes

if TYPE_CHECKING:
    from lrtune.finder import FinderResult, StopReason, Suggestion, find_lr
    from lrtune.refine import RefineResult, refine_lr
    from lrtune.study import StudyOptions, run_study, run_worker
    from lrtune.tasks import Metric, Task

_LAZY = {
    "FinderResult": "lrtune.finder",
    "Metric": "lrtune.tasks",
    "StopReason": "lrtune.finder",
    "Suggestion": "lrtune.finder",
    "Task": "lrtune.tasks",
    "find_lr": "lrtune.finder",
    "RefineResult": "lrtune.refine",
    "refine_lr": "lrtune.refine",
    "StudyOptions": "lrtune.study",
    "run_study": "lrtune.study",
    "run_worker": "lrtune.study",
}

__getattr__ = _lazy_attributes(__name__, _LAZY)

__version__ = "0.1.0"

__all__ = [
    "FinderResult",
    "LRTuneError",
    "Metric",
    "MissingExtraError",
    "NotFoundError",
    "RefineResult",
    "RegistryError",
    "SpecError",
    "StopReason",
    "StorageError",
    "StudyError",
    "StudyOptions",
    "Suggestion",
    "Task",
    "TaskError",
    "find_lr",
    "refine_lr",
    "run_study",
    "run_worker",
]
