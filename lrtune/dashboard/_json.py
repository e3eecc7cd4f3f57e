"""The dashboard's JSON: plain data from the study and range-test views, nothing drawn."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from optuna.trial import TrialState

from lrtune._exceptions import StudyError
from lrtune.dashboard._data import StudyView
from lrtune.dashboard._optuna_study import OPTUNA_KIND, OptunaView
from lrtune.dashboard._refine import STATUSES, CandidateRow, RefineView
from lrtune.dashboard._table import Table, TablePage
from lrtune.finder import FinderResult
from lrtune.refine import STUDY_KIND
from lrtune.report import (
    OPTIMIZER_PREFIX,
    SCHEDULE_PREFIX,
    TRIAL_COLUMNS,
    best_config,
    best_dict,
    refine_dict,
    result_dict,
)
from lrtune.storage import RangeTestSummary
from lrtune.study import has_settings, read_settings


def plain(value: Any) -> Any:
    """``value`` as strict JSON takes it: NaN and infinities become ``None``, times ISO text."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def study_json(
    view: StudyView, figure_versions: dict[str, str], drawing: list[str]
) -> dict[str, Any]:
    """A study's progress, best trial (with its PyTorch code), settings, the version of
    each figure as drawn so far (``figure_versions``: up to date when it is
    ``figures_version``, for the importances ``importances_version``) and the figures
    still being drawn at the study's state (``drawing``)."""
    summary = view.answers.get("study", lambda: _study_summary(view))  # once per state
    return {**summary, "figure_versions": figure_versions, "drawing": drawing}


def _study_summary(view: StudyView) -> dict[str, Any]:
    study = view.page.study
    trials = study.get_trials(deepcopy=False)
    counts = {state.name: 0 for state in TrialState}
    for trial in trials:
        counts[trial.state.name] += 1
    finished = counts["COMPLETE"] + counts["PRUNED"]
    settings = read_settings(study) if has_settings(study) else None
    budget = None if settings is None else settings.n_trials
    objective = view.page.objective
    return plain(
        {
            "id": view.id,
            "name": view.name,
            "version": view.version,
            "figures_version": view.figures_version,
            "importances_version": view.importances_version,
            "task": None if settings is None else settings.task,
            "state": view.state,
            "objective": objective.name,
            "direction": objective.direction,
            "budget": budget,
            "finished": finished,
            "counts": counts,
            "best": _best(view),
            "settings": None if settings is None else _settings(settings.to_dict()),
        }
    )


def trial_table(view: StudyView) -> Table:
    """The trial table of a study lrtune made: ``trials_frame``'s columns without the
    per-epoch ones (and without Optuna's own parameters, which lrtune's trials name by
    family), a row per trial."""
    records = view.page.records
    columns = [
        *TRIAL_COLUMNS,
        *(c for c in records.columns if c.startswith((OPTIMIZER_PREFIX, SCHEDULE_PREFIX))),
    ]
    rows = [[row.get(column) for column in columns] for row in records.rows]
    return Table(columns, rows, "state", TRIAL_STATES)


def optuna_trial_table(view: OptunaView) -> Table:
    """The trial table of a study lrtune did not create (``OptunaView.rows``)."""
    return Table(view.columns, view.rows, "state", TRIAL_STATES)


REFINE_TRIAL_COLUMNS = ["trial", "status", "lr", "steps", "val_loss"]


def refine_trial_table(view: RefineView) -> Table:
    """The candidate table of a refine run: where each candidate got to."""
    rows = [[row.trial, row.status, row.lr, row.last_step, row.last_loss] for row in view.rows]
    return Table(REFINE_TRIAL_COLUMNS, rows, "status", list(STATUSES.values()))


TRIAL_STATES = [state.name for state in TrialState]


