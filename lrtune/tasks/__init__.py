"""Tasks: how users describe a training problem, and how lrtune loads one."""

from lrtune.tasks._loading import load_task
from lrtune.tasks._ref import TaskRef
from lrtune.tasks._task import Direction, Metric, Task

__all__ = ["Direction", "Metric", "Task", "TaskRef", "load_task"]
