"""Training a task at a constant learning rate, evaluating it, and seeding runs."""

from lrtune.training._evaluate import Evaluation, evaluate
from lrtune.training._metrics import accuracy
from lrtune.training._seed import seed_everything
from lrtune.training._train import DIVERGENCE_FACTOR, TrainingRun, train_constant_lr

__all__ = [
    "DIVERGENCE_FACTOR",
    "Evaluation",
    "TrainingRun",
    "accuracy",
    "evaluate",
    "seed_everything",
    "train_constant_lr",
]
