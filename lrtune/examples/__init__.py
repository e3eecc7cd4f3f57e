"""Bundled example tasks, small enough to train on a CPU in about a second.

Each module defines ``task``; data loads lazily, on the first call of a loader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lrtune._exceptions import TaskError

if TYPE_CHECKING:
    from lrtune.tasks import Task

EXAMPLES: dict[str, str] = {
    "breast-cancer-logreg": "lrtune.examples.breast_cancer_logreg",
    "diabetes-mlp": "lrtune.examples.diabetes_mlp",
    "digits-autoencoder": "lrtune.examples.digits_autoencoder",
    "digits-cnn": "lrtune.examples.digits_cnn",
    "digits-gru": "lrtune.examples.digits_gru",
    "digits-mlp": "lrtune.examples.digits_mlp",
    "wine-mlp": "lrtune.examples.wine_mlp",
}
"""Example task names (dashed, so they never read as module paths) to their modules."""


def load_example(name: str) -> Task:
    """Return the bundled example task called ``name`` (for example ``"digits-cnn"``)."""
    if name not in EXAMPLES:
        raise TaskError(f"Unknown example task {name!r}; choose one of: {', '.join(EXAMPLES)}.")
    task: Task = importlib.import_module(EXAMPLES[name]).task
    return task


__all__ = ["EXAMPLES", "load_example"]
