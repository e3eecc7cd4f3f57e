"""One line of facts per stored study, for listings (``lrtune studies``, the dashboard)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lrtune._optuna import study_id_of
from lrtune.study._attrs import ATTR


def study_summaries(storage: optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """Name, task, trial counts, budget and best value of every study, newest first."""
    from lrtune.storage import study_errors

    with study_errors("Cannot list studies"):
        studies = storage.get_all_studies()
        return [_summary(storage, s) for s in reversed(studies)]


REFINE_RESULT_ATTRS = ("lr", "winner_lr", "cost_steps")
"""What ``refine_lr`` writes, one at a time, once the last rung named its winner: until
all are there the run has no result, whatever state its trials are in."""


def study_kind(user_attrs: dict[str, Any]) -> str:
    """``"study"`` (made by ``lrtune study``), ``"refine"`` (by ``refine_lr``) or ``"optuna"``."""
    if ATTR in user_attrs:
        return "study"
    return "refine" if user_attrs.get("kind") == "refine" else "optuna"


def _summary(storage: optuna.storages.BaseStorage, frozen: Any) -> dict[str, Any]:
    kind = study_kind(frozen.user_attrs)
    settings = frozen.user_attrs.get(ATTR, {})
    trials = storage.get_all_trials(study_id_of(frozen), deepcopy=False)
    budget = settings.get("n_trials")
    if kind == "refine":
        budget = len(trials)
    states = [t.state for t in trials]
    finished = sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    state = (
        refine_state(frozen.user_attrs, states)
        if kind == "refine"
        else trials_state(trials, budget)
    )
    directions = [d.name.lower() for d in frozen.directions]
    complete = [t.values for t in trials if t.state == TrialState.COMPLETE and t.values]
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    return {
        "id": study_id_of(frozen),
        "name": frozen.study_name,
        "kind": kind,
        "task": settings.get("task") or frozen.user_attrs.get("task"),
        "state": state,
        "finished": finished,
        "running": states.count(TrialState.RUNNING),
        "budget": budget,
        "best_value": _best_value(complete, directions),
        "direction": ", ".join(directions),
        "directions": directions,
        "pareto_front": len(pareto_front(complete, directions)) if len(directions) > 1 else None,
        "last_start": max(starts) if starts else None,
    }


def _best_value(values: list[list[float]], directions: list[str]) -> float | None:
    """The best objective value of a single-objective study; ``None`` for several."""
    if len(directions) != 1 or not values:
        return None
    pick = max if directions[0] == "maximize" else min
    return pick(v[0] for v in values)


def pareto_front(values: list[list[float]], directions: list[str]) -> list[int]:
    """Indices of ``values`` that no other one dominates (better or equal in every
    objective, better in one), each objective in its direction."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    points = [[s * v for s, v in zip(signs, row, strict=True)] for row in values]

    def dominated(i: int) -> bool:
        return any(
            all(o <= m for o, m in zip(other, points[i], strict=True)) and other != points[i]
            for j, other in enumerate(points)
            if j != i
        )

    return [i for i in range(len(points)) if not dominated(i)]


BETWEEN_TRIALS_S = 60.0
"""How long after its last trial ended a study with trials left to run, and none running,
still reads ``"running"``: its workers are setting up the next trial (20 s or so for the
examples). A worker shows it is alive only while a trial runs (its heartbeats); between
trials the last trial's end stands in for them, for a little longer than a worker's default
heartbeat grace period (40 s), after which a silent worker counts as gone."""


def study_state(
    states: list[TrialState],
    finished: int,
    budget: int | None,
    *,
    since_last_end: float | None = None,
) -> str:
    """``"running"`` (a trial runs now, or the budget is not met and a trial ended less
    than ``BETWEEN_TRIALS_S`` ago: ``since_last_end`` seconds), ``"finished"`` (its budget
    is met), ``"stopped"`` (trials left to run, none running) or ``"new"`` (no trial yet)."""
    if TrialState.RUNNING in states:
        return "running"
    if budget is not None and finished >= budget:
        return "finished"
    if budget is not None and _just_ended(since_last_end):
        return "running"  # between two trials
    return "stopped" if states else "new"


def _just_ended(since_last_end: float | None) -> bool:
    # A negative time is a clock ahead of this one: no sign of a live worker.
    return since_last_end is not None and 0 <= since_last_end < BETWEEN_TRIALS_S


def trials_state(
    trials: Sequence[FrozenTrial], budget: int | None, now: datetime | None = None
) -> str:
    """``study_state`` of a study with ``trials`` and a trial ``budget`` (``None``: none
    known), at ``now`` (default: now)."""
    states = [t.state for t in trials]
    finished = sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    # Optuna stores its times in UTC and reads them back as naive local time, as now() is.
    since = ((now or datetime.now()) - max(ends)).total_seconds() if ends else None
    return study_state(states, finished, budget, since_last_end=since)


def refine_state(user_attrs: dict[str, Any], states: list[TrialState]) -> str:
    """A refine run's ``study_state``: ``"finished"`` once it wrote its result (its trials
    all end a little before), else as a study without a budget."""
    if all(key in user_attrs for key in REFINE_RESULT_ATTRS):
        return "finished"
    return study_state(states, 0, None)
