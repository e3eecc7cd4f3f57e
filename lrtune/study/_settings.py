"""``StudySettings``: what defines a study, stored on it so every worker and every resume
trains and samples exactly the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import optuna

from lrtune._exceptions import StudyError
from lrtune.study._attrs import ATTR
from lrtune.study._bounds import LRBounds, margin_pair
from lrtune.study._objective import Objective
from lrtune.study._options import StudyOptions
from lrtune.study._space import SearchSpace
from lrtune.tasks import Direction, Task

# What must match for a resume to continue the same study (the rest may change).
_DEFINING = ("task", "epochs", "objective", "seed", "lr_margin")


@dataclass(frozen=True)
class StudySettings:
    """A study's task, training length, objective, search space and LR bounds.

    Args:
        task: The task's name.
        epochs: The length of every trial.
        steps_per_epoch: Batches per epoch (schedule lengths and generated code use it).
        objective: ``"val_loss"`` or ``"metric"``.
        metric: The task's metric name, if it has one.
        direction: ``"minimize"`` or ``"maximize"``: the objective's direction.
        seed: The base seed (trial ``n`` trains with ``seed + n``).
        n_trials: The study's trial budget (finished trials, complete or pruned).
        pruner: The pruner's registry name.
        sampler: The sampler's registry name.
        lr_margin: The factors the range-test bounds were widened by (below, above).
        space: The search space.
        bounds: Each optimizer's range-test bounds and searched LR range.
        source: How a worker loads the task: an example name, a task file's absolute
            path, or a module (``None``: by ``task``, its name).
    """

    task: str
    epochs: int
    steps_per_epoch: int
    objective: Objective
    metric: str | None
    direction: Direction
    seed: int
    n_trials: int
    pruner: str
    sampler: str
    lr_margin: tuple[float, float]
    space: SearchSpace
    bounds: Mapping[str, LRBounds] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        # One factor for both sides is accepted, as run_study accepts it.
        object.__setattr__(self, "lr_margin", margin_pair(self.lr_margin))

    @classmethod
    def create(
        cls,
        options: StudyOptions,
        task: Task,
        *,
        steps_per_epoch: int,
        space: SearchSpace,
        source: str | None = None,
    ) -> StudySettings:
        """The settings of a new study of ``task`` with ``options``, searching ``space``."""
        metric = task.metric
        objective_is_metric = metric is not None and options.objective == "metric"
        return cls(
            task=task.name,
            epochs=task.epochs if options.epochs is None else options.epochs,
            steps_per_epoch=steps_per_epoch,
            objective=options.objective,
            metric=None if metric is None else metric.name,
            direction=metric.direction if objective_is_metric and metric else "minimize",
            seed=options.seed,
            n_trials=options.n_trials,
            pruner=options.pruner,
            sampler=options.sampler,
            lr_margin=options.lr_margin,
            space=space,
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["lr_margin"] = list(self.lr_margin)
        values["space"] = self.space.to_dict()
        values["bounds"] = {name: b.to_dict() for name, b in self.bounds.items()}
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> StudySettings:
        values = dict(values)
        values["space"] = SearchSpace.from_dict(values["space"])
        values["bounds"] = {n: LRBounds.from_dict(b) for n, b in values["bounds"].items()}
        return cls(**values)

    def with_budget(self, n_trials: int) -> StudySettings:
        return replace(self, n_trials=n_trials)

    def mismatch(self, other: StudySettings) -> str | None:
        """The first setting in which ``other`` asks for a different study, or ``None``."""
        for name in _DEFINING:
            if getattr(self, name) != getattr(other, name):
                return f"{name} is {getattr(self, name)!r}, not {getattr(other, name)!r}"
        mine, theirs = self.space.to_dict(), other.space.to_dict()
        for name in ("optimizers", "schedules", "warmup", "fixed", "ranges"):
            if mine[name] != theirs[name]:
                return f"{name} are {mine[name]!r}, not {theirs[name]!r}"
        return None


def read_settings(study: optuna.Study) -> StudySettings:
    """The settings stored on ``study``; ``StudyError`` if lrtune did not create it."""
    values = study.user_attrs.get(ATTR)
    if values is None:
        raise StudyError(f"Study {study.study_name!r} was not created by lrtune.")
    return StudySettings.from_dict(values)


def has_settings(study: optuna.Study) -> bool:
    return ATTR in study.user_attrs


def write_settings(study: optuna.Study, settings: StudySettings) -> None:
    study.set_user_attr(ATTR, settings.to_dict())
