"""One line of facts per stored study, for listings (``lrtune studies``, the dashboard).

A listing is built from each study's ``StudyFacts``: read with plain SQL on Optuna's tables
(``lrtune.storage.study_facts``, no Optuna imported), or from an Optuna storage that has
no tables to read (the gRPC proxy: ``study_summaries``). Both give the same lines.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from lrtune.storage import StudyFacts
from lrtune.study._attrs import ATTR

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial, TrialState

FINISHED_STATES = ("COMPLETE", "PRUNED")
"""The states of a trial that counts against the budget (by name, as stored)."""


def study_summaries(storage: optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """``summaries`` of every study in an Optuna storage, read through it."""
    from lrtune.storage import study_errors

    with study_errors("Cannot list studies"):
        return summaries([_facts(storage, s) for s in storage.get_all_studies()])


def summaries(
    facts: Sequence[StudyFacts], now: datetime.datetime | None = None
) -> list[dict[str, Any]]:
    """Name, task, trial counts, budget and best value of every study, newest first, at
    ``now`` (naive UTC; default: now)."""
    now = now or _utc_now()
    return [_summary(f, now) for f in reversed(facts)]


REFINE_RESULT_ATTRS = ("lr", "winner_lr", "cost_steps")
"""What ``refine_lr`` writes, one at a time, once the last rung named its winner: until
all are there the run has no result, whatever state its trials are in."""


def study_kind(user_attrs: dict[str, Any]) -> str:
    """``"study"`` (made by ``lrtune study``), ``"refine"`` (by ``refine_lr``) or ``"optuna"``."""
    if ATTR in user_attrs:
        return "study"
    return "refine" if user_attrs.get("kind") == "refine" else "optuna"


def _facts(storage: optuna.storages.BaseStorage, frozen: Any) -> StudyFacts:
    """``StudyFacts`` of a study read through Optuna (its times back in naive UTC)."""
    from optuna.trial import TrialState

    from lrtune._optuna import study_id_of

    study_id = study_id_of(frozen)
    trials = storage.get_all_trials(study_id, deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return StudyFacts(
        id=study_id,
        name=frozen.study_name,
        directions=[d.name.lower() for d in frozen.directions],
        user_attrs=dict(frozen.user_attrs),
        counts=dict(Counter(t.state.name for t in trials)),
        last_start=_utc(max(starts)) if starts else None,
        last_end=_utc(max(ends)) if ends else None,
        complete_values=[
            list(t.values) for t in trials if t.state == TrialState.COMPLETE and t.values
        ],
    )


def _summary(facts: StudyFacts, now: datetime.datetime) -> dict[str, Any]:
    attrs, counts, directions = facts.user_attrs, facts.counts, facts.directions
    kind = study_kind(attrs)
    settings = attrs.get(ATTR, {})
    budget = sum(counts.values()) if kind == "refine" else settings.get("n_trials")
    finished = _finished(counts)
    since = None if facts.last_end is None else (now - facts.last_end).total_seconds()
    if kind == "refine":
        state = _refine_state(attrs, counts)
    else:
        state = _state(counts, finished, budget, since)
    values = facts.complete_values
    return {
        "id": facts.id,
        "name": facts.name,
        "kind": kind,
        "task": settings.get("task") or attrs.get("task"),
        "state": state,
        "finished": finished,
        "running": counts.get("RUNNING", 0),
        "budget": budget,
        "best_value": _best_value(values, directions),
        "direction": ", ".join(directions),
        "directions": directions,
        "pareto_front": len(pareto_front(values, directions)) if len(directions) > 1 else None,
        "last_start": None if facts.last_start is None else _local(facts.last_start),
    }


def _finished(counts: dict[str, int]) -> int:
    """How many trials count against the budget, of ``counts`` by state name."""
    return sum(counts.get(name, 0) for name in FINISHED_STATES)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _utc(local: datetime.datetime) -> datetime.datetime:
    """A naive local time (as Optuna reads its times back) as naive UTC."""
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _local(utc: datetime.datetime) -> datetime.datetime:
    """A naive UTC time as naive local time, as Optuna reads its times back."""
    return utc.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)


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
    states: Collection[TrialState],
    finished: int,
    budget: int | None,
    *,
    since_last_end: float | None = None,
) -> str:
    """``"running"`` (a trial runs now, or the budget is not met and a trial ended less
    than ``BETWEEN_TRIALS_S`` ago: ``since_last_end`` seconds), ``"finished"`` (its budget
    is met), ``"stopped"`` (trials left to run, none running) or ``"new"`` (no trial yet)."""
    return _state(Counter(s.name for s in states), finished, budget, since_last_end)


def _state(
    counts: dict[str, int], finished: int, budget: int | None, since_last_end: float | None
) -> str:
    """``study_state`` of a study with ``counts`` trials by state name."""
    if counts.get("RUNNING", 0):
        return "running"
    if budget is not None and finished >= budget:
        return "finished"
    if budget is not None and _just_ended(since_last_end):
        return "running"  # between two trials
    return "stopped" if any(counts.values()) else "new"


def _just_ended(since_last_end: float | None) -> bool:
    # A negative time is a clock ahead of this one: no sign of a live worker.
    return since_last_end is not None and 0 <= since_last_end < BETWEEN_TRIALS_S


def trials_state(
    trials: Sequence[FrozenTrial], budget: int | None, now: datetime.datetime | None = None
) -> str:
    """``study_state`` of a study with ``trials`` and a trial ``budget`` (``None``: none
    known), at ``now`` (naive local time, as Optuna reads its times; default: now)."""
    counts = Counter(t.state.name for t in trials)
    finished = _finished(counts)
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    # Optuna stores its times in UTC and reads them back as naive local time, as now() is.
    since = ((now or datetime.datetime.now()) - max(ends)).total_seconds() if ends else None
    return _state(counts, finished, budget, since)


def refine_state(user_attrs: dict[str, Any], states: Collection[TrialState]) -> str:
    """A refine run's ``study_state``: ``"finished"`` once it wrote its result (its trials
    all end a little before), else as a study without a budget."""
    return _refine_state(user_attrs, Counter(s.name for s in states))


def _refine_state(user_attrs: dict[str, Any], counts: dict[str, int]) -> str:
    if all(key in user_attrs for key in REFINE_RESULT_ATTRS):
        return "finished"
    return _state(counts, 0, None, None)
