"""lrtune: learning-rate range tests and optimizer/schedule studies for PyTorch.

The public face; implementations live in the sub-packages::

    result = lrtune.find_lr(model, optimizer, train_loader, criterion)
    result.suggested_lr, result.min_lr, result.max_lr, result.history, result.plot()

    study = lrtune.run_study(task, n_trials=40)
    study.best_trial.user_attrs["config"]
"""

from lrtune._exceptions import (
    LRTuneError,
    NotFoundError,
    RegistryError,
    SpecError,
    StorageError,
    StudyError,
    TaskError,
)
from lrtune.finder import FinderResult, StopReason, Suggestion, find_lr
from lrtune.study import run_study, run_worker
from lrtune.tasks import Metric, Task

__version__ = "0.1.0"

__all__ = [
    "FinderResult",
    "LRTuneError",
    "Metric",
    "NotFoundError",
    "RegistryError",
    "SpecError",
    "StopReason",
    "StorageError",
    "StudyError",
    "Suggestion",
    "Task",
    "TaskError",
    "find_lr",
    "run_study",
    "run_worker",
]
