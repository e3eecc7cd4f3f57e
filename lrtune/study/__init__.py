"""Studies: an Optuna search over optimizer, schedule and their parameters, bounded by
range tests.

    study = lrtune.run_study("digits-mlp", n_trials=40, storage="sqlite:///lrtune.db")
    study.best_trial.user_attrs["config"]
"""

from lrtune.study._bounds import LR_MARGIN, LRBounds, margin_pair, run_range_tests
from lrtune.study._choices import PRUNERS, SAMPLERS
from lrtune.study._gate import FINISHED, count_finished
from lrtune.study._loop import StudyStopped, WorkerOutcome
from lrtune.study._objective import OBJECTIVES, TrialObjective
from lrtune.study._options import StudyOptions
from lrtune.study._runner import run_study
from lrtune.study._settings import ATTR, StudySettings, has_settings, read_settings
from lrtune.study._signals import StopSignals
from lrtune.study._space import DEFAULT_OPTIMIZERS, DEFAULT_SCHEDULES, SearchSpace
from lrtune.study._spec import StudySpec, load_spec, parse_spec
from lrtune.study._summary import (
    REFINE_RESULT_ATTRS,
    pareto_front,
    refine_state,
    study_kind,
    study_state,
    study_summaries,
)
from lrtune.study._warm_start import TEMPLATES, warm_start_params
from lrtune.study._worker import run_worker

__all__ = [
    "ATTR",
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
    "warm_start_params",
]