def table_json(page: TablePage) -> dict[str, Any]:
    """A page of a trial table: its ``columns``, a list of values per trial in ``rows``,
    how many trials the table has (``total``) and pass its filter (``matched``), the
    query that chose them and the states its trials are in."""
    query = page.query
    return {
        "columns": page.columns,
        "rows": [_plain_row(row) for row in page.rows],
        "total": page.total,
        "matched": page.matched,
        "offset": query.offset,
        "limit": query.limit,
        "sort": query.sort,
        "order": "desc" if query.descending else "asc",
        "state": query.state,
        "q": " ".join(query.words),
        "states": page.states,
    }


def _plain_row(row: list[Any]) -> list[Any]:
    """``plain`` of each value, quickly for those it keeps as they are."""
    return [value if type(value) in _PLAIN_TYPES else plain(value) for value in row]


_PLAIN_TYPES = {str, int, bool, type(None)}
"""What ``plain`` keeps as it is (a float may be NaN, a value from NumPy its own type)."""


def optuna_json(view: OptunaView) -> dict[str, Any]:
    """A study lrtune did not create: its objectives, progress, best trial (one
    objective) or Pareto front (several: the trials' numbers), figures and attributes."""
    best = view.best
    return plain(
        {
            "id": view.id,
            "name": view.name,
            "version": view.version,
            "kind": OPTUNA_KIND,
            "task": None,
            "state": view.state,
            "objective": None if view.multi else view.objectives[0],
            "direction": ", ".join(view.directions),
            "directions": view.directions,
            "metric_names": view.metric_names,
            "objectives": view.objectives,
            "budget": None,
            "finished": view.finished,
            "counts": view.counts,
            "best": None
            if best is None
            else {"trial": best.number, "value": best.values[0], "params": best.params},
            "pareto_front": view.pareto if view.multi else None,
            "figures": view.figure_names,
            "user_attrs": view.user_attrs,
        }
    )


REFINE_ATTRS = ("task", "optimizer", "planned_steps", "budget_steps", "rungs", "range_test_id")
"""What a refine study holds from its start, before any candidate trained."""


def refine_json(view: RefineView) -> dict[str, Any]:
    """``refine_dict`` of a refine run (its ``lr``, ``winner_lr`` and ``cost_steps`` ``None``
    while it runs), with its state; each candidate also carries its status."""
    head = {"id": view.id, "name": view.name, "version": view.version, "kind": STUDY_KIND}
    body = refine_dict(view.result) if view.result is not None else _running_refine(view)
    candidates = [_candidate_json(row) for row in view.rows]
    return plain({**head, "state": view.state, **body, "candidates": candidates})


def _running_refine(view: RefineView) -> dict[str, Any]:
    return {
        "study": view.name,
        **{key: view.attrs.get(key) for key in REFINE_ATTRS},
        "lr": None,
        "winner_lr": None,
        "interpolated_lr": None,
        "cost_steps": None,
        "interval": view.attrs.get("interval"),
    }


def _candidate_json(row: CandidateRow) -> dict[str, Any]:
    return {
        "trial": row.trial,
        "lr": row.lr,
        "steps": list(row.steps),
        "val_losses": list(row.val_losses),  # plain() makes a divergence's inf None
        "pruned": row.status == "pruned",
        "status": row.status,
    }


def range_test_json(results: Sequence[FinderResult]) -> list[dict[str, Any]]:
    """Each range test of a group with its whole curve."""
    return [plain(result_dict(result, history=True)) for result in results]


def range_test_groups_json(groups: Sequence[Sequence[RangeTestSummary]]) -> list[Any]:
    """Stored range tests, newest first, grouped as run together."""
    return [[plain(asdict(summary)) for summary in group] for group in groups]


def _best(view: StudyView) -> dict[str, Any] | None:
    try:
        found = best_config(view.page.study)
    except (ValueError, StudyError):  # nothing completed yet, or not an lrtune study
        return None
    return best_dict(found)


def _settings(values: dict[str, Any]) -> dict[str, Any]:
    shown = ("epochs", "steps_per_epoch", "seed", "pruner", "sampler", "lr_margin", "source")
    return {
        **{name: values.get(name) for name in shown},
        "bounds": values.get("bounds", {}),
        "space": values.get("space", {}),
    }
