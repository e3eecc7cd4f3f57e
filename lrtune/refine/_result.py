"""``RefineResult``: what ``refine_lr`` returns, and how it is read back from its study."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from matplotlib.figure import Figure

    from lrtune.finder import FinderResult

STUDY_KIND = "refine"
"""The ``kind`` user attribute that marks an Optuna study as a refine run."""


@dataclass(frozen=True)
class Candidate:
    """One constant LR that ``refine`` trained, and how far it got.

    Args:
        lr: The learning rate.
        trial: Its trial number in the refine study.
        steps: The rungs it reached (optimizer steps).
        val_losses: Its validation loss at each of those rungs (``inf`` if diverged).
        pruned: Whether successive halving stopped it before the last rung.
    """

    lr: float
    trial: int
    steps: tuple[int, ...]
    val_losses: tuple[float, ...]
    pruned: bool


@dataclass
class RefineResult:
    """The LR to train with, found by training candidates against the validation loss.

    Attributes:
        lr: The LR to train with at a constant rate for ``planned_steps`` steps: the
            interpolated LR (else the winner's) moved by the horizon model from the last
            rung to the full length.
        winner_lr: The candidate that won at the last rung.
        interpolated_lr: Where the lowest validation loss lies between the last rung's
            survivors (``lrtune.refine._interpolate``); ``None`` when it cannot be told.
        candidates: Every candidate with its validation curve over the rungs.
        rungs: The steps at which candidates were judged.
        planned_steps: The steps of one full training run.
        budget_steps: What refine was allowed to spend (``budget * planned_steps``).
        cost_steps: What it spent: the range test's steps and every candidate's.
        range_test: The range test it started from.
        optimizer: The optimizer's name (a registry name or the class name).
        task: The task's name.
        study_name: The Optuna study it was stored as (``None`` if not stored).
        range_test_id: The stored range test's id, if stored.
    """

    lr: float
    winner_lr: float
    candidates: list[Candidate]
    rungs: tuple[int, ...]
    planned_steps: int
    budget_steps: int
    cost_steps: int
    range_test: FinderResult | None
    optimizer: str
    task: str
    interpolated_lr: float | None = None
    study_name: str | None = None
    range_test_id: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def budget(self) -> float:
        """The cost in full trainings."""
        return self.cost_steps / self.planned_steps

    def plot(self) -> Figure:
        """Validation loss against LR at each rung, the winner and the final LR marked."""
        from lrtune.report import plot_refine

        return plot_refine(self)


def result_from_study(study: optuna.Study) -> RefineResult:
    """Read a finished refine run back from its study's trials and user attributes."""
    attrs = study.user_attrs
    candidates = [candidate_of(trial) for trial in study.get_trials(deepcopy=False)]
    return RefineResult(
        lr=attrs["lr"],
        winner_lr=attrs["winner_lr"],
        candidates=sorted(candidates, key=lambda c: c.lr),
        rungs=tuple(attrs["rungs"]),
        planned_steps=attrs["planned_steps"],
        budget_steps=attrs["budget_steps"],
        cost_steps=attrs["cost_steps"],
        range_test=None,
        optimizer=attrs["optimizer"],
        task=attrs["task"],
        interpolated_lr=attrs.get("interpolated_lr"),
        study_name=study.study_name,
        range_test_id=attrs.get("range_test_id"),
        attrs=dict(attrs),
    )


def candidate_of(trial: optuna.trial.FrozenTrial) -> Candidate:
    """One trial of a refine study as a candidate (LR ``nan`` if it has none yet)."""
    from optuna.trial import TrialState

    # Optuna keeps reports by step; they may not be stored in step order.
    steps = tuple(sorted(trial.intermediate_values))
    losses = tuple(_finite_or_inf(trial.intermediate_values[step]) for step in steps)
    pruned = trial.state == TrialState.PRUNED
    lr = float(trial.params.get("lr", math.nan))
    return Candidate(lr, trial.number, steps, losses, pruned)


def _finite_or_inf(value: float) -> float:
    return value if math.isfinite(value) else math.inf
