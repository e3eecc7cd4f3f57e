"""A refine run as the dashboard shows it: what its study holds so far, finished or not.

``result_from_study`` reads a finished run; while one runs, its study has no ``lr`` yet,
so the candidates are read from the trials directly, the same way for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lrtune.refine import RefineResult, candidate_of, result_from_study
from lrtune.study import REFINE_RESULT_ATTRS, refine_state

STATUSES = {
    TrialState.COMPLETE: "winner",
    TrialState.PRUNED: "pruned",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "queued",
    TrialState.FAIL: "failed",
}
"""A candidate's status, from its trial's state: only the winner completes."""


@dataclass(frozen=True)
class CandidateRow:
    """One candidate LR and how far it got, as its trial stands now."""

    trial: int
    lr: float
    steps: tuple[int, ...]
    val_losses: tuple[float, ...]
    """``inf`` where it diverged."""
    status: str

    @property
    def last_step(self) -> int | None:
        return self.steps[-1] if self.steps else None

    @property
    def last_loss(self) -> float | None:
        return self.val_losses[-1] if self.val_losses else None

    @property
    def diverged(self) -> bool:
        return self.last_loss is not None and math.isinf(self.last_loss)


def candidate_rows(trials: list[FrozenTrial]) -> list[CandidateRow]:
    """Every candidate, in LR order (as ``RefineResult.candidates``)."""
    return sorted((_row(trial) for trial in trials), key=lambda row: (row.lr, row.trial))


def _row(trial: FrozenTrial) -> CandidateRow:
    candidate = candidate_of(trial)
    return CandidateRow(
        candidate.trial, candidate.lr, candidate.steps, candidate.val_losses, STATUSES[trial.state]
    )


@dataclass
class RefineView:
    """One state of one refine study: its attributes, candidates, result once finished,
    and the figure drawn from it so far."""

    id: int
    name: str
    version: str
    attrs: dict[str, Any]
    rows: list[CandidateRow]
    result: RefineResult | None
    """``None`` while it runs (its study lacks ``lr`` or another of ``REFINE_RESULT_ATTRS``)."""
    state: str
    """``"finished"``, ``"running"`` (a candidate trains now), ``"stopped"`` or ``"new"``,
    as the overview says (``refine_state``)."""
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def interval(self) -> tuple[float, float] | None:
        """The LRs searched: the range test's interval."""
        interval = self.attrs.get("interval")
        return (float(interval[0]), float(interval[1])) if interval else None

    @property
    def winner(self) -> CandidateRow | None:
        """The candidate that won the last rung (``None`` until one did)."""
        return next((row for row in self.rows if row.status == "winner"), None)

    @property
    def winner_step(self) -> int | None:
        """The rung the winner won at: the last one."""
        return self.result.rungs[-1] if self.result is not None else None

    @property
    def winner_share(self) -> float | None:
        """How much of a full training the winner had trained when it won."""
        return _ratio(self.winner_step, self.attrs.get("planned_steps"))

    @property
    def budget_trainings(self) -> float | None:
        """The budget in full trainings."""
        return _ratio(self.attrs.get("budget_steps"), self.attrs.get("planned_steps"))

    @property
    def cost_trainings(self) -> float | None:
        """What the run spent, in full trainings (its range test included)."""
        return self.result.budget if self.result is not None else None

    def figure(self, draw: Callable[[RefineResult], bytes]) -> bytes | None:
        """The refine figure (``None`` until the run has finished), drawn once per state."""
        if self.result is None:
            return None
        if "refine" not in self.figures:
            self.figures["refine"] = draw(self.result)
        return self.figures["refine"]


def refine_view(study_id: int, version: str, study: optuna.Study) -> RefineView:
    """The view of refine study ``study`` as it stands."""
    attrs = dict(study.user_attrs)
    trials = study.get_trials(deepcopy=False)
    written = all(key in attrs for key in REFINE_RESULT_ATTRS)
    result = result_from_study(study) if written else None
    state = refine_state(attrs, [trial.state for trial in trials])
    return RefineView(
        study_id, study.study_name, version, attrs, candidate_rows(trials), result, state
    )


def _ratio(steps: Any, planned: Any) -> float | None:
    if isinstance(steps, int | float) and isinstance(planned, int | float) and planned > 0:
        return steps / planned
    return None
