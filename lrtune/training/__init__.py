"""Training a task with an optimizer and schedule, evaluating it, and seeding runs."""

from lrtune.training._config import TrainingConfig
from lrtune.training._evaluate import Evaluation, evaluate
from lrtune.training._metrics import accuracy
from lrtune.training._seed import seed_everything
from lrtune.training._stepwise import OptimizerFactory, StepwiseRun
from lrtune.training._stopping import TrainingStopped, stop_when
from lrtune.training._train import (
    DIVERGENCE_FACTOR,
    EpochEnd,
    EpochLR,
    TrainingRun,
    steps_per_epoch,
    train,
    train_constant_lr,
)

__all__ = [
    "DIVERGENCE_FACTOR",
    "EpochEnd",
    "EpochLR",
    "Evaluation",
    "OptimizerFactory",
    "StepwiseRun",
    "TrainingConfig",
    "TrainingRun",
    "TrainingStopped",
    "accuracy",
    "evaluate",
    "seed_everything",
    "steps_per_epoch",
    "stop_when",
    "train",
    "train_constant_lr",
]
