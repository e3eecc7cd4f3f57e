"""lrtune: learning-rate range tests and optimizer/schedule studies for PyTorch.

The public face; implementations live in the sub-packages::

    result = lrtune.find_lr(model, optimizer, train_loader, criterion)
    result.suggested_lr, result.min_lr, result.max_lr, result.history, result.plot()
"""

from lrtune._exceptions import LRTuneError, NotFoundError, RegistryError, StorageError, TaskError
from lrtune.finder import FinderResult, StopReason, Suggestion, find_lr
from lrtune.tasks import Metric, Task

__version__ = "0.1.0"

__all__ = [
    "FinderResult",
    "LRTuneError",
    "Metric",
    "NotFoundError",
    "RegistryError",
    "StopReason",
    "StorageError",
    "Suggestion",
    "Task",
    "TaskError",
    "find_lr",
]
