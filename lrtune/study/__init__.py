"""Studies: an Optuna search over optimizer, schedule and their parameters, bounded by
range tests.

    study = lrtune.run_study("digits-mlp", n_trials=40, storage="sqlite:///lrtune.db")
    study.best_trial.user_attrs["config"]

Everything loads on first use, so that listing studies (``lrtune studies``, the dashboard)
imports Optuna but not torch, which defines and runs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrtune._lazy import homes_by_module as _homes_by_module
from lrtune._lazy import lazy_attributes as _lazy_attributes
from lrtune.study._attrs import ATTR

if TYPE_CHECKING:
    from lrtune.study._bounds import LR_MARGIN, LRBounds, margin_pair, run_range_tests
    from lrtune.study._choices import PRUNERS, SAMPLERS
    from lrtune.study._gate import FINISHED, count_finished
    from lrtune.study._loop import StudyStopped, WorkerOutcome
    from lrtune.study._objective import OBJECTIVES, TrialObjective
    from lrtune.study._options import StudyOptions
    from lrtune.study._runner import run_study
    from lrtune.study._settings import StudySettings, has_settings, read_settings
    from lrtune.study._signals import StopSignals
    from lrtune.study._space import DEFAULT_OPTIMIZERS, DEFAULT_SCHEDULES, SearchSpace
    from lrtune.study._spec import StudySpec, load_spec, parse_spec
    from lrtune.study._summary import (
        BETWEEN_TRIALS_S,
        REFINE_RESULT_ATTRS,
        pareto_front,
        refine_state,
        study_kind,
        study_state,
        study_summaries,
        summaries,
        trials_state,
    )
    from lrtune.study._warm_start import TEMPLATES, warm_start_params
    from lrtune.study._worker import run_worker

_LAZY = {
    "_bounds": ("LR_MARGIN", "LRBounds", "margin_pair", "run_range_tests"),
    "_choices": ("PRUNERS", "SAMPLERS"),
    "_gate": ("FINISHED", "count_finished"),
    "_loop": ("StudyStopped", "WorkerOutcome"),
    "_objective": ("OBJECTIVES", "TrialObjective"),
    "_options": ("StudyOptions",),
    "_runner": ("run_study",),
    "_settings": ("StudySettings", "has_settings", "read_settings"),
    "_signals": ("StopSignals",),
    "_space": ("DEFAULT_OPTIMIZERS", "DEFAULT_SCHEDULES", "SearchSpace"),
    "_spec": ("StudySpec", "load_spec", "parse_spec"),
    "_summary": (
        "BETWEEN_TRIALS_S",
        "REFINE_RESULT_ATTRS",
        "pareto_front",
        "refine_state",
        "study_kind",
        "study_state",
        "study_summaries",
        "summaries",
        "trials_state",
    ),
    "_warm_start": ("TEMPLATES", "warm_start_params"),
    "_worker": ("run_worker",),
}
__getattr__ = _lazy_attributes(__name__, _homes_by_module(__name__, _LAZY))

__all__ = [
    "ATTR",
    "BETWEEN_TRIALS_S",
    "DEFAULT_OPTIMIZERS",
    "DEFAULT_SCHEDULES",
    "FINISHED",
    "LR_MARGIN",
    "OBJECTIVES",
    "PRUNERS",
    "REFINE_RESULT_ATTRS",
    "SAMPLERS",
    "TEMPLATES",
    "LRBounds",
    "SearchSpace",
    "StopSignals",
    "StudyOptions",
    "StudySettings",
    "StudySpec",
    "StudyStopped",
    "TrialObjective",
    "WorkerOutcome",
    "count_finished",
    "has_settings",
    "load_spec",
    "margin_pair",
    "pareto_front",
    "parse_spec",
    "read_settings",
    "refine_state",
    "run_range_tests",
    "run_study",
    "run_worker",
    "study_kind",
    "study_state",
    "study_summaries",
    "summaries",
    "trials_state",
    "warm_start_params",
]
