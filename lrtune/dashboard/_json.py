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
from lrtune.dashboard._refine import CandidateRow, RefineView
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


def trials_json(view: StudyView) -> dict[str, Any]:
    """The trial table: ``trials_frame``'s columns without the per-epoch ones, and one
    list of values per trial in ``rows``."""
    frame = view.page.frame
    columns = [
        *TRIAL_COLUMNS,
        *(c for c in frame.columns if c.startswith((OPTIMIZER_PREFIX, SCHEDULE_PREFIX))),
    ]
    shown = [_plain_column(frame[column]) for column in columns]
    return {"columns": columns, "rows": [list(row) for row in zip(*shown, strict=True)]}


def _plain_column(column: pd.Series) -> list[Any]:
    """``plain`` of each value of ``column``, a column at a time: a cell at a time is most
    of a big study's table (10,000 trials, 20 columns)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype) and column.dt.tz is None:
        shown = np.datetime_as_string(column.to_numpy(), unit="s")  # ISO, to the second
        return [None if text == "NaT" else text for text in shown.tolist()]
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return _nones(column.dt.strftime("%Y-%m-%dT%H:%M:%S"))
    if pd.api.types.is_float_dtype(column.dtype):
        numbers = column.to_numpy(np.float64, na_value=np.nan)
        finite = np.isfinite(numbers).tolist()
        return [n if ok else None for n, ok in zip(numbers.tolist(), finite, strict=True)]
    values = _nones(column)
    if set(map(type, values)) <= _PLAIN_TYPES:
        return values
    return [plain(value) for value in values]  # whatever else the trials stored


_PLAIN_TYPES = {str, int, bool, type(None)}
"""What ``plain`` keeps as it is (a float may be NaN, a value from NumPy its own type)."""


def _nones(column: pd.Series) -> list[Any]:
    """``column``'s values, ``None`` where missing."""
    missing = column.isna().to_numpy().tolist()
    values = column.to_numpy(object).tolist()
    return [None if gone else value for value, gone in zip(values, missing, strict=True)]


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


def optuna_trials_json(view: OptunaView) -> dict[str, Any]:
    """The trial table of a study lrtune did not create, shaped as ``trials_json``'s."""
    return {"columns": view.columns, "rows": plain(view.rows)}


REFINE_ATTRS = ("task", "optimizer", "planned_steps", "budget_steps", "rungs", "range_test_id")
"""What a refine study holds from its start, before any candidate trained."""

REFINE_TRIAL_COLUMNS = ["trial", "status", "lr", "steps", "val_loss"]


def refine_json(view: RefineView) -> dict[str, Any]:
    """``refine_dict`` of a refine run (its ``lr``, ``winner_lr`` and ``cost_steps`` ``None``
    while it runs), with its state; each candidate also carries its status."""
    head = {"id": view.id, "name": view.name, "version": view.version, "kind": STUDY_KIND}
    body = refine_dict(view.result) if view.result is not None else _running_refine(view)
    candidates = [_candidate_json(row) for row in view.rows]
    return plain({**head, "state": view.state, **body, "candidates": candidates})


def refine_trials_json(view: RefineView) -> dict[str, Any]:
    """The candidate table, shaped as ``trials_json``'s: where each candidate got to."""
    rows = [[row.trial, row.status, row.lr, row.last_step, row.last_loss] for row in view.rows]
    return {"columns": REFINE_TRIAL_COLUMNS, "rows": plain(rows)}


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
